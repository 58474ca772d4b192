import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runReplay } from '../replay/replay-worker.js';
import type { LogEntry, ReadOptions } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { makeCapture, readAll, startServer, tempStore, type TestServer, type TestStore } from './helpers/replay-helpers.js';

const t0 = Date.UTC(2026, 0, 1);

describe('replay worker against a real shadow', () => {
  let shadow: TestServer;
  let store: TestStore;

  before(async () => {
    shadow = await startServer((req, res) => {
      res.setHeader('x-a', '1');
      res.appendHeader('x-dup', 'one');
      res.appendHeader('x-dup', 'two');
      res.end(`shadow saw ${req.url}`);
    });
    store = await tempStore();
  });
  after(async () => {
    await shadow.close();
    await store.cleanup();
  });

  it('writes one Result per capture, sends safe methods with markers, skips unsafe ones', async () => {
    await store.captures.append([
      makeCapture('get-1', t0, {
        path: '/items',
        query: 'a=1&a=2',
        headers: [
          { name: 'Host', value: 'stable.local' },
          { name: 'X-Tag', value: 'one' },
          { name: 'X-Tag', value: 'two' },
          { name: 'Connection', value: 'keep-alive, X-Hop' },
          { name: 'X-Hop', value: 'drop me' },
          { name: 'Proxy-Authorization', value: 'secret' },
          { name: 'Content-Length', value: '999' },
          { name: 'X-Remove', value: 'gone' },
        ],
      }),
      makeCapture('post-1', t0 + 1, { method: 'POST', path: '/orders', body: Buffer.from('{"q":1}'), size: 7 }),
      makeCapture('head-1', t0 + 2, { method: 'HEAD', path: '/head' }),
      makeCapture('put-1', t0 + 3, { method: 'PUT', path: '/put', body: Buffer.from('x'), size: 1 }),
      makeCapture('trunc-1', t0 + 4, { method: 'GET', path: '/big', truncated: true }),
    ]);
    process.env.SHADOWTAP_TEST_TOKEN = 'from-env';
    const summary = await runReplay({
      source: store.captures,
      results: store.results,
      target: shadow.url,
      setHeaders: [
        { name: 'x-env', value: 'env:SHADOWTAP_TEST_TOKEN' },
        { name: 'x-set', value: 'yes' },
      ],
      removeHeaders: ['x-remove'],
    });

    const results = await readAll(store.results);
    const byId = new Map(results.map((r) => [r.id, r]));
    assert.deepEqual([...byId.keys()].sort(), ['get-1', 'head-1', 'post-1', 'put-1', 'trunc-1']);
    assert.equal(byId.get('post-1')!.skipReason, 'unsafe-method');
    assert.equal(byId.get('put-1')!.skipReason, 'unsafe-method');
    assert.equal(byId.get('trunc-1')!.skipReason, 'truncated-body');
    assert.equal(byId.get('head-1')!.outcome, 'response');

    const get = byId.get('get-1')!;
    assert.equal(get.outcome, 'response');
    assert.equal(get.attempt, 1);
    assert.equal(get.response!.status, 200);
    assert.equal(get.response!.body.toString(), 'shadow saw /items?a=1&a=2');
    assert.deepEqual(
      get.response!.headers.filter((h) => h.name.startsWith('x-')).map(({ name, value }) => ({ name, value })),
      [
        { name: 'x-a', value: '1' },
        { name: 'x-dup', value: 'one' },
        { name: 'x-dup', value: 'two' },
      ],
    );
    assert.ok(get.latencyMicros! > 0);
    assert.ok(get.sentTime! >= get.scheduledTime);
    assert.equal(get.target, shadow.url);
    assert.equal(get.source.offset, 0);

    // The guard probe (HEAD /) came first: unmarked, so the unsafe methods were skipped.
    assert.deepEqual(shadow.seen.map((s) => `${s.method} ${s.url}`).sort(), ['GET /items?a=1&a=2', 'HEAD /', 'HEAD /head']);
    const seen = shadow.seen.find((s) => s.method === 'GET')!;
    assert.equal(seen.headers['x-shadowtap-replay'], '1');
    assert.equal(seen.headers['x-mirrored-request'], 'true');
    assert.equal(seen.headers['x-env'], 'from-env');
    assert.equal(seen.headers['x-set'], 'yes');
    // The recorded Host is kept (GoReplay's --http-original-host); the connection went to the shadow.
    assert.equal(seen.headers.host, 'stable.local');
    assert.equal(seen.headers['x-hop'], undefined);
    assert.equal(seen.headers['proxy-authorization'], undefined);
    assert.equal(seen.headers['x-remove'], undefined);
    assert.equal(seen.headers['content-length'], undefined);
    assert.deepEqual(
      seen.rawHeaders.filter((_, i, all) => i % 2 === 1 && all[i - 1] === 'X-Tag'),
      ['one', 'two'],
    );

    assert.equal(get.role, 'shadow');
    assert.equal(get.replayMode, 'window');
    assert.deepEqual(get.requestChanges.map((c) => ({ ...c })), [
      { kind: 'hop-by-hop-dropped', name: 'Connection', from: 'keep-alive, X-Hop', to: null },
      { kind: 'hop-by-hop-dropped', name: 'X-Hop', from: 'drop me', to: null },
      // A sensitive name never shows its value, recorded or set.
      { kind: 'hop-by-hop-dropped', name: 'Proxy-Authorization', from: null, to: null },
      { kind: 'header-removed', name: 'X-Remove', from: 'gone', to: null },
      { kind: 'marker-added', name: 'x-shadowtap-replay', from: null, to: '1' },
      { kind: 'marker-added', name: 'X-Mirrored-Request', from: null, to: 'true' },
      // A value read from the environment is named by its variable, never shown.
      { kind: 'header-set', name: 'x-env', from: null, to: 'env:SHADOWTAP_TEST_TOKEN' },
      { kind: 'header-set', name: 'x-set', from: null, to: 'yes' },
      { kind: 'host-kept', name: 'host', from: 'stable.local', to: 'stable.local' },
      { kind: 'content-length-set', name: 'content-length', from: '999', to: '0' },
      { kind: 'marker-added', name: 'x-shadowtap-capture-id', from: null, to: 'get-1' },
    ]);
    assert.deepEqual(byId.get('post-1')!.requestChanges, []);
    assert.match(get.response!.sha256!, /^[0-9a-f]{64}$/);
    assert.equal(get.response!.sha256, createHash('sha256').update('shadow saw /items?a=1&a=2').digest('hex'));

    assert.equal(summary.read, 5);
    assert.equal(summary.sent, 2);
    assert.equal(summary.responses, 2);
    assert.deepEqual(summary.skipped, { 'unsafe-method': 2, 'truncated-body': 1 });
    assert.equal(summary.shadowLatencyMs.count, 2);
  });

  it('sends unsafe methods when allowed, with the recorded body framed as stable got it', async () => {
    const local = await tempStore();
    try {
      const headers = (more: Array<{ name: string; value: string }>) => [{ name: 'host', value: 'stable.local' }, ...more];
      await local.captures.append([
        makeCapture('post-2', t0, { method: 'POST', path: '/sized', body: Buffer.from('{"q":2}'), size: 7, headers: headers([{ name: 'content-length', value: '7' }]) }),
        // No content-length recorded: stable got the body chunked, and so does the shadow.
        makeCapture('post-3', t0 + 1, { method: 'POST', path: '/chunked', body: Buffer.from('{"q":3}'), size: 7, headers: headers([]) }),
      ]);
      const before = shadow.seen.length;
      const summary = await runReplay({ source: local.captures, results: local.results, target: shadow.url, allowMethods: ['GET', 'POST'] });
      assert.equal(summary.sent, 2);
      const seen = (path: string) => shadow.seen.slice(before).find((s) => s.url === path)!;
      assert.equal(seen('/sized').method, 'POST');
      assert.equal(seen('/sized').body.toString(), '{"q":2}');
      assert.equal(seen('/sized').headers['content-length'], '7');
      assert.equal(seen('/sized').headers['transfer-encoding'], undefined);
      assert.equal(seen('/chunked').body.toString(), '{"q":3}');
      assert.equal(seen('/chunked').headers['transfer-encoding'], 'chunked');
      assert.equal(seen('/chunked').headers['content-length'], undefined);
      const results = await readAll(local.results);
      assert.ok(results.every((r) => !r.requestChanges.some((c) => c.name === 'content-length')));
    } finally {
      await local.cleanup();
    }
  });
});

