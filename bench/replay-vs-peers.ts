import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openFileLog } from '../shared/log/file-log.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { packageRoot } from '../shared/package-root.js';
import { runMeasured, type MeasuredOptions } from './child-usage.js';
import { benchKafka, fill, seconds } from './fixtures.js';
import { goTool, goTools } from './go-tools.js';
import { startPeer } from './replay-peers.js';

/**
 * Replay rate and CPU a request, each program a process of its own against the same shadow (a
 * node:http thread counting what arrives), in alternated rounds:
 *   shadowtap replay from the file log and from Kafka (results written to the same log);
 *   GoReplay's file replay of the same requests, the best of a few configurations (by default
 *   its dynamic workers reach a few hundred requests a second, and its file reader is held
 *   back unless --input-file-read-depth is raised);
 *   vegeta (a load generator, not a replayer: what one Go HTTP client sends) for BENCH_SECONDS.
 * GoReplay and vegeta are installed with `go install` into a cache folder where Go is present.
 * BASELINE_DIST=<another build's dist folder> also replays the same captures from the file log
 * with that build (its own store, written by its own file log), in the same rounds: a
 * regression shows as a ratio measured under the same load.
 *   node dist/bench/replay-vs-peers.js    (BENCH_REQUESTS=N, default 20000; BENCH_ROUNDS, default 2; BENCH_SECONDS for vegeta, default 10)
 */
