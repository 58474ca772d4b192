import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { openLog } from '../index.js';
import { captureKind, type LogEntry } from '../shared/log/record-log.js';
import { captureCodec } from '../shared/records/codec.js';
import { encodeFramed } from '../shared/records/schema-registry.js';
import type { Capture } from '../shared/records/types.js';
import { startFakeSchemaRegistry, type FakeSchemaRegistry } from './helpers/fake-schema-registry.js';
import { kafkaBrokers, randomName } from './helpers/kafka-env.js';
import { sampleCapture } from './helpers/sample-records.js';

let registry: FakeSchemaRegistry;
before(async () => (registry = await startFakeSchemaRegistry()));
after(() => registry.close());

async function collect(iterable: AsyncIterable<LogEntry<Capture>>): Promise<string[]> {
  const ids: string[] = [];
  for await (const entry of iterable) ids.push(entry.value.id);
  return ids.sort();
}

test('with --schema-registry, records go to Kafka in the Confluent wire format and come back, also from other producers', async () => {
  const brokers = kafkaBrokers();
  const topicPrefix = `${randomName('registry')}.`;
  const topic = `${topicPrefix}captures`;
  const log = await openLog(captureKind, { brokers, topicPrefix, partitions: 2, schemaRegistry: registry.url });
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: randomName('raw') });
  const producer = kafka.producer();
  try {
    assert.deepEqual(registry.requests, [`POST /subjects/${encodeURIComponent(topic)}-value/versions`], 'the schema is registered once, at open');
    const schemaId = registry.schemas.indexOf(JSON.stringify(captureCodec.type.schema())) + 1;
    assert.ok(schemaId > 0);
    await log.append([sampleCapture({ id: 'a' }), sampleCapture({ id: 'b' })]);

    const raw: Buffer[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void raw.push(message.value!) });
    const deadline = Date.now() + 30_000;
    while (raw.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(raw.length, 2);
    for (const value of raw) {
      assert.equal(value[0], 0, 'magic byte');
      assert.equal(value.readUInt32BE(1), schemaId, 'registered schema id');
    }

    // Another producer (say, a Kafka Connect pipeline) writes framed records with no shadowtap headers.
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'c', value: encodeFramed(schemaId, captureCodec.encode(sampleCapture({ id: 'c' }))) }] });
    assert.deepEqual(await collect(log.read()), ['a', 'b', 'c']);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await log.close();
  }
});

test('an unreachable schema registry is one clear error at open', async () => {
  await assert.rejects(
    openLog(captureKind, { brokers: kafkaBrokers(), topicPrefix: `${randomName('registry')}.`, schemaRegistry: 'http://127.0.0.1:9' }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ST_LOG_UNREACHABLE');
      assert.match(error.message, /schema registry http:\/\/127\.0\.0\.1:9/);
      return true;
    },
  );
});
