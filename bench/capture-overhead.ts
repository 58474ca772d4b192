import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { startBareProxy } from './bare-proxy.js';
import { benchKafka, seconds, startJsonServer } from './fixtures.js';
import { load, printTable, type LoadFigures } from './load.js';

/**
 * Capture proxy throughput and p99 against a bare undici reverse proxy, in the same run:
 * stable → bare proxy (baseline), stable → capture → file log, stable → capture → Kafka.
 * Figures to reach: ≥ 0.85× the baseline's throughput, p99 ≤ 1.3×.
 *   node dist/bench/capture-overhead.js        (BENCH_SECONDS=N changes the 15 s per run)
 */
const duration = seconds(15);
const stable = await startJsonServer();
const kafka = await benchKafka();
const store = await mkdtemp(join(tmpdir(), 'shadowtap-bench-'));
const logger = pino({ level: 'warn' });
const rows: LoadFigures[] = [];
try {
  const bare = await startBareProxy(stable.url);
  await load('warm-up', bare.url, { seconds: 3 });
  const baseline = await load('bare undici proxy', bare.url, { seconds: duration });
  rows.push(baseline);
  await bare.close();

  for (const [name, logOptions] of [
    ['capture → file log', { store }],
    ['capture → Kafka', { brokers: kafka.brokers, topicPrefix: `bench-${Date.now()}.`, partitions: 3 }],
  ] as const) {
    const sink = await openLog(captureKind, logOptions);
    const capture = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger });
    await load('warm-up', capture.url, { seconds: 3 });
    const figures = await load(name, capture.url, { seconds: duration });
    await capture.close();
    await sink.close();
    rows.push({ ...figures, name: `${name} (delivered ${capture.metrics.delivered}, dropped ${capture.metrics.dropped})` });
  }
  const again = await startBareProxy(stable.url);
  rows.push(await load('bare undici proxy (again, for drift)', again.url, { seconds: duration }));
  await again.close();
  printTable(rows, baseline);
} finally {
  await stable.close();
  await kafka.broker?.stop();
  await rm(store, { recursive: true, force: true });
}
