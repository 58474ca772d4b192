import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind, type RecordLog } from '../shared/log/record-log.js';
import { captureV2Defaults, type Capture } from '../shared/records/types.js';
import { listenLocal, type LocalServer } from '../test/helpers/local-server.js';
import { startKafkaBroker, type KafkaBroker } from '../test/kafka/broker.js';
import { load } from './load.js';

/** A stable service for benchmarks: a 1 KB JSON answer, optionally after a delay. */
/** The JSON document stable answers in the capture benchmarks (~1 KB), also a shadow's answer in the replay ones. */
export const itemsDocument = JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ sku: `SKU-${i}`, qty: i, name: 'x'.repeat(20) })) });

export function startJsonServer(delayMs = 0): Promise<LocalServer> {
  const body = Buffer.from(itemsDocument);
  const server = createServer((req, res) => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    };
    req.resume();
    req.on('end', () => (delayMs > 0 ? void sleep(delayMs).then(answer) : answer()));
  });
  server.keepAliveTimeout = 60_000;
  return listenLocal(server);
}

/** KAFKA_BROKERS when set, else a broker of our own for the length of the benchmark. */
export async function benchKafka(): Promise<{ brokers: string[]; broker?: KafkaBroker }> {
  if (process.env.KAFKA_BROKERS) return { brokers: process.env.KAFKA_BROKERS.split(',') };
  const broker = await startKafkaBroker();
  return { brokers: [broker.brokers], broker };
}

export function seconds(defaultSeconds: number): number {
  const value = Number(process.env.BENCH_SECONDS);
  return Number.isFinite(value) && value > 0 ? value : defaultSeconds;
}

/** A fresh broker's JVM is several times slower until its JIT has warmed up: not what a benchmark measures. */
export async function warmUpBroker(brokers: string[], upstream: string, rate: number): Promise<void> {
  const sink = await openLog(captureKind, { brokers, topicPrefix: `bench-warm-up-${Date.now()}.` });
  const agent = await startCaptureServer({ port: 0, upstream, sink, logger: pino({ level: 'warn' }) });
  await load('warm-up', agent.url, { seconds: 20, connections: 10, overallRate: rate });
  await agent.close();
  await sink.close();
}

/** A small GET capture, `bench-<i>`, recorded at `timeMicros`. */
export function benchCapture(i: number, timeMicros: number): Capture {
  return {
    id: `bench-${i}`,
    captureTime: timeMicros,
    agent: 'bench',
    service: 'bench',
    request: { method: 'GET', path: `/items/${i % 1000}`, query: '', headers: [{ name: 'accept', value: 'application/json' }], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null },
    response: null,
    upstreamError: null,
    timings: { start: timeMicros, firstByte: null, end: null },
    redactions: [],
    ...captureV2Defaults(),
    sampling: { rate: 1, mode: 'all' },
  };
}

/** Appends `count` captures, the i-th `gapMicros(i)` after the one before. */
export async function fill(log: RecordLog<Capture>, count: number, startMicros: number, gapMicros: (i: number) => number): Promise<void> {
  let time = startMicros;
  for (let i = 0; i < count; i += 5000) {
    const batch: Capture[] = [];
    for (let j = i; j < Math.min(count, i + 5000); j++) {
      batch.push(benchCapture(j, time));
      time += gapMicros(j);
    }
    await log.append(batch);
  }
}
