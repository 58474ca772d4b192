import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind, type LogEntry } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { sampleCapture } from './helpers/sample-records.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempStore(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-filelog-'));
  dirs.push(dir);
  return dir;
}

const captureAt = (i: number, ms: number): Capture => sampleCapture({ id: `r${i}`, captureTime: ms * 1000 });

async function collect<T>(iterable: AsyncIterable<LogEntry<T>>): Promise<LogEntry<T>[]> {
  const out: LogEntry<T>[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

test('appended records come back in order with consecutive offsets, across rotated segments', async () => {
  const store = await tempStore();
  const log = await openFileLog(captureKind, { dir: store, maxSegmentBytes: 2000 });
  for (let batch = 0; batch < 10; batch++) {
    await log.append(Array.from({ length: 5 }, (_, i) => captureAt(batch * 5 + i, 1000 + batch * 5 + i)));
  }
  await log.close();
  const segments = (await readdir(join(store, 'captures'))).filter((f) => f.endsWith('.avro'));
  assert.ok(segments.length > 1, `expected rotation, got ${segments.length} segment(s)`);
  const reopened = await openFileLog(captureKind, { dir: store, maxSegmentBytes: 2000 });
  const entries = await collect(reopened.read());
  assert.deepEqual(entries.map((e) => e.value.id), Array.from({ length: 50 }, (_, i) => `r${i}`));
  assert.deepEqual(entries.map((e) => e.position.offset), Array.from({ length: 50 }, (_, i) => i));
  await reopened.append([captureAt(50, 2000)]);
  const again = await collect(reopened.read());
  assert.equal(again.at(-1)?.value.id, 'r50');
  assert.equal(again.at(-1)?.position.offset, 50, 'a reopened log continues the offsets');
  await reopened.close();
});

test('a time window returns only records inside [from, to)', async () => {
  const log = await openFileLog(captureKind, { dir: await tempStore() });
  await log.append(Array.from({ length: 20 }, (_, i) => captureAt(i, 10_000 + i * 100)));
  const entries = await collect(log.read({ fromMs: 10_500, toMs: 11_000 }));
  assert.deepEqual(entries.map((e) => e.value.id), ['r5', 'r6', 'r7', 'r8', 'r9']);
  await log.close();
});

test('a group resumes after what it committed', async () => {
  const log = await openFileLog(captureKind, { dir: await tempStore(), maxSegmentBytes: 1500 });
  await log.append(Array.from({ length: 12 }, (_, i) => captureAt(i, 1000 + i)));
  const first: string[] = [];
  for await (const entry of log.read({ group: 'g1' })) {
    first.push(entry.value.id);
    if (first.length === 7) {
      await log.commit('g1', [entry.position]);
      break;
    }
  }
  const rest = await collect(log.read({ group: 'g1' }));
  assert.deepEqual(rest.map((e) => e.value.id), ['r7', 'r8', 'r9', 'r10', 'r11']);
  const otherGroup = await collect(log.read({ group: 'g2' }));
  assert.equal(otherGroup.length, 12, 'groups are independent');
  await log.close();
});

test('a follow read sees records appended while it waits, and stops on abort', async () => {
  const log = await openFileLog(captureKind, { dir: await tempStore(), pollMs: 10, maxSegmentBytes: 1500 });
  const controller = new AbortController();
  const seen: string[] = [];
  const reading = (async () => {
    for await (const entry of log.read({ follow: true, signal: controller.signal })) {
      seen.push(entry.value.id);
      if (seen.length === 15) controller.abort();
    }
  })();
  for (let i = 0; i < 15; i++) await log.append([captureAt(i, 1000 + i)]);
  await reading;
  assert.deepEqual(seen, Array.from({ length: 15 }, (_, i) => `r${i}`));
  await log.close();
});

test('a damaged block goes to the dead-letter folder whole, counted with every record it held, named in one line; reading goes on', async () => {
  const store = await tempStore();
  const log = await openFileLog(captureKind, { dir: store });
  await log.append([captureAt(0, 1000), captureAt(1, 1001)]);
  await log.append([captureAt(2, 1002), captureAt(3, 1003), captureAt(4, 1004)]);
  await log.append([captureAt(5, 1005)]);
  await log.close();
  const segment = join(store, 'captures', '00000000000000000000.avro');
  const bytes = await readFile(segment);
  // One flipped byte inside the second block: a record id, which would still decode.
  const at = bytes.indexOf('r3');
  bytes[at + 1] ^= 0x01;
  await writeFile(segment, bytes);
  const dead: number[] = [];
  const warnings: string[] = [];
  const entries = await collect(
    (await openFileLog(captureKind, { dir: store })).read({ onDeadLetter: (position) => dead.push(position.offset), onWarning: (m) => warnings.push(m) }),
  );
  assert.deepEqual(entries.map((e) => e.value.id), ['r0', 'r1', 'r5']);
  assert.deepEqual(dead, [2, 3, 4]);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /00000000000000000000\.avro: the block at byte \d+ with 3 records \(offsets 2-4\) is damaged \(its bytes do not match their checksum\)/);
  assert.equal((await readdir(join(store, 'captures', 'dead-letter'))).length, 1);
});

test('bytes after the last complete block are named in one line, not taken for records', async () => {
  const store = await tempStore();
  const log = await openFileLog(captureKind, { dir: store });
  await log.append([captureAt(0, 1000), captureAt(1, 1001)]);
  await log.close();
  // A block claiming 1 record of 4 bytes, followed by a wrong sync marker.
  await appendFile(join(store, 'captures', '00000000000000000000.avro'), Buffer.concat([Buffer.from([2, 8]), Buffer.from('junk'), Buffer.alloc(16, 7)]));
  const dead: number[] = [];
  const warnings: string[] = [];
  const entries = await collect(
    (await openFileLog(captureKind, { dir: store })).read({ onDeadLetter: (position) => dead.push(position.offset), onWarning: (m) => warnings.push(m) }),
  );
  assert.deepEqual(entries.map((e) => e.value.id), ['r0', 'r1']);
  assert.deepEqual(dead, []);
  assert.deepEqual(warnings.map((w) => w.replace(/^.*captures\//, '')), [
    '00000000000000000000.avro: 22 bytes after its last complete block are not records (an append in progress, or cut by a crash: the next append repairs the last segment)',
  ]);
});

test('a block half-written by a crash is cut off when the log is reopened for writing', async () => {
  const store = await tempStore();
  const log = await openFileLog(captureKind, { dir: store });
  await log.append([captureAt(0, 1000)]);
  await log.close();
  await appendFile(join(store, 'captures', '00000000000000000000.avro'), Buffer.from([20, 200, 1, 1, 2]));
  const reopened = await openFileLog(captureKind, { dir: store });
  await reopened.append([captureAt(1, 1001)]);
  assert.deepEqual((await collect(reopened.read())).map((e) => e.value.id), ['r0', 'r1']);
  await reopened.close();
});

test('a file in the store that is not a log segment is one clear error naming it', async () => {
  const store = await tempStore();
  const log = await openFileLog(captureKind, { dir: store });
  await writeFile(join(store, 'captures', '00000000000000000000.avro'), 'garbage');
  await assert.rejects(collect(log.read()), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'ST_LOG_IO');
    assert.match(error.message, /00000000000000000000\.avro is not a shadowtap log segment.*move it out of the store folder/);
    return true;
  });
});

test('a damaged segment header: with its index every record is counted as a dead letter; without one it is one clear error naming it', async () => {
  const store = await tempStore();
  const log = await openFileLog(captureKind, { dir: store });
  await log.append([captureAt(0, 1000), captureAt(1, 1001)]);
  await log.append([captureAt(2, 1002)]);
  const segment = join(store, 'captures', '00000000000000000000.avro');
  const bytes = await readFile(segment);
  const schemaAt = bytes.indexOf('"fields"');
  bytes.fill(0xff, schemaAt, schemaAt + 8);
  await writeFile(segment, bytes);
  const dead: number[] = [];
  const warnings: string[] = [];
  assert.deepEqual(await collect(log.read({ onDeadLetter: (p) => dead.push(p.offset), onWarning: (m) => warnings.push(m) })), []);
  assert.deepEqual(dead, [0, 1, 2]);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /with 2 records \(offsets 0-1\) is damaged \(the segment header is damaged\)/);
  await rm(join(store, 'captures', '00000000000000000000.index'));
  await assert.rejects(collect(log.read()), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'ST_LOG_IO');
    assert.match(error.message, /00000000000000000000\.avro has a damaged or foreign schema in its header.*move it out of the store folder/);
    return true;
  });
  await log.close();
});
