import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DiffReport } from '../diff/report.js';
import { fileGroupPaths, readFileGroupState } from '../diff/scale-out/file-group-backend.js';
import { buildGroupReport } from '../diff/scale-out/group-report.js';
import type { Verdict } from '../diff/scale-out/verdict-record.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { baseMs } from './helpers/diff-pairs.js';
import { recentStartMs, routeCounts, scaleOutRecords, scrapedPairsByRoute, startDiffWorker, withoutTime, type WorkerProcess } from './helpers/diff-workers.js';
import { runCli } from './helpers/run-cli.js';
import { waitFor } from './helpers/wait-for.js';

const startMs = recentStartMs();

async function withStore<T>(work: (store: string) => Promise<T>): Promise<T> {
  const store = await mkdtemp(join(tmpdir(), 'shadowtap-group-'));
  try {
    return await work(store);
  } finally {
    await rm(store, { recursive: true, force: true });
  }
}

/** Appends records to a store of `partitions` partitions (results take their captures' count). */
async function append(store: string, records: { captures: Capture[]; results: Result[] }, partitions?: number): Promise<void> {
  const captures = await openLog<Capture>(captureKind, { store, ...(partitions !== undefined && { storePartitions: partitions }) });
  const results = await openLog<Result>(resultKind, { store });
  try {
    await captures.append(records.captures);
    await results.append(records.results);
  } finally {
    await captures.close();
    await results.close();
  }
}

const groupReport = (store: string, group: string) => buildGroupReport({ source: { store }, group }).catch(() => undefined);

/** Every committed verdict of the group: each partition's verdicts file up to what its snapshot covers. */
async function committedVerdicts(store: string, group: string): Promise<Verdict[]> {
  const verdicts: Verdict[] = [];
  for (const { snapshot, verdictBytes } of await readFileGroupState(store, group)) {
    const bytes = (await readFile(fileGroupPaths(store, group).verdicts(snapshot.partition))).subarray(0, verdictBytes);
    for (const line of bytes.toString().split('\n').filter(Boolean)) verdicts.push(JSON.parse(line) as Verdict);
  }
  return verdicts;
}

test('3 local diff workers over a 4-partition store, one SIGKILLed mid-run and its partitions taken over, report what one diff reports, each pair once', { timeout: 240_000 }, async () => {
  await withStore(async (store) => {
    const group = 'local-group';
    const first = scaleOutRecords(startMs, 0, 1500);
    const second = scaleOutRecords(startMs, 1500, 600);
    await append(store, first, 4);
    const workers: WorkerProcess[] = [];
    const start = () => startDiffWorker(group, ['--store', store], ['--slice', '1m']);
    try {
      workers.push(start(), start(), start());
      const victim = workers[2]!;
      await waitFor(() => /owns partitions \d/.test(victim.stderr()), 'the third worker to own partitions', 60_000);
      await waitFor(async () => ((await groupReport(store, group))?.report.totals.pairs ?? 0) > 300, 'a fifth of the pairs committed', 60_000);
      victim.child.kill('SIGKILL');
      assert.equal(await victim.exited, null);
      await append(store, second);

      const single = await runCli(['diff', '--store', store, '--format', 'json'], { timeoutMs: 120_000 });
      assert.equal(single.code, 1, single.stderr);
      const expected = JSON.parse(single.stdout) as DiffReport;
      assert.equal(expected.totals.pairs, 2100);
      assert.ok(expected.totals.mismatch > 0 && expected.totals['shadow-error'] > 0 && expected.totals.missing > 0 && expected.totals.duplicates > 0 && expected.totals.unpaired > 0);
      assert.equal(expected.totals.unmatchedReferences, 0);
      assert.equal(expected.totals['no-baseline'], 0);

      // The victim's partitions come back once its leases expire (10 s), and the group commits every pair.
      await waitFor(
        async () => {
          const merged = await groupReport(store, group);
          return merged?.partitions.length === 4 && merged.report.totals.pairs === expected.totals.pairs && merged.report.totals.duplicates === expected.totals.duplicates;
        },
        'the group to commit every pair',
        90_000,
      );
      const survivors = workers.slice(0, 2);
      // The survivors own every partition now, the victim's among them.
      const lastOwned = (w: WorkerProcess) => [...w.stderr().matchAll(/owns partitions ([\d, ]+)/g)].at(-1)?.[1]!.split(', ').map(Number) ?? [];
      const victimOwned = lastOwned(victim);
      assert.ok(victimOwned.length > 0);
      // Their stderr lines can arrive after the commits they made are visible in the store: waited for, not read once.
      const ownedBySurvivors = () => survivors.flatMap(lastOwned).sort().join(',');
      await waitFor(() => ownedBySurvivors() === '0,1,2,3', 'the survivors to say they own partitions 0, 1, 2, 3', 30_000);
      for (const worker of survivors) worker.child.kill('SIGTERM');
      for (const worker of survivors) assert.equal(await worker.exited, 0, worker.stderr());

      const report = await runCli(['report', '--group', group, '--store', store, '--format', 'json']);
      assert.equal(report.code, 1, report.stderr);
      assert.deepEqual(withoutTime(JSON.parse(report.stdout) as DiffReport), withoutTime(expected));

      const window = ['--from', new Date(baseMs + startMs - 100 + 2 * 60_000).toISOString(), '--to', new Date(baseMs + startMs - 100 + 5 * 60_000).toISOString()];
      const singleWindow = await runCli(['diff', '--store', store, '--format', 'json', ...window]);
      const reportWindow = await runCli(['report', '--group', group, '--store', store, '--format', 'json', ...window]);
      assert.equal(reportWindow.code, singleWindow.code, reportWindow.stderr);
      const expectedWindow = JSON.parse(singleWindow.stdout) as DiffReport;
      assert.equal(expectedWindow.totals.pairs, 900);
      assert.deepEqual(withoutTime(JSON.parse(reportWindow.stdout) as DiffReport), withoutTime(expectedWindow));

      const offSlice = await runCli(['report', '--group', group, '--store', store, '--from', new Date(baseMs + startMs + 30_000).toISOString()]);
      assert.equal(offSlice.code, 2);
      assert.match(offSlice.stderr, /not on a slice bound: .* per 1m of capture time/);

      const ids = (await committedVerdicts(store, group)).map((v) => v.id);
      assert.equal(new Set(ids).size, ids.length, 'a pair was committed twice to the verdicts files');
      // Pairs not judged as verdicts yet (captures never answered, shadow results still waiting for a reference) are judged by the report.
      assert.equal(ids.length, expected.totals.pairs - (await buildGroupReport({ source: { store }, group })).pendingPairs);
    } finally {
      for (const worker of workers) worker.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
    }
  });
});

