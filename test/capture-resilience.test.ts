import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCaptureServer } from '../index.js';
import { openLogForAppending } from '../shared/log/open-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { MemorySink, rawRequest, silentLogger, startHttpServer, waitFor } from './helpers/capture-helpers.js';
import { freePort } from './helpers/free-port.js';
import { kafkaBrokers, randomName, rawMessages } from './helpers/kafka-env.js';

/** A TCP door in front of the broker: closed (connections refused) until opened. */
async function brokerDoor(): Promise<{ address: string; open(): Promise<void>; close(): Promise<void> }> {
  const port = await freePort();
  const [host, brokerPort] = kafkaBrokers()[0]!.split(':');
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  return {
    address: `127.0.0.1:${port}`,
    async open() {
      server = createServer((client) => {
        const broker = connect(Number(brokerPort), host);
        for (const s of [client, broker]) {
          sockets.add(s);
          s.on('error', () => undefined).on('close', () => sockets.delete(s));
        }
        client.pipe(broker).pipe(client);
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    },
  };
}

const probe = async (url: string) => {
  const { origin, pathname } = new URL(url);
  const res = await rawRequest(origin, { path: pathname });
  return { status: res.status, body: JSON.parse(res.body.toString()) as { log: string; ready?: boolean } };
};

test('capture serves from its first second with Kafka unreachable, spools, and delivers everything once Kafka is reachable', { timeout: 120_000 }, async () => {
  const door = await brokerDoor();
  const spoolDir = await mkdtemp(join(tmpdir(), 'shadowtap-capture-down-'));
  const stable = await startHttpServer((req, res) => res.end(`stable ${req.url}`));
  const topicPrefix = `${randomName('capture-down')}.`;
  const sink = await openLogForAppending(captureKind, { brokers: [door.address], topicPrefix, partitions: 1 });
  const proxy = await startCaptureServer({
    port: 0,
    upstream: stable.url,
    sink,
    logger: silentLogger,
    metricsPort: 0,
    // A memory queue too small for the captures: they go on to the disk spool.
    queue: { memoryBytes: 4096, spoolDir, retryMinMs: 50, retryMaxMs: 500 },
  });
  const admin = proxy.metricsUrl!.replace(/\/metrics$/, '');
  try {
    const ids = Array.from({ length: 30 }, (_, i) => `down-${i}`);
    for (const id of ids) {
      const res = await rawRequest(proxy.url, { path: `/orders/${id}`, headers: { 'x-request-id': id } });
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), `stable /orders/${id}`);
    }
    // Ready whatever the log's state; health and metrics say the log is away.
    assert.equal((await probe(`${admin}/readyz`)).status, 200);
    await waitFor(async () => (await probe(`${admin}/healthz`)).body.log === 'unreachable', 'healthz to report the log unreachable', 60_000);
    assert.match((await rawRequest(admin, { path: '/metrics' })).body.toString(), /shadowtap_capture_log_up 0/);
    await waitFor(() => proxy.metrics.spoolBytes > 0, 'captures in the disk spool', 30_000);
    assert.equal(proxy.metrics.delivered, 0);

    await door.open();
    await waitFor(() => proxy.metrics.delivered === ids.length, 'every capture delivered once Kafka is reachable', 60_000);
    const health = await probe(`${admin}/healthz`);
    assert.equal(health.body.log, 'connected');
    assert.match((await rawRequest(admin, { path: '/metrics' })).body.toString(), /shadowtap_capture_log_up 1/);
    const messages = await rawMessages(`${topicPrefix}captures`, ids.length);
    assert.equal(messages.length, ids.length);
    assert.equal(proxy.metrics.dropped, 0);
  } finally {
    await proxy.close();
    await sink.close();
    await door.close();
    await stable.close();
    await rm(spoolDir, { recursive: true, force: true });
  }
});

test('readiness turns 503 while the agent drains on shutdown', async () => {
  const hung: Array<() => void> = [];
  const stable = await startHttpServer((req, res) => {
    if (req.url === '/slow') hung.push(() => res.end('late'));
    else res.end('ok');
  });
  const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink: new MemorySink(), logger: silentLogger, metricsPort: 0 });
  const admin = proxy.metricsUrl!.replace(/\/metrics$/, '');
  const ready = await probe(`${admin}/readyz`);
  assert.deepEqual([ready.status, ready.body.ready, ready.body.log], [200, true, 'connected']);
  const inFlight = rawRequest(proxy.url, { path: '/slow' });
  await waitFor(() => hung.length === 1, 'the slow request at stable');
  const closing = proxy.close();
  const draining = await probe(`${admin}/readyz`);
  assert.deepEqual([draining.status, draining.body.ready], [503, false]);
  hung[0]!();
  assert.equal((await inFlight).status, 200);
  await closing;
  await stable.close();
});

test('a stable that does not answer within --upstream-timeout: the client gets 504 and the capture records the timeout', async () => {
  const hung: Array<() => void> = [];
  const stable = await startHttpServer((req, res) => {
    if (req.url === '/hang') hung.push(() => res.end());
    else res.end('fine');
  });
  const sink = new MemorySink();
  const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger: silentLogger, upstreamTimeoutMs: 200 });
  try {
    const res = await rawRequest(proxy.url, { path: '/hang' });
    assert.equal(res.status, 504);
    assert.match(res.body.toString(), /did not answer within 0\.2 s/);
    assert.equal((await rawRequest(proxy.url, { path: '/quick' })).status, 200);
    await waitFor(() => sink.records.length === 2, 'both captures');
    const capture = sink.records.find((c) => c.request.path === '/hang')!;
    assert.equal(capture.response, null);
    assert.match(capture.upstreamError ?? '', /timeout: stable sent nothing for 0\.2 s/);
  } finally {
    for (const end of hung) end();
    await proxy.close();
    await stable.close();
  }
});

test('a request head larger than the limit gets 431, not 400', async () => {
  const stable = await startHttpServer((_req, res) => res.end('fine'));
  const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink: new MemorySink(), logger: silentLogger, maxHeaderBytes: 8 * 1024 });
  try {
    const res = await rawRequest(proxy.url, { headers: { 'x-huge': 'a'.repeat(16 * 1024) } }).catch((error: Error) => ({ status: -1, error }));
    assert.equal(res.status, 431);
  } finally {
    await proxy.close();
    await stable.close();
  }
});

test('bytes that do not parse after a whole request (a GET body without a length): the request still gets stable’s answer and is recorded, then 400', async () => {
  // Stable answers a little later, so the bad bytes arrive while the request is in flight.
  const stable = await startHttpServer((_req, res) => setTimeout(() => res.end('stable answer'), 50));
  const sink = new MemorySink();
  const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger: silentLogger });
  try {
    const { port } = new URL(proxy.url);
    const received = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /bad-json HTTP/1.1\r\nhost: api.example.test\r\ncontent-type: application/json\r\n\r\n{bad'));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nstable answer(HTTP\/1\.1 400 Bad Request\r\n)/);
    await waitFor(() => sink.records.length === 1, 'the capture');
    assert.equal(sink.records[0]!.response?.status, 200);
    assert.equal(sink.records[0]!.upstreamError, null);
  } finally {
    await proxy.close();
    await stable.close();
  }
});
