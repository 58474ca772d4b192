import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startCaptureServer, type CaptureServer } from '../index.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind, type RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { headerValue } from '../shared/records/types.js';
import { endToEnd, MemorySink, rawRequest, readAll, silentLogger, startHttpServer, waitFor, type TestServer } from './helpers/capture-helpers.js';

const binary = randomBytes(4096);
const large = randomBytes(200 * 1024);
const gzipped = gzipSync(Buffer.from(JSON.stringify({ hello: 'world', n: [1, 2, 3] })));
const MAX_BODY = 64 * 1024;

/** Stable: one route per kind of answer the proxy must pass through untouched. */
async function startStable(): Promise<TestServer> {
  return startHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      switch (path) {
        case '/json':
          res.setHeader('X-Multi', ['one', 'two']);
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ ok: true, method: req.method, got: Buffer.concat(chunks).toString() }));
          return;
        case '/gzip':
          res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': gzipped.length });
          res.end(gzipped);
          return;
        case '/chunked':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first,');
          setImmediate(() => res.end('second'));
          return;
        case '/binary':
          res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(binary);
          return;
        case '/large':
          res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(large);
          return;
        case '/no-content':
          res.writeHead(204, { 'x-why': 'nothing' }).end();
          return;
        case '/not-modified':
          res.writeHead(304, { etag: '"v1"' }).end();
          return;
        case '/redirect':
          res.writeHead(302, { location: '/json' }).end();
          return;
        case '/abort':
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
          res.write('partial');
          setImmediate(() => res.socket?.destroy());
          return;
        case '/echo-id':
          res.end(String(req.headers['x-request-id'] ?? 'none'));
          return;
        case '/echo-host':
          res.end(String(req.headers.host));
          return;
        case '/big-headers':
          res.writeHead(200, { 'x-big': 'b'.repeat(30_000) }).end('ok');
          return;
        default:
          res.writeHead(404).end('no route');
      }
    });
  });
}

