/**
 * Diff workers of a consumer group (diff --follow --group) on this machine.
 * 1. Pairs/s of 1, 2 and 3 worker processes over the same 6-partition captures and results
 *    topics, each group from the beginning until its committed state holds every pair; the
 *    baseline, in the same run, is one plain `shadowtap diff` process over the same topics.
 * 2. The verdicts topic's cost per pair: 1 worker writing verdicts against 1 worker that commits
 *    only its state and offsets, and the verdict's encoded size.
 * 3. The same over a 6-partition file-log store: 1, 2 and 3 local worker processes
 *    (diff --follow --group --store) against one plain diff over the store.
 * The machine has 2 cores shared with other work: more workers than free cores cannot scale,
 * and every figure moves with the neighbours' load; compare the ratios of one run.
 * Run: KAFKA_BROKERS=host:port node dist/bench/diff-scale-out.js [pairs]
 */
import { spawn } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileGroupState } from '../diff/scale-out/file-group-backend.js';
import { buildGroupReport } from '../diff/scale-out/group-report.js';
import { runDiffWorker } from '../diff/scale-out/diff-worker.js';
import { openKafkaGroup } from '../diff/scale-out/kafka-group-backend.js';
import { verdictCodec, verdictOf } from '../diff/scale-out/verdict-record.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { packageRoot } from '../shared/package-root.js';
import { captureV2Defaults, resultV2Defaults, type Capture, type HttpResponse, type Result } from '../shared/records/types.js';

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) {
  console.error('set KAFKA_BROKERS=host:port');
  process.exit(2);
}

// A worker process: node diff-scale-out.js --worker <prefix> <group> <verdicts: 1|0>
if (process.argv[2] === '--worker') {
  const [prefix, group, verdicts] = process.argv.slice(3);
  const controller = new AbortController();
  process.once('SIGTERM', () => controller.abort());
  const backend = await openKafkaGroup({ brokers, topicPrefix: prefix!, clientId: 'shadowtap-bench', group: group!, partitions: 6, writeVerdicts: verdicts === '1' });
  await runDiffWorker(backend, {
    group: group!,
    arrayKeys: ['$.items[*]=sku'],
    signal: controller.signal,
    onAssigned: () => process.stderr.write('assigned\n'),
  });
  process.exit(0);
}

function response(body: unknown): HttpResponse {
  const bytes = Buffer.from(JSON.stringify(body));
  return { status: 200, headers: [{ name: 'content-type', value: 'application/json' }], body: bytes, size: bytes.length, truncated: false, sha256: null };
}

const body = (seed: number, change: boolean) => ({
  id: seed,
  items: Array.from({ length: 8 }, (_, i) => ({ sku: `SKU-${seed}-${i}`, qty: i + (change && i === 3 ? 1 : 0), price: 9.99 + i })),
  owner: { name: 'Ada Lovelace', plan: change ? 'pro' : 'free' },
});

const pairs = Number(process.argv[2] ?? 30_000);
const prefix = `bench-scale-${Date.now()}.`;
// Recent times: Kafka's retention deletes records older than 7 days (by timestamp) at its next check.
const t0 = (Date.now() - 3_600_000) * 1000;
/** Records b-<from>..: a capture and its result each, one in ten results with two changed fields. */
function records(from: number, count: number): { captures: Capture[]; results: Result[] } {
  const batch = Array.from({ length: count }, (_, k) => from + k);
  return {
    captures: batch.map((i) => ({
      id: `b-${i}`,
      captureTime: t0 + i * 100,
      agent: 'bench',
      service: 'svc',
      request: { method: 'GET', path: `/orders/${i}`, query: '', headers: [], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null },
      response: response(body(i, false)),
      upstreamError: null,
      timings: { start: t0 + i * 100, firstByte: t0 + i * 100 + 500, end: t0 + i * 100 + 1000 },
      redactions: [],
      ...captureV2Defaults(),
      sampling: { rate: 1, mode: 'all' },
    })),
    results: batch.map((i) => ({
      id: `b-${i}`,
      captureId: `b-${i}`,
      source: { log: `${prefix}captures`, partition: 0, offset: 0 },
      target: 'http://shadow',
      scheduledTime: t0 + i * 100 + 10,
      sentTime: t0 + i * 100 + 10,
      attempt: 1,
      outcome: 'response' as const,
      error: null,
      skipReason: null,
      response: response(body(i, i % 10 === 0)),
      latencyMicros: 1100,
      ...resultV2Defaults(),
    })),
  };
}

const store = await mkdtemp(join(tmpdir(), 'bench-scale-store-'));
const captures = await openLog<Capture>(captureKind, { brokers, topicPrefix: prefix, partitions: 6 });
const results = await openLog<Result>(resultKind, { brokers, topicPrefix: prefix, partitions: 6 });
const storeCaptures = await openLog<Capture>(captureKind, { store, storePartitions: 6 });
const storeResults = await openLog<Result>(resultKind, { store });
for (let from = 0; from < pairs; from += 5000) {
  const batch = records(from, Math.min(5000, pairs - from));
  await captures.append(batch.captures);
  await results.append(batch.results);
  await storeCaptures.append(batch.captures);
  await storeResults.append(batch.results);
}
await storeCaptures.close();
await storeResults.close();
await captures.close();
await results.close();
console.log(`${pairs} pairs (about ${response(body(1, false)).body.length}-byte JSON bodies) in 6 partitions of ${prefix}captures/results (${brokers.join(',')}) and of a store in ${store}`);

const script = fileURLToPath(import.meta.url);

