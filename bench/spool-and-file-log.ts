import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { captureKind } from '../shared/log/record-log.js';
import { captureCodec } from '../shared/records/codec.js';
import type { Capture } from '../shared/records/types.js';
import { sampleCapture } from '../test/helpers/sample-records.js';
import { itemsDocument } from './fixtures.js';

/**
 * The disk spool and the file log on their own: 100,000 captures (1 KB answers) written and read
 * back. The spool takes each record by write() and is drained by peek/ack of 500, as the record
 * queue does; the file log takes appends of 100 and one read of everything. Baseline in the same
 * run: the plainest form of the job (length-prefixed Avro frames appended to one file in chunks
 * of 1,000, read back whole and decoded). BASELINE_DIST=<another build's dist folder> also runs
 * that build's spool and file log in alternated rounds, for an old-vs-new ratio. Figures are CPU
 * time (every thread of the process).
 */
const records = Number(process.env.BENCH_RECORDS ?? 100_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const captures: Capture[] = Array.from({ length: records }, (_, i) =>
  sampleCapture({ id: `req-${i}`, response: { ...sampleCapture().response!, body: Buffer.from(itemsDocument) } }),
);

interface Build {
  DiskSpool: typeof import('../capture/disk-spool.js').DiskSpool;
  openFileLog: typeof import('../shared/log/file-log.js').openFileLog;
}
const here: Build = { DiskSpool: (await import('../capture/disk-spool.js')).DiskSpool, openFileLog: (await import('../shared/log/file-log.js')).openFileLog };
const other = process.env.BASELINE_DIST;
const old: Build | undefined = other
  ? {
      DiskSpool: (await import(resolve(other, 'capture/disk-spool.js'))).DiskSpool,
      openFileLog: (await import(resolve(other, 'shared/log/file-log.js'))).openFileLog,
    }
  : undefined;

/** CPU time of the process, every thread (the file system's too): wall time on a shared 2-core machine measures the neighbours. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function timed(job: (dir: string) => Promise<number>): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-bench-spool-'));
  try {
    const start = cpuMs();
    const read = await job(dir);
    const ms = cpuMs() - start;
    if (read !== records) throw new Error(`read ${read} of ${records} records`);
    return ms;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function frames(dir: string): Promise<number> {
  const path = join(dir, 'frames');
  const file = await open(path, 'a');
  for (let i = 0; i < records; i += 1000) {
    await file.write(
      Buffer.concat(
        captures.slice(i, i + 1000).flatMap((c) => {
          const bytes = captureCodec.encode(c);
          const length = Buffer.alloc(4);
          length.writeUInt32BE(bytes.length);
          return [length, bytes];
        }),
      ),
    );
  }
  await file.close();
  const data = await readFile(path);
  let read = 0;
  for (let at = 0; at < data.length; read++) {
    const length = data.readUInt32BE(at);
    captureCodec.decode(data.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return read;
}

const spool = (build: Build) => async (dir: string) => {
  const lost = (count: number, error: Error) => {
    throw new Error(`spool lost ${count}: ${error.message}`);
  };
  const s = new build.DiskSpool<Capture>(dir, 1 << 30, captureCodec, { onLoss: lost });
  for (const c of captures) if (!s.write(c)) throw new Error('spool full');
  let read = 0;
  for (let batch = await s.peek(500); batch.records.length > 0; batch = await s.peek(500)) {
    read += batch.records.length;
    await batch.ack();
  }
  await s.close();
  return read;
};

const fileLog = (build: Build) => async (dir: string) => {
  const log = await build.openFileLog(captureKind, { dir });
  for (let i = 0; i < records; i += 100) await log.append(captures.slice(i, i + 100));
  let read = 0;
  for await (const _ of log.read()) read++;
  await log.close();
  return read;
};

const jobs: Record<string, (dir: string) => Promise<number>> = {
  frames,
  spool: spool(here),
  'file log': fileLog(here),
  ...(old ? { 'spool (baseline build)': spool(old), 'file log (baseline build)': fileLog(old) } : {}),
};
const times = new Map<string, number[]>(Object.keys(jobs).map((name) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, job] of Object.entries(jobs)) times.get(name)!.push(await timed(job));
}
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
const base = median(times.get('frames')!);
console.log(`${records} captures written and read back, CPU ms, median of ${rounds} alternated rounds:`);
for (const [name, list] of times) {
  const ms = median(list);
  const oldTimes = times.get(`${name} (baseline build)`);
  const vsOld = oldTimes ? `  ${(ms / median(oldTimes)).toFixed(2)}x the baseline build` : '';
  console.log(`  ${name.padEnd(26)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / base).toFixed(2)}x frames${vsOld}`);
}
