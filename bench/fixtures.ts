import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { startKafkaBroker, type KafkaBroker } from '../test/kafka/broker.js';
import { load } from './load.js';

/** A stable service for benchmarks: a 1 KB JSON answer, optionally after a delay. */
export async function startJsonServer(delayMs = 0): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const body = Buffer.from(JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ sku: `SKU-${i}`, qty: i, name: 'x'.repeat(20) })) }));
  const server = createServer((req, res) => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    };
    req.resume();
    req.on('end', () => (delayMs > 0 ? void sleep(delayMs).then(answer) : answer()));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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