const kafka = new Kafka({ clientId: 'shadowtap-bench', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const ends = new Map<string, number>();
for (const topic of [`${prefix}captures`, `${prefix}results`]) {
  for (const { partition, high } of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}/${partition}`, Number(high));
}

/** Whether the group committed offsets (with their state, in the same transactions) at the end of every partition of both topics. */
async function committedAll(group: string): Promise<boolean> {
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [`${prefix}captures`, `${prefix}results`] });
  return offsets.every(({ topic, partitions }) => partitions.every(({ partition, offset }) => Number(offset) >= ends.get(`${topic}/${partition}`)!));
}

/** Seconds from the first worker owning partitions until the group committed every pair. */
async function groupRun(workers: number, verdicts: boolean): Promise<number> {
  const group = `bench-${workers}-${verdicts ? 'v' : 'nv'}-${Date.now()}`;
  let assigned = 0;
  const children = Array.from({ length: workers }, () => {
    const child = spawn(process.execPath, [script, '--worker', prefix, group, verdicts ? '1' : '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
    child.stderr.on('data', (c: Buffer) => (assigned += (c.toString().match(/assigned/g) ?? []).length));
    return child;
  });
  while (assigned === 0) await new Promise((r) => setTimeout(r, 20));
  const start = performance.now();
  while (!(await committedAll(group))) await new Promise((r) => setTimeout(r, 100));
  const seconds = (performance.now() - start) / 1000;
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => new Promise((r) => child.on('close', r))));
  const { report } = await buildGroupReport({ source: { brokers, topicPrefix: prefix }, group });
  if (report.totals.pairs !== pairs) throw new Error(`the group of ${workers} judged ${report.totals.pairs} pairs, not ${pairs}`);
  return seconds;
}

const cli = join(packageRoot(), 'dist', 'cli', 'main.js');
const kafkaArgs = ['--brokers', brokers.join(','), '--topic-prefix', prefix];

async function singleDiff(logArgs: string[]): Promise<number> {
  const start = performance.now();
  const child = spawn(process.execPath, [cli, 'diff', ...logArgs, '--array-key', '$.items[*]=sku', '--format', 'json', '--out', '/dev/null'], { stdio: 'ignore' });
  await new Promise((r) => child.on('close', r));
  return (performance.now() - start) / 1000;
}

const rate = (seconds: number) => pairs / seconds;
const baseline = rate(await singleDiff(kafkaArgs));
console.log(`one diff process (window, no group): ${baseline.toFixed(0)} pairs/s (baseline, includes its start-up)`);
const one = rate(await groupRun(1, true));
for (const [workers, measured] of [[1, one], [2, rate(await groupRun(2, true))], [3, rate(await groupRun(3, true))]] as const) {
  console.log(`${workers} worker${workers > 1 ? 's' : ' '}: ${measured.toFixed(0)} pairs/s, ${(measured / one).toFixed(2)}x 1 worker, ${(measured / baseline).toFixed(2)}x one diff process`);
}
const without = await groupRun(1, false);
const withVerdicts = pairs / one;
const sample = verdictCodec.encode(verdictOf({ id: 'b-10', captureId: 'b-10', method: 'GET', url: '/orders/10', route: 'GET /orders/{id}', verdict: 'mismatch', differences: [{ kind: 'body', path: '$.items[*].qty', change: 'value-changed', severity: 'value' }, { kind: 'body', path: '$.owner.plan', change: 'value-changed', severity: 'value' }] }, 0));
console.log(
  `verdicts topic: 1 worker ${withVerdicts.toFixed(2)} s with, ${without.toFixed(2)} s without: ${(((withVerdicts - without) / pairs) * 1e6).toFixed(1)} µs per pair ` +
    `(${((withVerdicts / without - 1) * 100).toFixed(0)}%); a mismatch verdict is ${sample.length} bytes of Avro before gzip`,
);

/** Seconds from the first local worker owning partitions until the state files of the group cover every record of the store. */
async function fileGroupRun(workers: number): Promise<number> {
  const group = `bench-file-${workers}`;
  let assigned = 0;
  const children = Array.from({ length: workers }, () => {
    const child = spawn(process.execPath, [cli, 'diff', '--follow', '--group', group, '--store', store, '--array-key', '$.items[*]=sku', '--summary-interval', '3600'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (c: Buffer) => (assigned += (c.toString().match(/owns partitions/g) ?? []).length));
    return child;
  });
  while (assigned === 0) await new Promise((r) => setTimeout(r, 20));
  const start = performance.now();
  const covered = async () => (await readFileGroupState(store, group)).reduce((n, { snapshot }) => n + Math.min(snapshot.next.captures, snapshot.next.results), 0);
  // Each record of a partition is an offset: every pair's capture and result read once next offsets sum to the pairs.
  while ((await covered()) < pairs) await new Promise((r) => setTimeout(r, 100));
  const seconds = (performance.now() - start) / 1000;
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => new Promise((r) => child.on('close', r))));
  const { report } = await buildGroupReport({ source: { store }, group });
  if (report.totals.pairs !== pairs) throw new Error(`the local group of ${workers} judged ${report.totals.pairs} pairs, not ${pairs}`);
  return seconds;
}

const storeBaseline = rate(await singleDiff(['--store', store]));
console.log(`file log: one diff process over the store: ${storeBaseline.toFixed(0)} pairs/s (baseline, includes its start-up)`);
const fileOne = rate(await fileGroupRun(1));
for (const [workers, measured] of [[1, fileOne], [2, rate(await fileGroupRun(2))], [3, rate(await fileGroupRun(3))]] as const) {
  console.log(`file log, ${workers} local worker${workers > 1 ? 's' : ' '}: ${measured.toFixed(0)} pairs/s, ${(measured / fileOne).toFixed(2)}x 1 worker, ${(measured / storeBaseline).toFixed(2)}x one diff process`);
}
await rm(store, { recursive: true, force: true });
process.exit(0);
