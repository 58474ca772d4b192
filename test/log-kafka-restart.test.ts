import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ShadowtapError } from '../shared/errors.js';
import { openKafkaLog } from '../shared/log/kafka-log.js';
import { captureKind, type LogEntry, type RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { randomName } from './helpers/kafka-env.js';
import { startKafkaBroker, type KafkaBroker } from './kafka/broker.js';
import { sampleCapture } from './helpers/sample-records.js';
import { waitFor as waitForCondition } from './helpers/wait-for.js';

// This file stops a broker mid-test, so it starts its own instead of sharing KAFKA_BROKERS.
let broker: KafkaBroker;
let log: RecordLog<Capture>;

before(async () => {
  broker = await startKafkaBroker();
  log = await openKafkaLog(captureKind, {
    brokers: [broker.brokers],
    topicPrefix: `${randomName('restart')}.`,
    partitions: 3,
    clientId: 'shadowtap-test',
  });
});

after(async () => {
  await log?.close();
  await broker?.stop();
});

const captures = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => sampleCapture({ id: `${prefix}-${i}`, captureTime: Date.now() * 1000 }));


test('a broker outage fails appends as retriable ST_LOG_UNREACHABLE, and a follow read carries on once it is back', { timeout: 120_000 }, async () => {
  const abort = new AbortController();
  const received: LogEntry<Capture>[] = [];
  const reader = (async () => {
    for await (const entry of log.read({ follow: true, signal: abort.signal })) received.push(entry);
  })();
  const before = captures('before', 5);
  const afterRestart = captures('after', 5);
  try {
    await log.append(before);
    await waitFor(() => received.length === 5, 'the records written before the outage');

    await broker.kill();
    await assert.rejects(log.append(captures('lost', 1)), (error: unknown) => {
      assert.ok(error instanceof ShadowtapError);
      assert.equal(error.code, 'ST_LOG_UNREACHABLE', error.message);
      assert.equal(error.retriable, true);
      assert.ok(error.message.includes(broker.brokers), error.message);
      return true;
    });
    await broker.start();
    await log.append(afterRestart);
    await waitFor(() => received.some((entry) => entry.value.id === 'after-4') && received.length >= 10, 'the records written after the restart');
  } finally {
    abort.abort();
    await reader;
  }

  const ids = received.map((entry) => entry.value.id);
  assert.deepEqual(ids.sort(), [...before, ...afterRestart].map((capture) => capture.id).sort());
});

/** Kafka reacts in seconds, not milliseconds: a longer default wait. */
function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  return waitForCondition(condition, what, 45_000);
}
