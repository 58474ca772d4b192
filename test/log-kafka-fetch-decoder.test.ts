import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import type { KafkaMessage } from 'kafkajs';
import { crc32c } from '../shared/log/crc32c.js';
import { batchRecords, decodeFetchResponse, RecordCursor, recordBatches, type RecordBatch } from '../shared/log/kafka-fetch-decoder.js';

// kafkajs's own encoders and decoders: the reference the lean decoder must agree with.
const require = createRequire(import.meta.url);
const { RecordBatch: encodeBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch(fields: Record<string, unknown>): Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (fields: Record<string, unknown>) => unknown;
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => EncoderType;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: number | string): unknown };
const kafkajsFetchV11 = require('kafkajs/src/protocol/requests/fetch/v11/response.js') as { decode(payload: Buffer): Promise<{ responses: Array<{ partitions: unknown[] }> }> };
const Batch = require('kafkajs/src/consumer/batch.js') as new (topic: string, fetchedOffset: string, partition: unknown) => { messages: KafkaMessage[] };
const gzip = 1;

interface EncoderType {
  buffer: Buffer;
  writeInt8(value: number): EncoderType;
  writeInt16(value: number): EncoderType;
  writeInt32(value: number): EncoderType;
  writeInt64(value: unknown): EncoderType;
  writeString(value: string): EncoderType;
  writeBuffer(value: Buffer): EncoderType;
}

interface TestRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[]>;
  timestampDelta?: number;
  offsetDelta?: number;
}

async function batch(firstOffset: number, records: TestRecord[], options: { compression?: number; transactional?: boolean; producerId?: number; firstTimestamp?: number } = {}): Promise<Buffer> {
  const firstTimestamp = options.firstTimestamp ?? 1_764_000_000_000;
  const encoded = await encodeBatch({
    compression: options.compression ?? 0,
    firstOffset: Long.fromValue(firstOffset),
    firstTimestamp,
    maxTimestamp: firstTimestamp + Math.max(0, ...records.map((r) => r.timestampDelta ?? 0)),
    lastOffsetDelta: Math.max(...records.map((r, i) => r.offsetDelta ?? i)),
    transactional: options.transactional ?? false,
    producerId: Long.fromValue(options.producerId ?? -1),
    records: records.map((r, i) => Record({ offsetDelta: i, ...r })),
  });
  // kafkajs writes the batch length as bytes: first offset, then length and the rest as one int32-prefixed field.
  return encoded.buffer;
}

/** Sets attribute bits of an encoded batch and its CRC again (kafkajs writes neither control batches nor log-append time). */
function withAttributes(bytes: Buffer, bits: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeInt16BE(copy.readInt16BE(21) | bits, 21);
  copy.writeUInt32BE(crc32c(copy.subarray(21)) >>> 0, 17);
  return copy;
}

/** A Fetch v11 response of one partition with `records` as its record set. */
function fetchResponse(records: Buffer, aborted: Array<{ producerId: number; firstOffset: number }> = []): Buffer {
  const encoder = new Encoder().writeInt32(0).writeInt16(0).writeInt32(0).writeInt32(1).writeString('captures').writeInt32(1);
  encoder.writeInt32(0).writeInt16(0).writeInt64(Long.fromValue(1000)).writeInt64(Long.fromValue(1000)).writeInt64(Long.fromValue(0));
  encoder.writeInt32(aborted.length);
  for (const { producerId, firstOffset } of aborted) encoder.writeInt64(Long.fromValue(producerId)).writeInt64(Long.fromValue(firstOffset));
  encoder.writeInt32(-1).writeInt32(records.length).writeBuffer(records);
  return encoder.buffer;
}

async function leanRecords(payload: Buffer, fromOffset = 0): Promise<Array<Omit<KafkaMessage, 'attributes' | 'size'>>> {
  const [partition] = decodeFetchResponse(payload, 11).responses[0]!.partitions;
  const out: Array<Omit<KafkaMessage, 'attributes' | 'size'>> = [];
  for (const batch of recordBatches(partition!)) {
    assert.equal(batch.damage, undefined);
    if (batch.skipped) continue;
    const cursor = new RecordCursor(batch, await batchRecords(batch));
    while (cursor.next()) {
      if (cursor.offset < fromOffset) continue;
      out.push({ offset: String(cursor.offset), timestamp: String(cursor.timestamp), key: cursor.key, value: cursor.value, headers: cursor.headers });
    }
  }
  return out;
}

async function kafkajsRecords(payload: Buffer, fromOffset = 0): Promise<Array<Omit<KafkaMessage, 'attributes' | 'size'>>> {
  const { responses } = await kafkajsFetchV11.decode(payload);
  return new Batch('captures', String(fromOffset), responses[0]!.partitions[0]).messages.map(({ offset, timestamp, key, value, headers }) => ({ offset, timestamp, key, value, headers }));
}