const count = Number(process.env.BENCH_REQUESTS ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const vegetaSeconds = seconds(10);
const concurrency = 64;
const cli = join(packageRoot(), 'dist', 'cli', 'main.js');
const path = (i: number) => `/items/${i % 1000}`;
const baselineDist = process.env.BASELINE_DIST && resolve(process.env.BASELINE_DIST);

const goreplayConfigs: Record<string, string[]> = {
  [`${concurrency} workers`]: ['--output-http-workers', String(concurrency), '--output-http-workers-min', String(concurrency)],
  '256 workers, queue 20000': ['--output-http-workers', '256', '--output-http-workers-min', '256', '--output-http-queue-len', '20000'],
};

interface Figures {
  rate: number;
  cpuMicrosPerRequest: number;
  requests: number;
}

const kafka = await benchKafka();
const work = await mkdtemp(join(tmpdir(), 'shadowtap-replay-peers-'));
const prefix = `bench-peers-${Date.now()}.`;
const fromMs = Date.now() - 24 * 3600_000;
const toMs = fromMs + count;

/** Runs one program against a fresh shadow and reads its rate (first to last request at the shadow) and CPU a request. */
async function measure(label: string, command: string, args: (target: string) => string[], options: Omit<MeasuredOptions, 'until'> & { stopAfterAll?: boolean } = {}): Promise<Figures> {
  const shadow = await startPeer({ role: 'shadow' });
  let seen = 0;
  let seenAt = Date.now();
  const until = options.stopAfterAll
    ? () => {
        const now = shadow.requests();
        if (now !== seen) [seen, seenAt] = [now, Date.now()];
        // Everything arrived, or nothing more for 3 s (a program that dropped some).
        return now >= count || (now > 0 && Date.now() - seenAt > 3000);
      }
    : undefined;
  const usage = await runMeasured(command, args(shadow.ready), { ...options, until });
  const { requests, firstMs, lastMs } = (await shadow.close()) as { requests: number; firstMs: number; lastMs: number };
  const figures = { requests, rate: (requests / (lastMs - firstMs)) * 1000, cpuMicrosPerRequest: (usage.cpuMs * 1000) / requests };
  const lost = options.stopAfterAll && requests < count ? ` (${count - requests} of ${count} never sent)` : '';
  console.log(`  ${label.padEnd(40)} ${figures.rate.toFixed(0).padStart(6)} req/s over ${requests} requests${lost}; CPU ${figures.cpuMicrosPerRequest.toFixed(1)} µs a request`);
  return figures;
}

try {
  console.log(`writing ${count} captures to the file log, to Kafka and to a GoReplay file...`);
  const file = await openFileLog(captureKind, { dir: work });
  const topic = await openLog(captureKind, { brokers: kafka.brokers, topicPrefix: prefix, partitions: 3 });
  for (const log of [file, topic]) {
    await fill(log, count, fromMs * 1000, () => 1000);
    await log.close();
  }
  const baselineStore = join(work, 'baseline');
  if (baselineDist) {
    const [{ openFileLog: openBaselineLog }, { captureKind: baselineKind }, { fill: baselineFill }] = await Promise.all([
      import(join(baselineDist, 'shared/log/file-log.js')),
      import(join(baselineDist, 'shared/log/record-log.js')),
      import(join(baselineDist, 'bench/fixtures.js')),
    ]);
    const log = await openBaselineLog(baselineKind, { dir: baselineStore });
    await baselineFill(log, count, fromMs * 1000, () => 1000);
    await log.close();
  }
  // GoReplay's own format: a meta line (1 = request, id, time in ns, latency) and the raw request, between separators.
  const gorFile = join(work, 'requests.gor');
  const payloads = Array.from(
    { length: count },
    (_, i) => `1 ${i.toString(16).padStart(24, '0')} ${BigInt(fromMs + i) * 1_000_000n} 0\nGET ${path(i)} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n\r\n`,
  );
  await writeFile(gorFile, payloads.join('\n🐵🙈🙉\n') + '\n🐵🙈🙉\n');
  const targets = join(work, 'vegeta-targets.txt');
  const [goreplay, vegeta] = [await goTool(goTools.goreplay), await goTool(goTools.vegeta)];

  const logArgs = { file: ['--store', work], kafka: ['--brokers', kafka.brokers.join(','), '--topic-prefix', prefix] };
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round} of ${rounds}: load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const runs: Array<() => Promise<[string, Figures]>> = [
      ...(['file', 'kafka'] as const).map((log) => async (): Promise<[string, Figures]> => [
        `shadowtap ${log}`,
        await measure(`shadowtap replay from ${log === 'file' ? 'the file log' : 'Kafka'}`, cli, (target) => ['replay', ...logArgs[log], '--target', target, '--from', String(fromMs), '--to', String(toMs), '--group', `${prefix}${log}-${round}`, '--concurrency', String(concurrency), '--no-progress', '--no-reference'], { node: true }),
      ]),
      ...(baselineDist
        ? [
            async (): Promise<[string, Figures]> => [
              'baseline build',
              await measure('baseline build from the file log', join(baselineDist, 'cli', 'main.js'), (target) => ['replay', '--store', baselineStore, '--target', target, '--from', String(fromMs), '--to', String(toMs), '--group', `${prefix}baseline-${round}`, '--concurrency', String(concurrency), '--no-progress', '--no-reference'], { node: true }),
            ],
          ]
        : []),
      ...Object.entries(goreplay ? goreplayConfigs : {}).map(([name, config]) => async (): Promise<[string, Figures]> => [
        `GoReplay ${name}`,
        // 100000%: the recorded gaps (1 ms) shrunk to nothing; read depth raised so the reader keeps up.
        await measure(`GoReplay, ${name}`, goreplay!, (target) => ['--input-file', `${gorFile}|100000%`, '--input-file-read-depth', '10000', '--output-http', target, ...config], { stopAfterAll: true }),
      ]),
      ...(vegeta
        ? [
            async (): Promise<[string, Figures]> => {
              const figures = await measure(`vegeta, ${concurrency} workers, ${vegetaSeconds} s`, vegeta, (target) => {
                // The same 1,000 paths as the captures, each with their Accept header.
                writeFileSync(targets, Array.from({ length: 1000 }, (_, i) => `GET ${target.replace(/\/$/, '')}${path(i)}\nAccept: application/json\n`).join('\n'));
                return ['attack', `-targets=${targets}`, '-rate=0', `-max-workers=${concurrency}`, `-duration=${vegetaSeconds}s`, '-output=/dev/null'];
              });
              return ['vegeta', figures];
            },
          ]
        : []),
    ];
    if (round % 2 === 0) runs.reverse();
    const results = new Map<string, Figures>();
    for (const run of runs) {
      const [name, figures] = await run();
      results.set(name, figures);
    }
    const best = [...results].filter(([name]) => name.startsWith('GoReplay')).sort(([, a], [, b]) => b.rate - a.rate)[0];
    const baseline = results.get('baseline build');
    if (baseline) {
      const file = results.get('shadowtap file')!;
      console.log(`  shadowtap from the file log: ${(file.rate / baseline.rate).toFixed(2)}× the rate and ${(file.cpuMicrosPerRequest / baseline.cpuMicrosPerRequest).toFixed(2)}× the CPU a request of the baseline build (${baselineDist})`);
    }
    for (const log of ['file', 'kafka']) {
      const ours = results.get(`shadowtap ${log}`)!;
      const against = [best && [`GoReplay's best (${best[0].slice('GoReplay '.length)})`, best[1]] as const, results.has('vegeta') && (['vegeta', results.get('vegeta')!] as const)].filter((x) => !!x);
      console.log(
        `  shadowtap from ${log === 'file' ? 'the file log' : 'Kafka'}: ${against.map(([name, f]) => `${(ours.rate / f.rate).toFixed(2)}× the rate and ${(ours.cpuMicrosPerRequest / f.cpuMicrosPerRequest).toFixed(2)}× the CPU a request of ${name}`).join('; ') || 'no peer to compare with'}`,
      );
    }
  }
} finally {
  await kafka.broker?.stop();
  await rm(work, { recursive: true, force: true });
}
