import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import kafkajs, { Kafka, logLevel } from 'kafkajs';
import { ShadowtapError } from '../shared/errors.js';
import { openKafkaLog } from '../shared/log/kafka-log.js';
import { captureKind, type RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { kafkaBrokers, randomName, rawMessages } from './helpers/kafka-env.js';
import { sampleCapture } from './helpers/sample-records.js';

const brokers = kafkaBrokers();
const kafka = new Kafka({ clientId: 'shadowtap-test', brokers, logLevel: logLevel.NOTHING });
const logs: RecordLog<Capture>[] = [];
after(() => Promise.all(logs.map((log) => log.close())));
const hourMs = 3_600_000;

async function open(topicPrefix: string, retentionMs?: number): Promise<RecordLog<Capture>> {
  const log = await openKafkaLog(captureKind, { brokers, topicPrefix, partitions: 3, clientId: 'shadowtap-test', retentionMs });
  logs.push(log);
  return log;
}

async function retentionOf(topic: string): Promise<string | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }], includeSynonyms: false });
    return resources[0]?.configEntries[0]?.configValue;
  } finally {
    await admin.disconnect();
  }
}

test('topics are created with the retention asked for; an existing topic that keeps records for less is refused in one line', async () => {
  const prefix = `${randomName('retention')}.`;
  const log = await open(prefix, 2 * hourMs);
  assert.equal(await retentionOf(log.name), String(2 * hourMs));
  await open(prefix, hourMs);
  await open(prefix);
  await assert.rejects(open(prefix, 48 * hourMs), (error: unknown) => {
    assert.ok(error instanceof ShadowtapError);
    assert.equal(error.code, 'ST_USAGE');
    assert.match(error.message, new RegExp(`^topic ${log.name.replace(/\./g, '\\.')} keeps records for 2h, less than --retention 2d: raise it \\(kafka-configs\\.sh .*retention\\.ms=${48 * hourMs}\\) or give a shorter --retention$`));
    return true;
  });
  await assert.rejects(open(prefix, -1), /keeps records for 2h, less than --retention for ever/);
});

test('a window starting before what the topic still holds is told in one line', async () => {
  const log = await open(`${randomName('retention')}.`, hourMs);
  const oldMs = Date.now() - 3 * hourMs;
  await log.append(Array.from({ length: 6 }, (_, i) => sampleCapture({ id: `old-${i}`, captureTime: (oldMs + i) * 1000 })));
  const warnings: string[] = [];
  const read = async (fromMs: number) => {
    for await (const entry of log.read({ fromMs, onWarning: (message) => warnings.push(message) })) void entry;
  };
  await read(oldMs);
  assert.deepEqual(warnings, [], 'nothing deleted yet: nothing to say');
  // What the broker's retention does to old segments, done at once: the low watermarks move.
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(log.name);
    await admin.deleteTopicRecords({ topic: log.name, partitions: offsets.map(({ partition, high }) => ({ partition, offset: high })) });
  } finally {
    await admin.disconnect();
  }
  await read(Date.now() - 10 * 60_000);
  assert.deepEqual(warnings, [], 'a window inside the retention is not warned about');
  await read(oldMs);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, new RegExp(`^${log.name.replace(/\./g, '\\.')} keeps records for 1h and has deleted older ones: the window from .* may miss records appended before .* \\(see --retention\\)$`));
});

test('records are stamped with the time they are appended, so an old recording imported now is not taken for old by retention', async () => {
  const log = await open(`${randomName('retention')}.`, hourMs);
  const capturedMs = Date.now() - 10 * 24 * hourMs;
  const before = Date.now();
  await log.append([sampleCapture({ id: 'ten-days-old', captureTime: capturedMs * 1000 })]);
  const [message] = await rawMessages(log.name, 1);
  assert.ok(Number(message!.timestamp) >= before, `Kafka timestamp ${message!.timestamp} is the append time, not the capture time ${capturedMs}`);
  const entries = [];
  for await (const entry of log.read({ fromMs: capturedMs - 1000, toMs: capturedMs + 1000 })) entries.push(entry);
  assert.deepEqual(entries.map((e) => [e.value.id, e.timestampMs]), [['ten-days-old', capturedMs]], 'windows select by the capture time in the record');
});
