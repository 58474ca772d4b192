import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, type KafkaMessage } from 'kafkajs';
import { openFileLog } from '../shared/log/file-log.js';
import { decodeFetchResponse, leanFetch, RecordCursor, recordBatches, batchRecords, type FetchBroker } from '../shared/log/kafka-fetch-decoder.js';
import { kafkaClientConfig } from '../shared/log/kafka-client-config.js';
import { kafkaReadLimits } from '../shared/log/kafka-read-limits.js';
import { recordDecoder } from '../shared/log/kafka-record-decoder.js';
import { createCluster, readCommitted } from '../shared/log/kafkajs-cluster.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind, type RecordLog } from '../shared/log/record-log.js';
import { benchKafka, fill } from './fixtures.js';

/**
 * The Kafka read path per record, in one process and one run:
 *   decode  = the same fetch responses (captured once, 64 KiB a partition fetch as a read asks)
 *             decoded by kafkajs 2.2 (its fetch response decoder and consumer Batch: the path
 *             before the lean decoder) and by the lean decoder, each record then Avro-decoded
 *             by the same record decoder: µs a record, alternated rounds;
 *   read    = a whole window read (`log.read({ fromMs, toMs })` drained) from Kafka and from the
 *             file log: µs a record.
 *   node dist/bench/kafka-fetch-decode.js      (BENCH_CAPTURES=N, BENCH_ROUNDS=N; default 200000 and 3)
 */
const require = createRequire(import.meta.url);
const count = Number(process.env.BENCH_CAPTURES ?? 200_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const kafkajsFetchV11 = require('kafkajs/src/protocol/requests/fetch/v11/response.js') as { decode(payload: Buffer): Promise<{ responses: Array<{ partitions: unknown[] }> }> };
const Batch = require('kafkajs/src/consumer/batch.js') as new (topic: string, fetchedOffset: string, partition: unknown) => { messages: KafkaMessage[] };

const kafka = await benchKafka();
const work = await mkdtemp(join(tmpdir(), 'shadowtap-fetch-decode-'));
const prefix = `bench-fetch-decode-${Date.now()}.`;
const fromMs = Date.now() - 24 * 3600_000;
const toMs = fromMs + count;

/** Raw Fetch v11 response payloads of every partition, fetched as a read fetches, with the offset each was fetched from. */
async function fetchPayloads(topic: string): Promise<Array<{ payload: Buffer; offset: number }>> {
  const cluster = createCluster(new Kafka(kafkaClientConfig(kafka.brokers, 'bench-fetch-decode')));
  await cluster.connect();
  await cluster.addTargetTopic(topic);
  const payloads: Array<{ payload: Buffer; offset: number }> = [];
  try {
    for (const { partitionId, leader } of cluster.findTopicPartitionMetadata(topic)) {
      const broker = await cluster.findBroker({ nodeId: String(leader) });
      for (let offset = 0; ; ) {
        let payload: Buffer | undefined;
        // The broker as it is, but for its connection pool's send, which keeps a copy of the response bytes.
        type Send = (request: { response: { decode(raw: Buffer): Promise<unknown> } }) => Promise<unknown>;
        const pool = (broker as unknown as { connectionPool: { send: Send } }).connectionPool;
        const capturing = {
          connectionPool: {
            send: ((request) => {
              const decode = async (raw: Buffer) => {
                payload = Buffer.from(raw);
                return request.response.decode(raw);
              };
              return pool.send({ ...request, response: { ...request.response, decode } });
            }) as Send,
          },
        } as unknown as FetchBroker;
        Object.setPrototypeOf(capturing, broker);
        const [fetched] = await leanFetch(capturing, {
          replicaId: -1,
          isolationLevel: readCommitted,
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: kafkaReadLimits.partitionFetchBytes,
          topics: [{ topic, partitions: [{ partition: partitionId, fetchOffset: String(offset), maxBytes: kafkaReadLimits.partitionFetchBytes }] }],
        });
        const batches = recordBatches(fetched!);
        if (batches.length === 0) break;
        payloads.push({ payload: payload!, offset });
        offset = batches[batches.length - 1]!.nextOffset;
      }
    }
  } finally {
    await cluster.disconnect();
  }
  return payloads;
}

const decode = recordDecoder('bench', captureKind, undefined);

async function kafkajsDecode(topic: string, payloads: Array<{ payload: Buffer; offset: number }>): Promise<number> {
  let records = 0;
  for (const { payload, offset } of payloads) {
    const { responses } = await kafkajsFetchV11.decode(payload);
    for (const partition of responses[0]!.partitions) {
      for (const message of new Batch(topic, String(offset), partition).messages) {
        decode(message, { partition: 0, offset: Number(message.offset) });
        records++;
      }
    }
  }
  return records;
}

async function leanDecode(payloads: Array<{ payload: Buffer; offset: number }>): Promise<number> {
  let records = 0;
  for (const { payload, offset } of payloads) {
    for (const partition of decodeFetchResponse(payload, 11).responses[0]!.partitions) {
      for (const batch of recordBatches(partition)) {
        if (batch.skipped || batch.damage !== undefined || batch.nextOffset <= offset) continue;
        const cursor = new RecordCursor(batch, await batchRecords(batch));
        while (cursor.next()) {
          if (cursor.offset < offset) continue;
          decode(cursor, { partition: 0, offset: cursor.offset });
          records++;
        }
      }
    }
  }
  return records;
}

async function drain(log: RecordLog<unknown>): Promise<number> {
  let records = 0;
  for await (const entry of log.read({ fromMs, toMs })) if (entry) records++;
  return records;
}

async function timed(run: () => Promise<number>): Promise<number> {
  const start = process.hrtime.bigint();
  const records = await run();
  const micros = Number(process.hrtime.bigint() - start) / 1000;
  if (records !== count) throw new Error(`decoded ${records} of ${count} records`);
  return micros / records;
}

try {
  console.log(`writing ${count} captures to the file log and to Kafka (3 partitions)...`);
  const file = await openFileLog(captureKind, { dir: work });
  const topic = await openLog(captureKind, { brokers: kafka.brokers, topicPrefix: prefix, partitions: 3 });
  for (const log of [file, topic]) await fill(log, count, fromMs * 1000, () => 1000);
  const payloads = await fetchPayloads(topic.name);
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round} of ${rounds}: load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${process.env.BENCH_NOTE ?? 'other processes share this machine'})`);
    const old = await timed(() => kafkajsDecode(topic.name, payloads));
    const lean = await timed(() => leanDecode(payloads));
    const kafkaRead = await timed(() => drain(topic as RecordLog<unknown>));
    const fileRead = await timed(() => drain(file as RecordLog<unknown>));
    console.log(`  fetch responses decoded, Avro included: kafkajs ${old.toFixed(2)} µs a record, lean ${lean.toFixed(2)} µs (${(old / lean).toFixed(2)}× faster)`);
    console.log(`  window read: Kafka ${kafkaRead.toFixed(2)} µs a record, file log ${fileRead.toFixed(2)} µs (${(kafkaRead / fileRead).toFixed(2)}×)`);
  }
  await Promise.all([file.close(), topic.close()]);
} finally {
  await kafka.broker?.stop();
  await rm(work, { recursive: true, force: true });
}
