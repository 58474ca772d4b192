import { test } from 'node:test';
import { runPipeline } from '../demo/pipeline.js';
import { kafkaBrokers, randomName } from './helpers/kafka-env.js';
import { assertEachIdOnce, assertSeededDifferencesOnly } from './helpers/pipeline-assertions.js';

test('end to end on real Kafka: capture → replay → diff finds exactly the seeded differences', async () => {
  const log = { brokers: kafkaBrokers(), topicPrefix: `${randomName('e2e')}.`, partitions: 3 };
  const startMs = Date.now();
  const run = await runPipeline({ log, requests: 300, group: randomName('e2e-group') });
  assertSeededDifferencesOnly(run);
  await assertEachIdOnce(run, log, startMs);
});