test("the Prometheus metrics of every worker of a group add up, by route, to one diff's counts", { timeout: 120_000 }, async () => {
  await withStore(async (store) => {
    const group = 'metrics-group';
    // Every capture answered and no reference to wait for: each pair is then a committed verdict, which is what workers count.
    await append(store, scaleOutRecords(startMs, 0, 800, { unanswered: false, references: false }), 4);
    const workers = [0, 1].map(() => startDiffWorker(group, ['--store', store], ['--metrics-listen', '127.0.0.1:0']));
    try {
      const single = await runCli(['diff', '--store', store, '--format', 'json']);
      const expected = JSON.parse(single.stdout) as DiffReport;
      await waitFor(async () => (await groupReport(store, group))?.report.totals.pairs === expected.totals.pairs && workers.every((w) => /owns partitions \d/.test(w.stderr())), 'both workers to own partitions and commit every pair', 60_000);
      const wanted = routeCounts(expected);
      assert.equal(wanted.size, 2);
      assert.deepEqual(await scrapedPairsByRoute(workers), wanted);
      for (const worker of workers) worker.child.kill('SIGTERM');
      for (const worker of workers) assert.equal(await worker.exited, 0, worker.stderr());
    } finally {
      for (const worker of workers) worker.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
    }
  });
});

test('--store-partitions: a new store gets that many (results as many as captures), another count for an existing store is refused in one line with exit 2, and so are unequal counts by diff workers', { timeout: 60_000 }, async () => {
  await withStore(async (store) => {
    await append(store, scaleOutRecords(startMs, 0, 10), 4);
    for (const kind of [captureKind, resultKind] as const) {
      const log = await openLog<unknown>(kind, { store });
      assert.equal(await log.partitionCount!(), 4, kind.name);
      await log.close();
    }
    const other = await runCli(['replay', '--target', 'http://127.0.0.1:9', '--store', store, '--store-partitions', '2']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /--store-partitions 2: the captures of .* already have 4 partitions/);
    assert.equal(other.stderr.trim().split('\n').length, 1, other.stderr);
  });
  await withStore(async (store) => {
    const results = await openLog<Result>(resultKind, { store, storePartitions: 1 });
    await results.close();
    await append(store, scaleOutRecords(startMs, 0, 10), 4);
    const unequal = await runCli(['diff', '--follow', '--group', 'g', '--store', store]);
    assert.equal(unequal.code, 2);
    assert.match(unequal.stderr, /as many partitions of results as of captures.* has 4 and 1/);
    assert.equal(unequal.stderr.trim().split('\n').length, 1, unequal.stderr);
  });
});
