import assert from 'node:assert/strict';
import avro from 'avsc';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { DiskSpool } from '../capture/disk-spool.js';
import { decodeHeader, encodeBlock } from '../shared/log/avro-container.js';
import { SegmentWriter } from '../shared/log/segment-writer.js';
import { packageRoot } from '../shared/package-root.js';
import { captureCodec, type Codec } from '../shared/records/codec.js';
import type { Capture } from '../shared/records/types.js';
import { sampleCapture } from './helpers/sample-records.js';

const noLoss = { onLoss: (count: number, error: Error) => assert.fail(`lost ${count}: ${error.message}`) };
/** The spool's frame before it shared the file log's segments: a 4-byte big-endian length, then the Avro bytes. */
function frame(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}
const goldenV1 = () => readFile(join(packageRoot(), 'test', 'fixtures', 'golden', 'v1', 'capture.bin'));
const segments = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.avro')).sort();

/** Takes everything the spool holds, acknowledging each batch. */
async function drain(spool: DiskSpool<Capture>, batch = 10): Promise<Capture[]> {
  const all: Capture[] = [];
  for (let next = await spool.peek(batch); next.records.length > 0; next = await spool.peek(batch)) {
    all.push(...next.records);
    await next.ack();
  }
  return all;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shadowtap-spool-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test('a spool segment written with an older schema is read with that schema after the upgrade', async () => {
  // What a v1 agent would have left: a segment whose header carries the v1 schema, records in v1.
  const v1Type = avro.Type.forSchema(JSON.parse(await readFile(join(packageRoot(), 'shared', 'schemas', 'v1', 'capture.avsc'), 'utf8')));
  const v1Codec = { name: 'capture', version: 1, type: v1Type } as Codec<unknown>;
  const v1 = await goldenV1();
  const writer = await SegmentWriter.create(join(dir, '0000000999999999.avro'), v1Codec, 0);
  await writer.append([v1, v1]);
  await writer.close();
  const spool = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, noLoss);
  assert.ok(spool.write(sampleCapture({ id: 'written-now' })));
  const all = await drain(spool);
  assert.deepEqual(all.slice(0, 2), [captureCodec.decode(v1, 1), captureCodec.decode(v1, 1)], 'the old records come first, resolved from v1');
  assert.equal(all[2]!.id, 'written-now');
  assert.equal(all[2]!.clientRequestId, 'client-7', 'the new record keeps its v2 fields');
  await spool.close();
  assert.deepEqual(await readdir(dir), [], 'delivered segments are removed with their indexes');
});

test('spool files of the format before segments are read once, with the version in their name', async () => {
  const v1 = await goldenV1();
  await writeFile(join(dir, '0000000999999999.spool'), Buffer.concat([frame(v1), frame(v1)]));
  const spool = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, noLoss);
  await spool.ready();
  assert.deepEqual(await readdir(dir), ['0000000999999999.avro', '0000000999999999.index'], 'converted to a segment, the old file removed');
  assert.deepEqual(await drain(spool), [captureCodec.decode(v1, 1), captureCodec.decode(v1, 1)]);
  // New segments say in their header which schema wrote them.
  assert.ok(spool.write(sampleCapture()));
  await spool.close();
  const [segment] = await segments(dir);
  const header = decodeHeader(await readFile(join(dir, segment!)))!;
  assert.equal(header.meta['shadowtap.schema-version']!.toString(), String(captureCodec.version));
  assert.deepEqual(JSON.parse(header.meta['avro.schema']!.toString()), captureCodec.type.schema());
});

test('a torn block at the end of a segment (a crash mid-write) is counted as lost; the records before it and a whole unindexed block are read', async () => {
  const spool = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, noLoss);
  for (const id of ['a', 'b', 'c']) assert.ok(spool.write(sampleCapture({ id })));
  await spool.close();
  const [segment] = await segments(dir);
  const path = join(dir, segment!);
  const { sync } = decodeHeader(await readFile(path))!;
  // A block written whole but killed before its index entry, then one cut in the middle.
  await appendFile(path, encodeBlock([captureCodec.encode(sampleCapture({ id: 'd' }))], sync));
  const torn = encodeBlock(['e', 'f'].map((id) => captureCodec.encode(sampleCapture({ id }))), sync);
  await appendFile(path, torn.subarray(0, torn.length >> 1));
  const losses: Array<{ count: number; message: string }> = [];
  const again = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, { onLoss: (count, error) => losses.push({ count, message: error.message }) });
  assert.deepEqual((await drain(again, 2)).map((c) => c.id), ['a', 'b', 'c', 'd']);
  assert.deepEqual(losses.map((l) => l.count), [2], 'the torn block counted with its records');
  assert.match(losses[0]!.message, /torn block/);
  await again.close();
  assert.deepEqual(await readdir(dir), []);
});

test('a damaged block in the middle of a segment is counted with its records; the blocks around it are read', async () => {
  const path = join(dir, '0000001000000000.avro');
  const writer = await SegmentWriter.create(path, captureCodec as Codec<unknown>, 0);
  for (const ids of [['a'], ['b', 'c'], ['d']]) await writer.append(ids.map((id) => captureCodec.encode(sampleCapture({ id }))));
  await writer.close();
  const bytes = await readFile(path);
  // A byte of the second block's first record flipped: the block's CRC no longer matches.
  const at = bytes.indexOf(captureCodec.encode(sampleCapture({ id: 'b' })));
  assert.ok(at > 0);
  bytes[at + 5]! ^= 0xff;
  await writeFile(path, bytes);
  const losses: number[] = [];
  const spool = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, { onLoss: (count) => losses.push(count) });
  assert.deepEqual((await drain(spool)).map((c) => c.id), ['a', 'd']);
  assert.deepEqual(losses, [2]);
  await spool.close();
});

test('a spool stopped part-way through a segment delivers only the rest after a restart', async () => {
  const spool = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, noLoss);
  for (const id of ['a', 'b', 'c', 'd', 'e']) assert.ok(spool.write(sampleCapture({ id })));
  const first = await spool.peek(2);
  await first.ack();
  // Handed out but never acknowledged (the log did not take them): they stay in the spool.
  assert.deepEqual((await spool.peek(2)).records.map((c) => c.id), ['c', 'd']);
  const before = spool.bytes;
  await spool.close();
  const again = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, noLoss);
  await again.ready();
  assert.ok(again.bytes > 0 && before > 0);
  assert.deepEqual((await drain(again)).map((c) => c.id), ['c', 'd', 'e']);
  assert.equal(again.bytes, 0);
  await again.close();
  assert.deepEqual(await readdir(dir), []);
});

test('records put back at close are read before those spooled earlier', async () => {
  const spool = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, noLoss);
  assert.ok(spool.write(sampleCapture({ id: 'spooled' })));
  assert.equal(await spool.putBack([sampleCapture({ id: 'in-memory-1' }), sampleCapture({ id: 'in-memory-2' })]), 2);
  await spool.close();
  const again = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, noLoss);
  assert.deepEqual((await drain(again)).map((c) => c.id), ['in-memory-1', 'in-memory-2', 'spooled']);
  await again.close();
});
