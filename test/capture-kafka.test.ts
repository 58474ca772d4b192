import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { startCaptureServer } from '../index.js';
import { openLog } from '../index.js';
import { captureKind, type RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { rawRequest, silentLogger, startHttpServer, waitFor, type TestServer } from './helpers/capture-helpers.js';
import { randomName, rawMessages } from './helpers/kafka-env.js';
import { startKafkaBroker, type KafkaBroker } from './kafka/broker.js';

// This file kills its broker mid-test, so it starts its own instead of sharing KAFKA_BROKERS.
let broker: KafkaBroker;
let stable: TestServer;

before(async () => {
  broker = await startKafkaBroker();
  stable = await startHttpServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url })));
  });
});

after(async () => {
  await stable?.close();
  await broker?.stop();
});

/** Every message of a topic, read with a plain kafkajs consumer up to the high watermarks. */
async function topicMessages(brokers: string, topic: string): Promise<KafkaMessage[]> {
  const kafka = new Kafka({ clientId: 'capture-kafka-test', brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const messages = await rawMessages(topic, total, [brokers]);
  assert.equal(messages.length, total);
  return messages;
}

test('the broker killed and restarted while requests flow: no client notices, and every request is in the topic exactly once', { timeout: 180_000 }, async () => {
  const topicPrefix = `${randomName('capture-outage')}.`;
  const sink: RecordLog<Capture> = await openLog(captureKind, { brokers: [broker.brokers], topicPrefix, partitions: 3 });
  const proxy = await startCaptureServer({
    port: 0,
    upstream: stable.url,
    sink,
    logger: silentLogger,
    queue: { retryMinMs: 50, retryMaxMs: 500 },
  });
  const sent: string[] = [];
  const failures: string[] = [];
  let sending = true;
  // Four clients in a loop, each request with an id of its own, until told to stop.
  const clients = Array.from({ length: 4 }, async (_, client) => {
    for (let i = 0; sending; i++) {
      const id = `outage-${client}-${i}`;
      sent.push(id);
      const res = await rawRequest(proxy.url, { path: `/orders/${i}`, headers: { 'x-request-id': id } }).catch((error: Error) => ({
        status: 0,
        body: Buffer.from(error.message),
      }));
      if (res.status !== 200 || res.body.toString() !== JSON.stringify({ path: `/orders/${i}` })) failures.push(`${id}: ${res.status} ${res.body}`);
    }
  });
  try {
    await waitFor(() => proxy.metrics.delivered >= 50, 'captures delivered before the outage', 30_000);
    await broker.kill();
    const sentAtKill = sent.length;
    const deliveredAtKill = proxy.metrics.delivered;
    await waitFor(() => proxy.metrics.logErrors > 0 && sent.length >= sentAtKill + 100, 'failed appends while requests go on', 60_000);
    await broker.start();
    const sentAtRestart = sent.length;
    await waitFor(() => proxy.metrics.delivered > deliveredAtKill && sent.length >= sentAtRestart + 100, 'delivery again, and requests after the restart', 60_000);
  } finally {
    sending = false;
    await Promise.all(clients);
  }
  await waitFor(() => proxy.metrics.recorded === sent.length && proxy.metrics.delivered === sent.length, 'every capture delivered', 60_000);
  await proxy.close();
  await sink.close();

  assert.deepEqual(failures, [], 'no client request failed');
  assert.equal(proxy.metrics.dropped, 0);
  assert.ok(proxy.metrics.logErrors > 0, 'the outage was seen by the agent');
  const ids = (await topicMessages(broker.brokers, `${topicPrefix}captures`)).map((m) => captureKind.codec.decode(m.value!).clientRequestId!);
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  assert.deepEqual([...counts].filter(([, n]) => n > 1), [], 'no request is in the topic twice');
  assert.deepEqual([...counts.keys()].sort(), [...sent].sort(), 'every request is in the topic');
});
