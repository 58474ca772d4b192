import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startCaptureServer } from '../index.js';
import { MemorySink, rawRequest, silentLogger, startHttpServer, waitFor, type TestServer } from './helpers/capture-helpers.js';

describe('capture queue and disk spool', () => {
  let stable: TestServer;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'capture-queue-'));
    stable = await startHttpServer((req, res) => {
      req.resume();
      res.end(`answer to ${req.url}`);
    });
  });

  after(async () => {
    await stable.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function sendMany(url: string, prefix: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const res = await rawRequest(url, { path: `/item/${i}`, headers: { 'x-request-id': `${prefix}-${i}` } });
      assert.equal(res.status, 200, 'a failing log never shows to the client');
      assert.equal(res.body.toString(), `answer to /item/${i}`);
    }
  }

  test('a failing log: clients unaffected, overflow spooled, then all delivered once and in order', async () => {
    const sink = new MemorySink();
    sink.failing = true;
    const proxy = await startCaptureServer({
      port: 0,
      upstream: stable.url,
      sink,
      logger: silentLogger,
      queue: { memoryBytes: 3000, spoolDir: join(dir, 'spool-a'), retryMinMs: 5, retryMaxMs: 20 },
    });
    try {
      await sendMany(proxy.url, 'a', 40);
      await waitFor(() => proxy.metrics.recorded === 40, 'all exchanges recorded');
      assert.ok(proxy.metrics.spooled > 0, 'overflow went to the spool');
      assert.ok(proxy.metrics.logErrors > 0);
      assert.equal(sink.records.length, 0);
      sink.failing = false;
      await waitFor(() => proxy.metrics.delivered === 40, 'delivery after the log is back');
      assert.deepEqual(
        sink.records.map((c) => c.clientRequestId),
        Array.from({ length: 40 }, (_, i) => `a-${i}`),
      );
      assert.equal(proxy.metrics.dropped, 0);
      assert.equal(proxy.metrics.spoolBytes, 0);
    } finally {
      await proxy.close();
    }
  });

  test('beyond both bounds records are dropped and counted, and the metric says so', async () => {
    const sink = new MemorySink();
    sink.failing = true;
    const proxy = await startCaptureServer({
      port: 0,
      upstream: stable.url,
      sink,
      logger: silentLogger,
      metricsPort: 0,
      drainTimeoutMs: 200,
      queue: { memoryBytes: 1500, spoolDir: join(dir, 'spool-b'), spoolBytes: 1500, retryMinMs: 5, retryMaxMs: 20 },
    });
    try {
      await sendMany(proxy.url, 'b', 30);
      await waitFor(() => proxy.metrics.dropped > 0, 'drops beyond both bounds');
      const text = await (await fetch(proxy.metricsUrl!)).text();
      assert.match(text, /shadowtap_capture_dropped_total\{reason="spool-full"\} [1-9]/);
      assert.match(text, /shadowtap_capture_requests_total\{mode="proxy"\} 30/);
      assert.match(text, /shadowtap_capture_log_errors_total [1-9]/);
      sink.failing = false;
      await waitFor(() => proxy.metrics.delivered + proxy.metrics.dropped === 30, 'the rest delivered');
      const ids = sink.records.map((c) => c.id);
      assert.equal(new Set(ids).size, ids.length, 'nothing delivered twice');
    } finally {
      await proxy.close();
    }
  });

  test('records still queued at shutdown wait in the spool and are delivered by the next run', async () => {
    const spoolDir = join(dir, 'spool-c');
    const down = new MemorySink();
    down.failing = true;
    const first = await startCaptureServer({
      port: 0,
      upstream: stable.url,
      sink: down,
      logger: silentLogger,
      drainTimeoutMs: 100,
      queue: { memoryBytes: 3000, spoolDir, retryMinMs: 5, retryMaxMs: 20 },
    });
    await sendMany(first.url, 'c', 12);
    await waitFor(() => first.metrics.recorded === 12, 'all exchanges recorded');
    await first.close();
    assert.equal(first.metrics.dropped, 0, 'nothing lost at shutdown');

    const up = new MemorySink();
    const second = await startCaptureServer({ port: 0, upstream: stable.url, sink: up, logger: silentLogger, queue: { spoolDir } });
    try {
      await sendMany(second.url, 'd', 1);
      await waitFor(() => up.records.length === 13, 'the spooled records and the new one');
      assert.deepEqual(
        up.records.map((c) => c.clientRequestId),
        [...Array.from({ length: 12 }, (_, i) => `c-${i}`), 'd-0'],
      );
    } finally {
      await second.close();
    }
  });
});

describe('in-flight body budget', () => {
  test('bodies of concurrent exchanges share one bound; beyond it they are recorded truncated with their real size', async () => {
    const body = Buffer.alloc(3000, 'b');
    const release: (() => void)[] = [];
    // Stable holds every answer until all requests are in flight, so their copies coexist.
    const stable = await startHttpServer((req, res) => {
      req.resume();
      req.on('end', () => release.push(() => res.end('done')));
    });
    const sink = new MemorySink();
    const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger: silentLogger, maxInflightBodyBytes: 5000 });
    try {
      const sent = [0, 1, 2].map((i) =>
        rawRequest(proxy.url, { method: 'POST', path: `/up/${i}`, headers: { 'content-type': 'application/octet-stream' }, body }),
      );
      await waitFor(() => release.length === 3, 'three uploads in flight');
      for (const r of release) r();
      for (const res of await Promise.all(sent)) assert.equal(res.body.toString(), 'done');
      await waitFor(() => sink.records.length === 3, 'three captures');
      const kept = sink.records.reduce((n, c) => n + c.request.body.length, 0);
      assert.equal(kept, 5000, 'the copies together never exceed the budget');
      assert.ok(sink.records.every((c) => c.request.size === 3000));
      assert.ok(sink.records.some((c) => c.request.truncated));
      // Once the exchanges are over their bytes return to the budget.
      const again = rawRequest(proxy.url, { method: 'POST', path: '/up/again', headers: { 'content-type': 'application/octet-stream' }, body });
      await waitFor(() => release.length === 4, 'the fourth upload');
      release[3]();
      await again;
      await waitFor(() => sink.records.length === 4, 'the fourth capture');
      assert.equal(sink.records[3].request.truncated, false);
      assert.equal(sink.records[3].request.body.length, 3000);
    } finally {
      await proxy.close();
      await stable.close();
    }
  });
});
