import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { constants, gzipSync } from 'node:zlib';
import { describe, mock, test } from 'node:test';
import { encodeProduceRequest, type ProduceRequestFields } from '../shared/log/kafka-record-batch.js';

// kafkajs's own produce request (v3; v4 to v7 reuse it), the reference the lean encoder must match.
const require = createRequire(import.meta.url);
const kafkajsProduceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (
  fields: ProduceRequestFields,
) => { encode(): Promise<{ buffer: Buffer }> };
const Long = require('kafkajs/src/utils/long.js') as { fromString(value: string): { toString(): string } };
const { lookupCodec } = require('kafkajs/src/protocol/message/compression/index.js') as {
  lookupCodec(type: number): { compress(encoder: { buffer: Buffer }): Promise<Buffer> };
};
const gzip = 1;

async function bothEncodings(fields: ProduceRequestFields): Promise<[Buffer, Buffer]> {
  const reference = (await kafkajsProduceV3(fields).encode()).buffer;
  const lean = await encodeProduceRequest(fields, (records) => lookupCodec(fields.compression!).compress({ buffer: records }));
  return [lean, reference];
}

const schemaHeaders = { 'shadowtap-schema': 'capture', 'shadowtap-schema-version': '1' };
const body = (size: number, seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + seed) % 251));

describe('lean produce request encoding', () => {
  test('matches kafkajs byte for byte: idempotent producer, several partitions, varint edge sizes', async () => {
    const start = 1_764_000_000_000;
    const sizes = [0, 1, 63, 64, 127, 128, 300, 8191, 8192, 70_000];
    const fields: ProduceRequestFields = {
      acks: -1,
      timeout: 30_000,
      producerId: Long.fromString('4611686018427387905'),
      producerEpoch: 3,
      compression: 0,
      topicData: [
        {
          topic: 'shadowtap.captures',
          partitions: [0, 1, 2].map((partition) => ({
            partition,
            firstSequence: 1000 * partition + 7,
            messages: sizes.map((size, i) => ({
              key: Buffer.from(`req-${partition}-${i}`),
              value: body(size, i + partition),
              // Out of order on purpose: first and max timestamps are the extremes, deltas can be negative.
              timestamp: String(start + ((i * 7919) % 13) * 1000 + partition),
              headers: schemaHeaders,
            })),
          })),
        },
      ],
    };
    const [lean, reference] = await bothEncodings(fields);
    assert.equal(lean.length, reference.length);
    assert.ok(lean.equals(reference), 'lean encoding differs from kafkajs');
  });

  test('matches kafkajs with gzip, null keys and values, string values, multi-valued headers, a transaction and two topics', async () => {
    const fields: ProduceRequestFields = {
      transactionalId: 'tx-é',
      acks: 1,
      timeout: 5000,
      producerId: Long.fromString('12'),
      producerEpoch: 0,
      compression: gzip,
      topicData: ['a', 'bé'].map((topic, t) => ({
        topic,
        partitions: [
          {
            partition: t,
            firstSequence: 0,
            messages: [
              { key: null, value: Buffer.from('{"a":1}'), timestamp: '1764000000123', headers: { trace: ['x', 'y'], empty: '' } },
              { key: 'k', value: null, timestamp: '1764000000100' },
              { key: Buffer.alloc(0), value: 'plain string ✓'.repeat(50), timestamp: '1764000099999', headers: {} },
            ],
          },
        ],
      })),
    };
    const [lean, reference] = await bothEncodings(fields);
    assert.ok(lean.equals(reference), 'lean gzip encoding differs from kafkajs');
  });

  test('messages without a timestamp take the time of encoding, as in kafkajs', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_764_000_000_000 });
    const fields: ProduceRequestFields = {
      acks: -1,
      timeout: 30_000,
      compression: 0,
      topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: Buffer.from('a') }, { value: Buffer.from('b'), timestamp: '1763999999000' }] }] }],
    };
    const [lean, reference] = await bothEncodings(fields);
    assert.ok(lean.equals(reference));
    mock.timers.reset();
  });

  /** Runs `body` (an async function body with `m` = the lean module, `require`) in a fresh worker thread; resolves what it posts. */
  async function inFreshThread<T>(body: string, kafkajsFirst = false): Promise<T> {
    const moduleUrl = new URL('../shared/log/kafkajs-lean-produce.js', import.meta.url).href;
    const worker = new Worker(
      `(async () => {
         const { createRequire } = await import('node:module');
         const require = createRequire(${JSON.stringify(moduleUrl)});
         ${kafkajsFirst ? "require('kafkajs');" : ''}
         const m = await import(${JSON.stringify(moduleUrl)});
         const post = (value) => require('node:worker_threads').parentPort.postMessage(value);
         ${body}
       })();`,
      { eval: true, stderr: true },
    );
    try {
      return await new Promise<T>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    } finally {
      await worker.terminate();
    }
  }

  test('is installed in the producer thread before kafkajs loads there', async () => {
    // The producer thread imports it first; a fresh thread doing the same must report it installed.
    const reply = await inFreshThread<{ installed: boolean; grouped: string }>(`
      const group = require('kafkajs/src/producer/groupMessagesPerPartition.js');
      const grouped = group({ topic: 't', partitionMetadata: [{}, {}], partitioner: ({ message }) => message.p, messages: [{ p: 1 }, { p: 0 }, { p: 1 }] });
      post({ installed: m.leanProduceInstalled, grouped: JSON.stringify(grouped) });`);
    assert.equal(reply.installed, true);
    assert.equal(reply.grouped, JSON.stringify({ 0: [{ p: 0 }], 1: [{ p: 1 }, { p: 1 }] }));
  });

  test('loaded after kafkajs, it changes nothing and says why', async () => {
    const reply = await inFreshThread<{ installed: boolean; reason: string }>(
      `post({ installed: m.leanProduce.installed, reason: m.leanProduce.reason });`,
      true,
    );
    assert.equal(reply.installed, false);
    assert.match(reply.reason, /kafkajs was loaded in this thread before/);
  });

  test("gzips at level 1 through kafkajs's public codec registry, and reads what it wrote", async () => {
    const reply = await inFreshThread<{ compressed: number[]; restored: string }>(`
      const { CompressionCodecs, CompressionTypes } = require('kafkajs');
      const codec = CompressionCodecs[CompressionTypes.GZIP]();
      const input = Buffer.from(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: 'item ' + i }))));
      const compressed = await codec.compress({ buffer: input });
      post({ compressed: [...compressed], restored: (await codec.decompress(compressed)).toString() });`);
    const input = Buffer.from(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: 'item ' + i }))));
    assert.deepEqual(Buffer.from(reply.compressed), gzipSync(input, { level: constants.Z_BEST_SPEED }));
    assert.notDeepEqual(Buffer.from(reply.compressed), gzipSync(input), 'not the default level');
    assert.equal(reply.restored, input.toString());
  });
});
