import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { openKafkaLog } from '../shared/log/kafka-log.js';
import { schemaHeader, schemaVersionHeader } from '../shared/log/kafka-record-decoder.js';
import { captureKind, type LogEntry, type RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { kafkaBrokers, randomName } from './helpers/kafka-env.js';
import { sampleCapture } from './helpers/sample-records.js';

const brokers = kafkaBrokers();
const kafka = new Kafka({ clientId: 'shadowtap-test', brokers, logLevel: logLevel.NOTHING });
const producer = kafka.producer();
const openLogs: RecordLog<Capture>[] = [];
const day = 24 * 3600_000;

after(async () => {
  await Promise.all(openLogs.map((log) => log.close()));
  await producer.disconnect();
});

async function openCaptures(partitions: number): Promise<RecordLog<Capture>> {
  const log = await openKafkaLog(captureKind, { brokers, topicPrefix: `${randomName('window-time')}.`, partitions, clientId: 'shadowtap-test' });
  openLogs.push(log);
  return log;
}

const capture = (id: string, captureMs: number) => sampleCapture({ id, captureTime: captureMs * 1000, timings: { start: captureMs * 1000, firstByte: null, end: null } });

/** Appends captures as an importer does: each record's Kafka timestamp is when it was appended, whatever its capture time. */
async function appendAt(topic: string, appendMs: number, records: Capture[]): Promise<void> {
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: records.map((record) => ({
      key: record.id,
      value: captureKind.codec.encode(record),
      timestamp: String(appendMs),
      headers: { [schemaHeader]: captureKind.codec.name, [schemaVersionHeader]: String(captureKind.codec.version) },
    })),
  });
}

async function collect(iterable: AsyncIterable<LogEntry<Capture>>): Promise<LogEntry<Capture>[]> {
  const entries: LogEntry<Capture>[] = [];
  for await (const entry of iterable) entries.push(entry);
  return entries;
}

const ids = (entries: LogEntry<Capture>[]) => entries.map((entry) => entry.value.id).sort();

describe('Kafka windows select by the time in the record, not the Kafka timestamp', () => {
  test('a recording imported ten days after it was made is read by its original window, with its capture times', async () => {
    const log = await openCaptures(3);
    const now = Date.now();
    const fromMs = now - 10 * day;
    const toMs = fromMs + 60_000;
    // Live traffic of the last days, appended as it was captured, then the import of the old recording today.
    await appendAt(log.name, now - 5 * day, [capture('live-5d', now - 5 * day)]);
    await appendAt(log.name, now - 60_000, [capture('live-recent', now - 60_000)]);
    await appendAt(log.name, now, [
      capture('imported-before', fromMs - 1),
      capture('imported-first', fromMs),
      capture('imported-middle', fromMs + 30_000),
      capture('imported-last', toMs - 1),
      capture('imported-after', toMs),
    ]);
    await appendAt(log.name, now + 1000, [capture('live-now', now)]);

    const entries = await collect(log.read({ fromMs, toMs }));

    assert.deepEqual(ids(entries), ['imported-first', 'imported-last', 'imported-middle']);
    for (const entry of entries) assert.equal(entry.timestampMs, Math.floor(entry.value.captureTime / 1000), 'the entry carries the capture time');
    // The live records of the last days are read by their own windows, beside the import.
    assert.deepEqual(ids(await collect(log.read({ fromMs: now - 6 * day, toMs: now - 4 * day }))), ['live-5d']);
    assert.deepEqual(ids(await collect(log.read({ fromMs: now - 120_000 }))), ['live-now', 'live-recent']);
  });

  test('a window resumed by its group after a commit goes on past the committed records', async () => {
    const log = await openCaptures(1);
    const group = randomName('window-time-group');
    const now = Date.now();
    const fromMs = now - 10 * day;
    await appendAt(log.name, now, [capture('a', fromMs + 1), capture('b', fromMs + 2), capture('c', fromMs + 3)]);

    const first = await collect(log.read({ fromMs, toMs: fromMs + 10, group }));
    assert.deepEqual(ids(first), ['a', 'b', 'c']);
    await log.commit(group, [first.find((entry) => entry.value.id === 'b')!.position]);

    assert.deepEqual(ids(await collect(log.read({ fromMs, toMs: fromMs + 10, group }))), ['c']);
  });

  test('a follow with --from skips imported records captured before it, though appended after', async () => {
    // One partition, so the last record appended is the last one judged.
    const log = await openCaptures(1);
    const now = Date.now();
    const fromMs = now - 2 * day;
    await appendAt(log.name, now, [capture('old-import', now - 3 * day), capture('in-window-import', now - day), capture('live', now)]);
    const abort = new AbortController();
    const received: LogEntry<Capture>[] = [];

    for await (const entry of log.read({ follow: true, fromMs, group: randomName('window-time-follow'), signal: abort.signal })) {
      received.push(entry);
      if (entry.value.id === 'live') abort.abort();
    }

    assert.deepEqual(ids(received), ['in-window-import', 'live']);
    assert.equal(received[0]!.timestampMs, now - day);
  });
});