describe('replay sends only to the target', () => {
  it('reduces an absolute recorded URL to its path and never contacts the host it names', async () => {
    const other = await startServer();
    const shadow = await startServer();
    const store = await tempStore();
    try {
      await store.captures.append([
        makeCapture('evil-1', t0, {
          path: `http://127.0.0.1:${other.port}/x`,
          query: 'k=v',
          headers: [{ name: 'Host', value: `127.0.0.1:${other.port}` }],
        }),
        makeCapture('evil-2', t0 + 1, { path: `//127.0.0.1:${other.port}/y`, headers: [{ name: 'Host', value: `127.0.0.1:${other.port}` }] }),
      ]);
      const summary = await runReplay({ source: store.captures, results: store.results, target: shadow.url });
      assert.equal(summary.responses, 2);
      assert.equal(other.seen.length, 0);
      assert.deepEqual(shadow.seen.map((s) => s.url).sort(), ['/x?k=v', '/y']);
      // The recorded Host is sent as stable got it, yet only the shadow is connected to.
      assert.ok(shadow.seen.every((s) => s.headers.host === `127.0.0.1:${other.port}`));
    } finally {
      await other.close();
      await shadow.close();
      await store.cleanup();
    }
  });

  it('applies --host-rewrite and --path-prefix-rewrite', async () => {
    const shadow = await startServer();
    const store = await tempStore();
    try {
      await store.captures.append([makeCapture('r-1', t0, { path: '/api/v1/users' })]);
      await runReplay({
        source: store.captures,
        results: store.results,
        target: shadow.url,
        hostRewrite: 'shadow.internal',
        pathPrefixRewrite: { from: '/api/v1', to: '/v2' },
      });
      assert.equal(shadow.seen[0]!.url, '/v2/users');
      assert.equal(shadow.seen[0]!.headers.host, 'shadow.internal');
      const [result] = await readAll(store.results);
      assert.deepEqual(
        result!.requestChanges.filter((c) => c.kind !== 'marker-added').map((c) => ({ ...c })),
        [
          { kind: 'path-prefix-rewritten', name: 'path', from: '/api/v1', to: '/v2' },
          { kind: 'host-rewritten', name: 'host', from: 'stable.local', to: 'shadow.internal' },
        ],
      );
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });
});

async function replayOne(target: string, extra: Partial<Parameters<typeof runReplay>[0]> = {}): Promise<Result> {
  const store = await tempStore();
  try {
    await store.captures.append([makeCapture('one', t0, { path: '/one' })]);
    await runReplay({ source: store.captures, results: store.results, target, ...extra });
    const results = await readAll(store.results);
    assert.equal(results.length, 1);
    return results[0]!;
  } finally {
    await store.cleanup();
  }
}

describe('replay error kinds', () => {
  it('records a 500 as a response, not an error', async () => {
    const shadow = await startServer((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    try {
      const result = await replayOne(shadow.url);
      assert.equal(result.outcome, 'response');
      assert.equal(result.response!.status, 500);
    } finally {
      await shadow.close();
    }
  });

  it('classifies a destroyed socket as reset', async () => {
    const shadow = await startServer((req) => req.socket.destroy());
    try {
      const result = await replayOne(shadow.url);
      assert.equal(result.outcome, 'error');
      assert.equal(result.error!.kind, 'reset');
      assert.equal(result.attempt, 1);
    } finally {
      await shadow.close();
    }
  });

  it('classifies a shadow that never answers as timeout', async () => {
    const shadow = await startServer(() => undefined);
    try {
      const result = await replayOne(shadow.url, { timeoutMs: 300 });
      assert.equal(result.outcome, 'error');
      assert.equal(result.error!.kind, 'timeout');
    } finally {
      await shadow.close();
    }
  });

  it('classifies a closed port as refused', async () => {
    const closed = await startServer();
    await closed.close();
    const result = await replayOne(closed.url);
    assert.equal(result.error!.kind, 'refused');
  });

  it('retries connection failures only when asked', async () => {
    let calls = 0;
    const shadow = await startServer((req, res) => {
      calls++;
      if (calls < 3) req.socket.destroy();
      else res.end('third time');
    });
    try {
      const withoutRetries = await replayOne(shadow.url);
      assert.equal(withoutRetries.error!.kind, 'reset');
      assert.equal(calls, 1);
      const withRetries = await replayOne(shadow.url, { retries: 3 });
      assert.equal(withRetries.outcome, 'response');
      assert.equal(withRetries.attempt, 2);
      assert.equal(calls, 3);
    } finally {
      await shadow.close();
    }
  });

  it('does not retry a 500 or a timeout', async () => {
    let calls = 0;
    const shadow = await startServer((_req, res) => {
      calls++;
      res.statusCode = 503;
      res.end();
    });
    try {
      const result = await replayOne(shadow.url, { retries: 2 });
      assert.equal(result.attempt, 1);
      assert.equal(calls, 1);
    } finally {
      await shadow.close();
    }
  });
});

describe('replay and undecodable records', () => {
  it('counts dead letters reported by the log and goes on with the next capture', async () => {
    const shadow = await startServer();
    const appended: Result[] = [];
    // A log that met one bad record before a good one; the worker only sees the callback.
    const source = {
      name: 'in-memory',
      commit: async () => undefined,
      async *read(options: ReadOptions = {}): AsyncGenerator<LogEntry<Capture>> {
        options.onDeadLetter?.({ partition: 0, offset: 0 }, new Error('bad bytes'));
        yield { value: makeCapture('good', t0), position: { partition: 0, offset: 1 }, timestampMs: t0 };
      },
    };
    try {
      const summary = await runReplay({ source, results: { append: async (r) => void appended.push(...r) }, target: shadow.url });
      assert.equal(summary.deadLetters, 1);
      assert.deepEqual(appended.map((r) => r.id), ['good']);
      assert.equal(appended[0]!.source.log, 'in-memory');
    } finally {
      await shadow.close();
    }
  });
});
