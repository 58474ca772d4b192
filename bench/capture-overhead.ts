import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import { openLog, type LogOptions } from '../shared/log/open-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { startBareProxy } from './bare-proxy.js';
import { benchKafka, seconds, startJsonServer } from './fixtures.js';
import { load, meanOf, printTable, type LoadFigures } from './load.js';

/**
 * Capture proxy throughput and p99 against a bare undici reverse proxy, in the same run:
 * stable → bare proxy, → capture → file log, → capture → Kafka (default compression `auto`),
 * → capture → Kafka without compression. The setups take turns for BENCH_ROUNDS rounds (2 by
 * default) and each row is the mean of its rounds, so drift of a shared machine hits all alike.
 * Figures to reach: ≥ 0.85× the bare proxy's throughput, p99 ≤ 1.3×.
 *   node dist/bench/capture-overhead.js        (BENCH_SECONDS=N changes the 15 s per run)
 */
const duration = seconds(15);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const stable = await startJsonServer();
const kafka = await benchKafka();
const store = await mkdtemp(join(tmpdir(), 'shadowtap-bench-'));
const logger = pino({ level: 'warn' });

async function bare(name: string): Promise<LoadFigures> {
  const proxy = await startBareProxy(stable.url);
  try {
    await load('warm-up', proxy.url, { seconds: 2 });
    return await load(name, proxy.url, { seconds: duration });
  } finally {
    await proxy.close();
  }
}

async function capture(name: string, logOptions: LogOptions, runSeconds = duration): Promise<LoadFigures> {
  const sink = await openLog(captureKind, logOptions);
  const agent = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger });
  try {
    await load('warm-up', agent.url, { seconds: 2 });
    const figures = await load(name, agent.url, { seconds: runSeconds });
    await agent.close();
    if (agent.metrics.dropped > 0) console.log(`${name}: ${agent.metrics.dropped} captures dropped`);
    return figures;
  } finally {
    await agent.close();
    await sink.close();
  }
}

const kafkaOptions = (compression: 'auto' | 'none'): LogOptions => ({
  brokers: kafka.brokers,
  partitions: 3,
  topicPrefix: `bench-${Date.now()}-${compression}.`,
  compression,
});
const setups: Array<[string, () => Promise<LoadFigures>]> = [
  ['bare undici proxy', () => bare('bare undici proxy')],
  ['capture → file log', () => capture('capture → file log', { store })],
  ['capture → Kafka (compression auto)', () => capture('capture → Kafka (compression auto)', kafkaOptions('auto'))],
  ['capture → Kafka (compression none)', () => capture('capture → Kafka (compression none)', kafkaOptions('none'))],
];
try {
  // A fresh broker's JVM is several times slower until its JIT has warmed up: not what is measured here.
  await capture('warm-up of the broker', kafkaOptions('auto'), 20);
  const runs = new Map<string, LoadFigures[]>(setups.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, measure] of setups) runs.get(name)!.push(await measure());
  }
  const rows = [...runs].map(([name, figures]) => meanOf(name, figures));
  printTable(rows, rows[0]);
  console.log(`
${rounds} rounds of ${duration} s; each row is the mean of its rounds. Per round:`);
  printTable([...runs.values()].flat(), rows[0]);
} finally {
  await stable.close();
  await kafka.broker?.stop();
  await rm(store, { recursive: true, force: true });
}
