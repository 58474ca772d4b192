import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DiskSpool } from '../capture/disk-spool.js';
import { packageRoot } from '../shared/package-root.js';
import { captureCodec } from '../shared/records/codec.js';
import type { Capture } from '../shared/records/types.js';
import { sampleCapture } from './helpers/sample-records.js';

const noLoss = { onLoss: (count: number, error: Error) => assert.fail(`lost ${count}: ${error.message}`) };
/** The spool's frame: a 4-byte big-endian length, then the Avro bytes. */
function frame(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

test('a spool left by an agent of an older schema is read with that schema after the upgrade', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-spool-'));
  try {
    // What a v1 agent left on disk: segments named without a version, records in schema v1.
    const v1 = await readFile(join(packageRoot(), 'test', 'fixtures', 'golden', 'v1', 'capture.bin'));
    await writeFile(join(dir, '0000000999999999.spool'), Buffer.concat([frame(v1), frame(v1)]));
    const spool = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, noLoss);
    assert.ok(spool.write(sampleCapture({ id: 'written-now' })));
    const first = await spool.peek(10);
    assert.deepEqual(
      first.records.map((c) => c.id),
      [captureCodec.decode(v1, 1).id, captureCodec.decode(v1, 1).id],
      'the old records come first, decoded as v1',
    );
    assert.deepEqual(first.records[0], captureCodec.decode(v1, 1));
    await first.ack();
    const second = await spool.peek(10);
    assert.deepEqual(second.records.map((c) => c.id), ['written-now']);
    assert.equal(second.records[0]!.clientRequestId, 'client-7', 'the new record keeps its v2 fields');
    await second.ack();
    await spool.close();
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.spool')), [], 'delivered segments are removed');
    // New segments say which schema wrote them.
    const again = new DiskSpool<Capture>(dir, 1 << 20, captureCodec, noLoss);
    assert.ok(again.write(sampleCapture()));
    await again.close();
    assert.deepEqual((await readdir(dir)).map((n) => n.replace(/^\d+/, '')), [`.v${captureCodec.version}.spool`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
