import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openKafkaLog } from '../shared/log/kafka-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { packageRoot } from '../shared/package-root.js';
import { readAll } from './helpers/capture-helpers.js';
import { kafkaBrokers, randomName } from './helpers/kafka-env.js';
import { runCli } from './helpers/run-cli.js';

test('Kafka appends work when node runs with V8 flags that worker threads refuse (--max-old-space-size)', async () => {
  const brokers = kafkaBrokers();
  const topicPrefix = `${randomName('node-flags')}.`;
  const har = join(packageRoot(), 'test', 'fixtures', 'capture', 'sample.har');
  const run = await runCli(['import', 'har', har, '--brokers', brokers.join(','), '--topic-prefix', topicPrefix], {
    nodeArgs: ['--max-old-space-size=512', '--max-semi-space-size=16'],
  });
  assert.equal(run.code, 0, run.stderr);
  const imported = Number(/imported (\d+) captures/.exec(run.stdout)?.[1]);
  assert.ok(imported > 0, run.stdout);
  const log = await openKafkaLog(captureKind, { brokers, topicPrefix, partitions: 1, clientId: 'node-flags-test' });
  try {
    assert.equal((await readAll(log)).length, imported);
  } finally {
    await log.close();
  }
});
