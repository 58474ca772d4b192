import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind, type RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { benchKafka, seconds, startJsonServer, warmUpBroker } from './fixtures.js';
import { load } from './load.js';

/**
 * How long a capture takes from the end of its exchange until Kafka acknowledged it, at a fixed
 * RATE (2,000 requests/s by default): the capture agent's share of live-mirroring lag. Runs the
 * default queue settings and, for comparison, no linger at all (lingerMs 0).
 *   node dist/bench/capture-delivery-lag.js        (BENCH_SECONDS=N, RATE=N)
 */
const duration = seconds(15);
const rate = Number(process.env.RATE ?? 2000);
const stable = await startJsonServer();
const kafka = await benchKafka();
const logger = pino({ level: 'warn' });

/** Wraps the log so each acknowledged append records now − the exchange's end, per capture. */
function timedSink(inner: RecordLog<Capture>, lagsMs: number[]): RecordLog<Capture> {
  return {
    name: inner.name,
    read: (options) => inner.read(options),
    commit: (group, positions) => inner.commit(group, positions),
    close: () => inner.close(),
    async append(records) {
      await inner.append(records);
      const nowMicros = (performance.timeOrigin + performance.now()) * 1000;
      for (const capture of records) lagsMs.push((nowMicros - (capture.timings.end ?? capture.captureTime)) / 1000);
    },
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;


try {
  await warmUpBroker(kafka.brokers, stable.url, rate);
  console.log(`| queue | req/s | captures | batches | lag p50 ms | lag p99 ms | lag max ms |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, queue] of [
    ['lingerMs 0', { lingerMs: 0 }],
    ['default (lingerMs 5, busyLingerMs 20)', {}],
    ['lingerMs 0 (again)', { lingerMs: 0 }],
    ['default (again)', {}],
  ] as const) {
    const lagsMs: number[] = [];
    const inner = await openLog(captureKind, { brokers: kafka.brokers, topicPrefix: `lag-bench-${Date.now()}.` });
    let batches = 0;
    const sink = timedSink(inner, lagsMs);
    const append = sink.append.bind(sink);
    sink.append = (records) => {
      batches++;
      return append(records);
    };
    const agent = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger, queue });
    await load('warm-up', agent.url, { seconds: 2, connections: 10, overallRate: rate });
    lagsMs.length = 0;
    batches = 0;
    const figures = await load(name, agent.url, { seconds: duration, connections: 10, overallRate: rate });
    await agent.close();
    await inner.close();
    const sorted = lagsMs.sort((a, b) => a - b);
    console.log(
      `| ${name} | ${figures.requestsPerSecond.toFixed(0)} | ${sorted.length} | ${batches} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${sorted[sorted.length - 1].toFixed(1)} |`,
    );
  }
} finally {
  await stable.close();
  await kafka.broker?.stop();
}