describe('capture proxy', () => {
  let stable: TestServer;
  let proxy: CaptureServer;
  let log: RecordLog<Capture>;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'capture-proxy-'));
    log = await openFileLog(captureKind, { dir });
    stable = await startStable();
    proxy = await startCaptureServer({
      port: 0,
      upstream: stable.url,
      sink: log,
      service: 'orders',
      maxBodyBytes: MAX_BODY,
      forwardRequestId: true,
      logger: silentLogger,
    });
  });

  after(async () => {
    await proxy.close();
    await stable.close();
    await log.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cases: { name: string; method?: string; path: string; body?: string; headers?: Record<string, string> }[] = [
    { name: 'JSON', path: '/json?x=1' },
    { name: 'JSON POST with a body', method: 'POST', path: '/json', body: '{"a":1}', headers: { 'content-type': 'application/json' } },
    { name: 'gzip', path: '/gzip', headers: { 'accept-encoding': 'gzip' } },
    { name: 'chunked', path: '/chunked' },
    { name: 'binary', path: '/binary' },
    { name: 'HEAD', method: 'HEAD', path: '/json' },
    { name: '204', path: '/no-content' },
    { name: '304', path: '/not-modified', headers: { 'if-none-match': '"v1"' } },
    { name: 'redirect (not followed)', path: '/redirect' },
    { name: 'large', path: '/large' },
    { name: 'large response headers', path: '/big-headers' },
    { name: 'large request headers', path: '/json', headers: { 'x-large': 'a'.repeat(30_000) } },
    { name: 'Expect: 100-continue', method: 'POST', path: '/json', body: 'payload', headers: { expect: '100-continue' } },
  ];

  for (const c of cases) {
    test(`passes stable's ${c.name} answer through unchanged`, async () => {
      const options = { method: c.method, path: c.path, body: c.body, headers: c.headers };
      const direct = await rawRequest(stable.url, options);
      const proxied = await rawRequest(proxy.url, options);
      assert.equal(proxied.status, direct.status);
      assert.equal(proxied.statusMessage, direct.statusMessage);
      assert.deepEqual(endToEnd(proxied.rawHeaders), endToEnd(direct.rawHeaders));
      assert.ok(proxied.body.equals(direct.body), `body of ${c.path} differs`);
    });
  }

  test('a body cut by stable reaches the client cut, and the capture says why', async () => {
    const before = proxy.metrics.recorded;
    const proxied = await rawRequest(proxy.url, { path: '/abort', headers: { 'x-request-id': 'abort-1' } });
    assert.notEqual(proxied.error, null);
    assert.equal(proxied.body.toString(), 'partial');
    await waitFor(() => proxy.metrics.recorded > before, 'the aborted exchange to be recorded');
  });

  test('a client that disconnects mid-upload: stable sees the abort, the capture says so', async () => {
    const before = proxy.metrics.recorded;
    const seen = proxy.metrics.requests;
    const socket = connect(proxy.port, '127.0.0.1');
    socket.write('POST /json HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\nx-request-id: upload-cut\r\n\r\nfirst-bytes');
    await waitFor(() => proxy.metrics.requests > seen, 'the upload to reach the proxy');
    socket.destroy();
    await waitFor(() => proxy.metrics.recorded > before, 'the cut exchange to be recorded');
  });

  test("request ids: always generated; a client's x-request-id is kept apart and reaches stable unchanged", async () => {
    const given = await rawRequest(proxy.url, { path: '/echo-id', headers: { 'x-request-id': 'given-id-1' } });
    assert.equal(given.body.toString(), 'given-id-1');
    const generated = await rawRequest(proxy.url, { path: '/echo-id?gen=1' });
    assert.match(generated.body.toString(), /^[0-9a-f-]{36}$/);
    await waitFor(() => proxy.metrics.delivered === proxy.metrics.recorded, 'the queue to drain');
    const captures = (await readAll(log)).filter((c) => c.request.path === '/echo-id');
    const fromClient = captures.find((c) => c.request.query === '')!;
    assert.equal(fromClient.clientRequestId, 'given-id-1');
    assert.match(fromClient.id, /^[0-9a-f-]{36}$/);
    const minted = captures.find((c) => c.request.query === 'gen=1')!;
    assert.equal(minted.clientRequestId, null);
    // --forward-request-id: stable got the capture's own id, and the capture says so.
    assert.equal(minted.id, generated.body.toString());
    assert.equal(headerValue(minted.request.headers, 'x-request-id'), minted.id);
  });

  test('captures hold request, stable response, truncation and timings', async () => {
    await rawRequest(proxy.url, { path: '/json?q=7', headers: { 'x-request-id': 'json-7' } });
    await waitFor(() => proxy.metrics.delivered === proxy.metrics.recorded, 'the queue to drain');
    const captures = await readAll(log);
    const byId = (id: string) => captures.find((c) => c.clientRequestId === id);

    const json = byId('json-7');
    assert.ok(json, 'capture json-7 exists');
    assert.equal(json.service, 'orders');
    assert.equal(json.request.method, 'GET');
    assert.equal(json.request.path, '/json');
    assert.equal(json.request.query, 'q=7');
    assert.equal(json.response?.status, 200);
    assert.deepEqual(JSON.parse(json.response!.body.toString()), { ok: true, method: 'GET', got: '' });
    assert.deepEqual(
      json.response!.headers.filter((h) => h.name.toLowerCase() === 'x-multi').map((h) => h.value),
      ['one', 'two'],
    );
    assert.ok(json.timings.firstByte! >= json.timings.start && json.timings.end! >= json.timings.firstByte!);
    assert.deepEqual({ ...json.sampling }, { rate: 1, mode: 'all' });
    // The request as stable received it: the client's Host (kept, as a sidecar keeps it) and the proxy's X-Forwarded-* additions.
    assert.equal(headerValue(json.request.headers, 'host'), new URL(proxy.url).host);
    assert.equal(headerValue(json.request.headers, 'x-forwarded-for'), '127.0.0.1');
    assert.equal(headerValue(json.request.headers, 'x-forwarded-host'), new URL(proxy.url).host);
    assert.equal(headerValue(json.request.headers, 'x-forwarded-proto'), 'http');
    assert.equal(json.request.sha256, createHash('sha256').digest('hex'), 'an empty body has the empty hash');
    assert.equal(json.response!.sha256, createHash('sha256').update(json.response!.body).digest('hex'));

    const largeCapture = captures.find((c) => c.request.path === '/large');
    assert.ok(largeCapture);
    assert.equal(largeCapture.response!.truncated, true);
    assert.equal(largeCapture.response!.size, large.length);
    assert.equal(largeCapture.response!.body.length, MAX_BODY);
    assert.ok(largeCapture.response!.body.equals(large.subarray(0, MAX_BODY)));
    assert.equal(largeCapture.response!.sha256, createHash('sha256').update(large).digest('hex'), 'the hash covers the whole body');

    const gzipCapture = captures.find((c) => c.request.path === '/gzip');
    assert.ok(gzipCapture!.response!.body.equals(gzipped), 'compressed body recorded as received');
    assert.equal(headerValue(gzipCapture!.response!.headers, 'content-encoding'), 'gzip');

    const aborted = byId('abort-1');
    assert.ok(aborted?.upstreamError, 'aborted exchange has upstreamError');
    assert.equal(aborted.response?.body.toString(), 'partial');

    const cut = byId('upload-cut');
    assert.equal(cut?.upstreamError, 'client closed the connection');
    assert.equal(cut.response, null);

    const post = captures.find((c) => c.request.method === 'POST' && c.request.body.toString() === '{"a":1}');
    assert.ok(post, 'POST body recorded');
    assert.equal(post.request.size, 7);
    assert.equal(post.request.sha256, createHash('sha256').update('{"a":1}').digest('hex'));
    assert.ok(!post.request.headers.some((h) => h.name.toLowerCase() === 'connection'), 'hop-by-hop headers are not recorded');
  });

  test("stable gets the client's Host, as behind a sidecar; --rewrite-host sends the upstream's", async () => {
    const kept = await rawRequest(proxy.url, { path: '/echo-host', headers: { host: 'shop.example.test' } });
    assert.equal(kept.body.toString(), 'shop.example.test');
    const sink = new MemorySink();
    const rewriting = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger: silentLogger, rewriteHost: true });
    try {
      const rewritten = await rawRequest(rewriting.url, { path: '/echo-host', headers: { host: 'shop.example.test' } });
      assert.equal(rewritten.body.toString(), new URL(stable.url).host);
      await waitFor(() => sink.records.length === 1, 'the capture');
      assert.equal(headerValue(sink.records[0]!.request.headers, 'host'), new URL(stable.url).host, 'the capture records the Host stable got');
    } finally {
      await rewriting.close();
    }
  });

  test('WebSocket-style upgrades are tunnelled to stable', async () => {
    const upstream = await startHttpServer((_req, res) => res.end());
    upstream.server.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(d));
      socket.on('end', () => socket.end());
    });
    const tunnel = await startCaptureServer({ port: 0, upstream: upstream.url, sink: new MemorySink(), logger: silentLogger });
    try {
      const socket = connect(tunnel.port, '127.0.0.1');
      socket.write(`GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n`);
      let seen = '';
      socket.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('\r\n\r\n') && !seen.includes('ping')) socket.write('ping');
      });
      await waitFor(() => seen.includes('ping'), 'the echo through the tunnel');
      assert.match(seen, /^HTTP\/1.1 101/);
      socket.destroy();
      assert.equal(tunnel.metrics.recorded, 0, 'upgraded connections are not recorded');
    } finally {
      await tunnel.close();
      await upstream.close();
    }
  });
});

describe('capture proxy with stable down', () => {
  test('answers 502 and records the capture with upstreamError', async () => {
    const gone = await startHttpServer((_req, res) => res.end());
    await gone.close();
    const sink = new MemorySink();
    const proxy = await startCaptureServer({ port: 0, upstream: gone.url, sink, logger: silentLogger });
    try {
      const res = await rawRequest(proxy.url, { path: '/orders?id=3', headers: { 'x-request-id': 'down-1' } });
      assert.equal(res.status, 502);
      assert.match(res.body.toString(), /stable did not answer/);
      await waitFor(() => sink.records.length === 1, 'the capture of the failed exchange');
      const [capture] = sink.records;
      assert.equal(capture.clientRequestId, 'down-1');
      assert.equal(capture.response, null);
      assert.match(capture.upstreamError ?? '', /ECONNREFUSED/);
    } finally {
      await proxy.close();
    }
  });
});
