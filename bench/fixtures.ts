import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKafkaBroker, type KafkaBroker } from '../test/kafka/broker.js';

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
