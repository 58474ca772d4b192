import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeHeader, encodeBlock } from '../shared/log/avro-container.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { captureCodec } from '../shared/records/codec.js';
import type { Capture } from '../shared/records/types.js';
import { sampleCapture } from './helpers/sample-records.js';
import { waitFor } from './helpers/replay-helpers.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempStore(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-filelog-read-'));
  dirs.push(dir);
  return dir;
}

const captureAt = (id: string, ms: number): Capture => sampleCapture({ id, captureTime: ms * 1000 });

test('a record that cannot be decoded mid-block: the ones before it are read, the rest of the block is a dead letter, the next block is read', async () => {
  const store = await tempStore();
  const log = await openFileLog(captureKind, { dir: store });
  await log.append([captureAt('r0', 1000), captureAt('r1', 1001)]);
  await log.close();
  const segment = join(store, 'captures', '00000000000000000000.avro');
  const { sync } = decodeHeader(await readFile(segment))!;
  // Three records whose third is cut in half: its decode runs past the end of the block.
  const cut = captureCodec.encode(captureAt('x2', 1004));
  await appendFile(segment, encodeBlock([captureCodec.encode(captureAt('x0', 1002)), captureCodec.encode(captureAt('x1', 1003)), cut.subarray(0, cut.length >> 1)], sync));
  const reopened = await openFileLog(captureKind, { dir: store });
  await reopened.append([captureAt('r5', 1005)]);
  const dead: number[] = [];
  const seen: Array<{ id: string; offset: number }> = [];
  for await (const entry of reopened.read({ onDeadLetter: (position) => dead.push(position.offset) })) seen.push({ id: entry.value.id, offset: entry.position.offset });
  await reopened.close();
  assert.deepEqual(seen, [
    { id: 'r0', offset: 0 },
    { id: 'r1', offset: 1 },
    { id: 'x0', offset: 2 },
    { id: 'x1', offset: 3 },
    { id: 'r5', offset: 5 },
  ]);
  assert.deepEqual(dead, [4]);
});

test('a follow read sees appends as they happen, without waiting for its poll interval', { timeout: 30_000 }, async () => {
  const store = await tempStore();
  // A poll interval longer than the test's timeout: only a change notice can deliver the records in time.
  const reader = await openFileLog(captureKind, { dir: store, pollMs: 10 * 60_000 });
  const writer = await openFileLog(captureKind, { dir: store });
  const stop = new AbortController();
  const seen: string[] = [];
  const reading = (async () => {
    for await (const entry of reader.read({ follow: true, signal: stop.signal })) seen.push(entry.value.id);
  })();
  try {
    await writer.append([captureAt('f0', 1000)]);
    await waitFor(() => seen.length === 1, 'the first record', 20_000);
    await writer.append([captureAt('f1', 1001), captureAt('f2', 1002)]);
    await waitFor(() => seen.length === 3, 'the appended records', 20_000);
    assert.deepEqual(seen, ['f0', 'f1', 'f2']);
  } finally {
    stop.abort();
    await reading;
    await writer.close();
    await reader.close();
  }
});
