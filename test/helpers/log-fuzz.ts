import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShadowtapError } from '../../shared/errors.js';
import { openFileLog } from '../../shared/log/file-log.js';
import { captureKind } from '../../shared/log/record-log.js';
import { sampleCapture } from './sample-records.js';

/**
 * Fuzzing of the file log reader: a store is written once, then each case copies it, damages one
 * segment (flipped bytes, a cut, a splice, or random bytes in its place) and reads it all. The
 * reader must end, and every record written must come back either as a good record or as a dead
 * letter, never both, never invented. A random file without an index must be refused in one line.
 */

export type Damage = 'flip' | 'cut' | 'splice' | 'random' | 'foreign';
export const damages: Damage[] = ['flip', 'cut', 'splice', 'random', 'foreign'];

export interface FuzzCase {
  damage: Damage;
  segment: string;
  written: number;
  good: number;
  dead: number;
  refused?: string;
  appendedAfter?: number;
  readMs: number;
}

/** A small deterministic generator, so a failing case can be named by its seed. */
export function prng(seed: number): () => number {
  let state = Math.imul(seed, 2654435761) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  // Small seeds start with small states: a few draws spread them.
  for (let i = 0; i < 8; i++) next();
  return next;
}

/** Writes `records` captures in blocks of 1 to 20 across a few segments. */
export async function writeFuzzStore(dir: string, records: number, seed = 1): Promise<void> {
  const random = prng(seed);
  const log = await openFileLog(captureKind, { dir, maxSegmentBytes: 16 * 1024 });
  for (let written = 0; written < records; ) {
    const n = Math.min(records - written, 1 + Math.floor(random() * 20));
    await log.append(Array.from({ length: n }, (_, i) => sampleCapture({ id: `f${written + i}`, captureTime: (1_700_000_000_000 + written + i) * 1000 })));
    written += n;
  }
  await log.close();
}

/** A store written by writeFuzzStore, its files kept in memory, and a folder where cases damage a copy. */
export interface FuzzStore {
  dir: string;
  written: number;
  files: Map<string, Buffer>;
}

export async function openFuzzStore(records: number): Promise<FuzzStore> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-fuzz-'));
  await writeFuzzStore(dir, records);
  const captures = join(dir, 'captures');
  const files = new Map<string, Buffer>();
  for (const name of await readdir(captures)) if (/\.(avro|index)$/.test(name)) files.set(name, await readFile(join(captures, name)));
  return { dir, written: records, files };
}

/** Puts the pristine files back and removes whatever a case added (dead letters, new segments). */
async function restore(store: FuzzStore): Promise<void> {
  const captures = join(store.dir, 'captures');
  for (const name of await readdir(captures)) if (!store.files.has(name)) await rm(join(captures, name), { recursive: true, force: true });
  for (const [name, bytes] of store.files) await writeFile(join(captures, name), bytes);
}

/** Runs one damaged copy of the store. */
export async function fuzzCase(store: FuzzStore, seed: number): Promise<FuzzCase> {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const { dir, written } = store;
  await restore(store);
  {
    const captures = join(dir, 'captures');
    const segments = [...store.files.keys()].filter((f) => f.endsWith('.avro')).sort();
    const damage = damages[int(damages.length)]!;
    let segment = segments[int(segments.length)]!;
    const path = join(captures, segment);
    const bytes = Buffer.from(store.files.get(segment)!);
    if (damage === 'flip') {
      for (let i = 1 + int(5); i > 0; i--) bytes[int(bytes.length)] ^= 1 + int(255);
      await writeFile(path, bytes);
    } else if (damage === 'cut') {
      await truncate(path, int(bytes.length));
    } else if (damage === 'splice') {
      // A chunk of the segment itself (or of random bytes) inserted, or a range removed or overwritten.
      const at = int(bytes.length);
      const from = int(bytes.length);
      const chunk = random() < 0.5 ? bytes.subarray(from, from + 1 + int(600)) : randomBytes(random, 1 + int(600));
      const mode = int(3);
      const spliced =
        mode === 0
          ? Buffer.concat([bytes.subarray(0, at), chunk, bytes.subarray(at)])
          : mode === 1
            ? Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + chunk.length))])
            : Buffer.concat([bytes.subarray(0, at), chunk, bytes.subarray(Math.min(bytes.length, at + chunk.length))]);
      await writeFile(path, spliced);
    } else if (damage === 'random') {
      const noise = randomBytes(random, 1 + int(8192));
      if (random() < 0.5) Buffer.from('Obj\x01', 'latin1').copy(noise);
      await writeFile(path, noise);
    } else {
      // A file that is no segment of this log, saved under a segment's name with no index beside it.
      const last = segments.at(-1)!;
      segment = `${String(Number(last.slice(0, 20)) + 1_000_000).padStart(20, '0')}.avro`;
      const noise = randomBytes(random, 1 + int(5000));
      if (random() < 0.5) Buffer.from('Obj\x01', 'latin1').copy(noise);
      await writeFile(join(captures, segment), noise);
    }
    const result: FuzzCase = { damage, segment, written, good: 0, dead: 0, readMs: 0 };
    const started = performance.now();
    const counts = await readAll(dir);
    result.readMs = performance.now() - started;
    if ('refused' in counts) {
      result.refused = counts.refused;
      return result;
    }
    Object.assign(result, counts);
    // A cut last segment is what a crash leaves: the next append repairs it and continues.
    if (damage === 'cut' && segment === segments.at(-1)) {
      const log = await openFileLog(captureKind, { dir });
      await log.append([sampleCapture({ id: 'after-damage', captureTime: 1_800_000_000_000_000 })]);
      await log.close();
      const again = await readAll(dir);
      result.appendedAfter = 'refused' in again ? -1 : again.good + again.dead - counts.good - counts.dead;
      if ('refused' in again || !again.ids.has('after-damage')) result.appendedAfter = -1;
    }
    return result;
  }
}

async function readAll(dir: string): Promise<{ good: number; dead: number; ids: Set<string> } | { refused: string }> {
  const log = await openFileLog(captureKind, { dir, existing: true });
  const ids = new Set<string>();
  let good = 0;
  let dead = 0;
  try {
    for await (const entry of log.read({ onDeadLetter: () => dead++ })) {
      if (ids.has(entry.value.id)) throw new Error(`record ${entry.value.id} read twice`);
      ids.add(entry.value.id);
      good++;
    }
  } catch (error) {
    if (error instanceof ShadowtapError) return { refused: error.message };
    throw error;
  } finally {
    await log.close();
  }
  return { good, dead, ids };
}

function randomBytes(random: () => number, n: number): Buffer {
  const buf = Buffer.alloc(n);
  for (let i = 0; i < n; i++) buf[i] = Math.floor(random() * 256);
  return buf;
}
