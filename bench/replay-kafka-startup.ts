import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileLog } from '../shared/log/file-log.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { packageRoot } from '../shared/package-root.js';
import { runMeasured } from './child-usage.js';
import { startKafkaBroker } from '../test/kafka/broker.js';
import { benchKafka, fill } from './fixtures.js';
import { startPeer } from './replay-peers.js';

/**
 * `shadowtap replay` of one window of captures (200,000 by default) from Kafka and from the file
 * log, as users run it (a process of its own, results written to the same kind of log), in
 * alternated rounds, each pair in the same round:
 *   fixed overhead = start to the first request at the shadow + the last request at the shadow to exit
 *     (the last request comes before its Result is acknowledged, so this is the stricter end);
 *   throughput = requests between the first and the last; RSS peak and CPU of the whole process (every thread).
 * Then `--follow` over the same topic with a new group (a consumer group member, so its start
 * includes the group join): start to the first request, and the last request to exit (sent
 * SIGTERM once the shadow has every request; the bench polls every 200 ms, so up to 200 ms of
 * that is the bench's).
 * Last, `--follow` with a new group on a broker of the bench's own configured as production
 * brokers are (`group.initial.rebalance.delay.ms` 3000, Kafka's default; the shared test broker
 * has 0), over BENCH_FOLLOW_CAPTURES captures (2,000): start to the first request, as a group
 * member and with `--solo` (every partition read directly, no join).
 *   node dist/bench/replay-kafka-startup.js      (BENCH_CAPTURES=N, BENCH_ROUNDS=N; default 200000 and 3)
 */
const count = Number(process.env.BENCH_CAPTURES ?? 200_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const followCount = Number(process.env.BENCH_FOLLOW_CAPTURES ?? 2000);
/** Kafka's default, which production brokers keep. */
const productionRebalanceDelayMs = 3000;
const cli = join(packageRoot(), 'dist', 'cli', 'main.js');

const kafka = await benchKafka();
const work = await mkdtemp(join(tmpdir(), 'shadowtap-replay-startup-'));
const prefix = `bench-startup-${Date.now()}.`;
const fromMs = Date.now() - 24 * 3600_000;
const toMs = fromMs + count;

interface Run {
  overheadMs: number;
  startMs: number;
  exitMs: number;
  rate: number;
  rssMiB: number;
  cpuMicrosPerRequest: number;
}

type Mode = 'file' | 'kafka' | 'follow' | 'solo';

async function replay(log: Mode, round: number, brokers = kafka.brokers, expected = count): Promise<Run> {
  const logArgs = log === 'file' ? ['--store', work] : ['--brokers', brokers.join(','), '--topic-prefix', prefix];
  const follows = log === 'follow' || log === 'solo';
  const window = follows ? ['--follow', '--from', String(fromMs), ...(log === 'solo' ? ['--solo'] : [])] : ['--from', String(fromMs), '--to', String(toMs)];
  const shadow = await startPeer({ role: 'shadow' });
  const args = ['replay', ...logArgs, '--target', shadow.ready, ...window, '--group', `${prefix}${log}-${round}`, '--no-progress', '--no-reference'];
  const usage = await runMeasured(cli, args, { node: true, until: follows ? () => shadow.requests() >= expected : undefined });
  const { requests, firstMs, lastMs } = (await shadow.close()) as { requests: number; firstMs: number; lastMs: number };
  if (usage.exitCode !== 0 || requests !== expected) throw new Error(`replay from ${log} exited ${usage.exitCode} after ${requests} of ${expected} requests: ${usage.stderr.trim()}`);
  const run = {
    startMs: firstMs - usage.startMs,
    exitMs: usage.exitMs - lastMs,
    overheadMs: firstMs - usage.startMs + (usage.exitMs - lastMs),
    rate: (requests / (lastMs - firstMs)) * 1000,
    rssMiB: usage.maxRssMiB ?? NaN,
    cpuMicrosPerRequest: (usage.cpuMs * 1000) / requests,
  };
  console.log(
    `  ${log.padEnd(6)} start→first ${run.startMs.toFixed(0)} ms, last→exit ${run.exitMs.toFixed(0)} ms (fixed ${(run.overheadMs / 1000).toFixed(2)} s); ${run.rate.toFixed(0)} req/s; RSS ${run.rssMiB.toFixed(0)} MiB; CPU ${run.cpuMicrosPerRequest.toFixed(1)} µs a request`,
  );
  return run;
}

try {
  console.log(`writing ${count} captures to the file log and to Kafka (3 partitions)...`);
  const file = await openFileLog(captureKind, { dir: work });
  const topic = await openLog(captureKind, { brokers: kafka.brokers, topicPrefix: prefix, partitions: 3 });
  for (const log of [file, topic]) {
    await fill(log, count, fromMs * 1000, () => 1000);
    await log.close();
  }
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round} of ${rounds}: load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${process.env.BENCH_NOTE ?? 'other processes share this machine'})`);
    // Alternated order, so neither log always runs on the warmer machine.
    const order = round % 2 === 1 ? (['file', 'kafka', 'follow'] as const) : (['follow', 'kafka', 'file'] as const);
    const runs: Partial<Record<Mode, Run>> = {};
    for (const log of order) runs[log] = await replay(log, round);
    const { file: f, kafka: k, follow: w } = runs as Record<Mode, Run>;
    console.log(
      `  Kafka vs file log: fixed overhead ${(k.overheadMs / 1000).toFixed(2)} s vs ${(f.overheadMs / 1000).toFixed(2)} s (goal ≤ 2 s); RSS ${(k.rssMiB / f.rssMiB).toFixed(2)}× (goal ≤ 1.5×); throughput ${(k.rate / f.rate).toFixed(2)}× (goal ≥ 0.9×); CPU a request ${(k.cpuMicrosPerRequest / f.cpuMicrosPerRequest).toFixed(2)}×`,
    );
    console.log(`  Kafka --follow: start→first ${(w.startMs / 1000).toFixed(2)} s (goal about 1 s); throughput ${(w.rate / f.rate).toFixed(2)}× the file log's window`);
  }
  console.log(`--follow with a new group on a broker configured as production (group.initial.rebalance.delay.ms ${productionRebalanceDelayMs}), ${followCount} captures:`);
  const production = await startKafkaBroker({ groupInitialRebalanceDelayMs: productionRebalanceDelayMs });
  try {
    const captures = await openLog(captureKind, { brokers: [production.brokers], topicPrefix: prefix, partitions: 3 });
    await fill(captures, followCount, fromMs * 1000, () => 1000);
    await captures.close();
    const follow = await replay('follow', 0, [production.brokers], followCount);
    const solo = await replay('solo', 0, [production.brokers], followCount);
    console.log(
      `  Kafka --follow on a production-configured broker: start→first ${(follow.startMs / 1000).toFixed(2)} s as a group member, ${(solo.startMs / 1000).toFixed(2)} s with --solo (goal about 1 s)`,
    );
  } finally {
    await production.stop();
  }
} finally {
  await kafka.broker?.stop();
  await rm(work, { recursive: true, force: true });
}