const records: TestRecord[] = [
  { key: Buffer.from('req-1'), value: Buffer.from('a'.repeat(300)), headers: { 'shadowtap-schema': Buffer.from('capture'), 'shadowtap-schema-version': Buffer.from('2') } },
  { key: null, value: null, timestampDelta: 5 },
  { key: Buffer.alloc(0), value: Buffer.from([0, 1, 2]), headers: { multi: [Buffer.from('x'), Buffer.from('y')] }, timestampDelta: 70_000 },
  { key: Buffer.from('req-4'), value: Buffer.from('b'.repeat(9000)), headers: { 'shadowtap-schema': Buffer.from('capture'), 'shadowtap-schema-version': Buffer.from('2') } },
];

describe('lean fetch decoder', () => {
  test('reads what kafkajs reads: offsets, timestamps, keys, values, multi-valued headers, plain and gzip batches, from a fetch offset inside a batch', async () => {
    const set = Buffer.concat([await batch(10, records), await batch(14, records, { compression: gzip }), await batch(18, records.slice(0, 2))]);
    const payload = fetchResponse(set);
    for (const from of [0, 12, 15]) {
      const lean = await leanRecords(payload, from);
      assert.deepEqual(lean, await kafkajsRecords(payload, from));
      assert.equal(lean.length, 20 - from - (from === 0 ? 10 : 0));
    }
  });

  test('a batch cut short by the fetch size is left for the next fetch', async () => {
    const whole = await batch(0, records);
    const set = Buffer.concat([whole, (await batch(4, records)).subarray(0, 80)]);
    const batches = recordBatches({ records: set, abortedTransactions: [] });
    assert.deepEqual(
      batches.map((b) => [b.firstOffset, b.nextOffset]),
      [[0, 4]],
    );
  });

  test('a damaged batch is named, not read, and the batches after it are read', async () => {
    const damaged = Buffer.from(await batch(0, records));
    damaged[damaged.length - 3] ^= 0xff;
    const batches = recordBatches({ records: Buffer.concat([damaged, await batch(4, records)]), abortedTransactions: [] });
    assert.match(batches[0]!.damage ?? '', /CRC32C/);
    assert.equal(batches[1]!.damage, undefined);
    assert.deepEqual([batches[0]!.firstOffset, batches[0]!.nextOffset], [0, 4]);
  });

  test('read_committed: the records of an aborted transaction and the transaction markers are skipped, a committed transaction is read', async () => {
    const marker = (offset: number, producerId: number, type: number) =>
      batch(offset, [{ key: Buffer.from([0, 0, 0, type]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], { transactional: true, producerId }).then((b) => withAttributes(b, 0x20));
    const set = Buffer.concat([
      await batch(0, records.slice(0, 2), { transactional: true, producerId: 7 }),
      await marker(2, 7, 0),
      await batch(3, records.slice(0, 2), { transactional: true, producerId: 8 }),
      await marker(5, 8, 1),
      await batch(6, records.slice(0, 1), { transactional: true, producerId: 7 }),
    ]);
    const payload = fetchResponse(set, [{ producerId: 7, firstOffset: 0 }]);
    const lean = await leanRecords(payload);
    assert.deepEqual(
      lean.map((r) => r.offset),
      ['3', '4', '6'],
    );
    assert.deepEqual(lean, await kafkajsRecords(payload));
  });

  test('log-append time: every record of the batch has the batch time', async () => {
    const appended = withAttributes(await batch(0, records), 0x08);
    const [first] = recordBatches({ records: appended, abortedTransactions: [] }) as [RecordBatch];
    const cursor = new RecordCursor(first, await batchRecords(first));
    const times: number[] = [];
    while (cursor.next()) times.push(cursor.timestamp);
    assert.deepEqual(times, [first.maxTimestamp, first.maxTimestamp, first.maxTimestamp, first.maxTimestamp]);
    assert.equal(first.maxTimestamp, 1_764_000_070_000);
  });

  test('a record that ends past its batch is an error, not a silent stop', async () => {
    const bytes = Buffer.from(await batch(0, records.slice(0, 1)));
    // The record's length varint (first byte of the records section) claims more than is there.
    bytes[62] = 0x7f;
    bytes.writeUInt32BE(crc32c(bytes.subarray(21)) >>> 0, 17);
    const [only] = recordBatches({ records: bytes, abortedTransactions: [] }) as [RecordBatch];
    const cursor = new RecordCursor(only, await batchRecords(only));
    assert.throws(() => cursor.next(), /ends past its batch/);
  });
});
