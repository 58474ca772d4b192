import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import { runDiff } from '../index.js';
import type { PairRecord } from '../diff/pair-record.js';
import { replayMarkers } from '../shared/records/replay-markers.js';
import { captureIdHeader } from '../shared/records/side-effects.js';
import { runReplay } from '../replay/replay-worker.js';
import { openFileLog } from '../shared/log/file-log.js';
import { resultKind } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { rawRequest } from './helpers/capture-helpers.js';
import { readAll, startServer, tempStore, type SeenRequest, type TestServer, type TestStore } from './helpers/replay-helpers.js';

/** A service that answers with everything it was sent: Host, X-Forwarded-*, every header, the body. */
function echo(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      method: req.method,
      url: req.url,
      host: req.headers.host,
      forwarded: { for: req.headers['x-forwarded-for'], host: req.headers['x-forwarded-host'], proto: req.headers['x-forwarded-proto'] },
      headers: req.headers,
      body: body.toString(),
    }),
  );
}

// The markers, and the capture id the shadow-mode library reads.
const markerNames = new Set([...replayMarkers.map((h) => h.name.toLowerCase()), captureIdHeader]);

/** What a service was sent, in order, case and duplicates kept; the replay's markers left out. */
function sent(seen: SeenRequest): { method: string; url: string; rawHeaders: string[]; body: string } {
  const rawHeaders: string[] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2) {
    if (!markerNames.has(seen.rawHeaders[i]!.toLowerCase())) rawHeaders.push(seen.rawHeaders[i]!, seen.rawHeaders[i + 1]!);
  }
  return { method: seen.method, url: seen.url, rawHeaders, body: seen.body.toString() };
}

/** The client traffic: the same kinds of requests a real client sends, each told apart by its path. */
const traffic: Array<{ method: string; path: string; headers: Record<string, string | string[]>; body?: string }> = [
  { method: 'GET', path: '/items?b=2&a=1&a=3', headers: { accept: 'application/json', 'X-Tag': ['one', 'two'], 'user-agent': 'client/1.0' } },
  { method: 'GET', path: '/behind-a-proxy', headers: { 'x-forwarded-for': '10.1.2.3', 'x-forwarded-proto': 'https' } },
  { method: 'HEAD', path: '/head', headers: { accept: '*/*' } },
  { method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: '{"item":7,"qty":2}' },
  { method: 'POST', path: '/upload', headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }, body: 'sent in chunks' },
  // Five distinct requests a client marked with one and the same request id.
  ...Array.from({ length: 5 }, (_, i) => ({ method: 'GET', path: `/same-id/${i}`, headers: { 'x-request-id': 'one-id-for-all' } })),
];

describe('end to end: the shadow is sent the request stable received', () => {
  let stable: TestServer;
  let shadow: TestServer;
  let store: TestStore;
  let captures: Capture[];
  /** The Host clients sent, which capture keeps for stable as a sidecar does. */
  let clientHost: string;

  before(async () => {
    stable = await startServer(echo);
    shadow = await startServer(echo);
    store = await tempStore();
    const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink: store.captures, logger: pino({ level: 'silent' }) });
    clientHost = new URL(proxy.url).host;
    for (const request of traffic) {
      const res = await rawRequest(proxy.url, request);
      assert.equal(res.status, 200);
    }
    await proxy.close();
    captures = await readAll(store.captures);
  });
  after(async () => {
    await stable.close();
    await shadow.close();
    await store.cleanup();
  });

  it('capture → file log → replay → diff: the shadow gets what stable got (markers aside); the diff finds no difference the tool made', async () => {
    assert.equal(captures.length, traffic.length);
    const summary = await runReplay({ source: store.captures, results: store.results, target: shadow.url, allowMethods: ['GET', 'HEAD', 'POST'] });
    assert.equal(summary.responses, traffic.length);

    // Method, path, query, every header (X-Forwarded-* and Host included) in order, and the body.
    const byUrl = (server: TestServer) => new Map(server.seen.map((s) => [s.url, s]));
    const stableSeen = byUrl(stable);
    const shadowSeen = byUrl(shadow);
    for (const request of traffic) {
      assert.deepEqual(sent(shadowSeen.get(request.path)!), sent(stableSeen.get(request.path)!), request.path);
      for (const marker of replayMarkers) assert.equal(shadowSeen.get(request.path)!.headers[marker.name.toLowerCase()], marker.value);
    }
    assert.equal(shadowSeen.get('/upload')!.headers['transfer-encoding'], 'chunked', 'a chunked upload is replayed chunked');
    assert.equal(shadowSeen.get('/behind-a-proxy')!.headers['x-forwarded-for'], '10.1.2.3, 127.0.0.1');

    const results = await readAll(store.results);
    for (const result of results) {
      assert.equal(result.role, 'shadow');
      assert.equal(result.replayMode, 'window');
      const kinds = result.requestChanges.map((c) => `${c.kind} ${c.name}`);
      assert.deepEqual(kinds, ['marker-added x-shadowtap-replay', 'marker-added X-Mirrored-Request', 'host-kept host', `marker-added ${captureIdHeader}`], result.id);
      assert.equal(result.requestChanges[2]!.to, clientHost, 'the Host stable got');
    }

    const verdicts: PairRecord[] = [];
    const report = await runDiff({ captures: store.captures, results: store.results, onVerdict: (v) => verdicts.push(v) });
    assert.equal(report.totals.pairs, traffic.length);
    // Only the markers (which the shadow must get) differ, and the diff says the replay made them.
    assert.equal(report.totals.mismatch, 0);
    for (const verdict of verdicts) {
      assert.ok(verdict.verdict === 'match' || verdict.verdict === 'noise', `${verdict.url}: ${verdict.verdict}`);
      for (const difference of verdict.differences) {
        assert.match(difference.path, /x-shadowtap-replay|x-mirrored-request|x-shadowtap-capture-id/i, `${verdict.url}: ${difference.path}`);
        assert.match(difference.noise ?? '', /^replay-induced: marker-added /, `${verdict.url}: ${difference.path}`);
      }
    }
  });

  it('five distinct requests with one client x-request-id: five captures, five Results, five verdicts', async () => {
    const sameId = captures.filter((c) => c.clientRequestId === 'one-id-for-all');
    assert.equal(sameId.length, 5);
    assert.equal(new Set(sameId.map((c) => c.id)).size, 5);
    assert.ok(captures.every((c) => /^[0-9a-f-]{36}$/.test(c.id)));
    const verdicts: PairRecord[] = [];
    await runDiff({ captures: store.captures, results: store.results, onVerdict: (v) => verdicts.push(v) });
    const forSameId = verdicts.filter((v) => v.url.startsWith('/same-id/'));
    assert.deepEqual(forSameId.map((v) => v.url).sort(), ['/same-id/0', '/same-id/1', '/same-id/2', '/same-id/3', '/same-id/4']);
    assert.equal(new Set(forSameId.map((v) => v.captureId)).size, 5);
    assert.ok(forSameId.every((v) => v.verdict !== 'missing'));
  });

  it('--host-rewrite: the shadow gets the new Host and the Result says from which', async () => {
    const rewritten = await openFileLog(resultKind, { dir: `${store.dir}/rewritten` });
    const before = shadow.seen.length;
    try {
      await runReplay({ source: store.captures, results: rewritten, target: shadow.url, hostRewrite: 'shadow.internal', group: 'host-rewrite' });
      const seen = shadow.seen.slice(before);
      assert.ok(seen.length > 0);
      assert.ok(seen.every((s) => s.headers.host === 'shadow.internal'));
      const results: Result[] = await readAll(rewritten);
      const stableHost = clientHost;
      for (const result of results.filter((r) => r.outcome === 'response' && r.response!.body.length > 0)) {
        assert.deepEqual({ ...result.requestChanges.find((c) => c.name === 'host')! }, { kind: 'host-rewritten', name: 'host', from: stableHost, to: 'shadow.internal' });
        // The echoed Host is the only difference the rewrite makes.
        const stableEcho = JSON.parse(captures.find((c) => c.id === result.captureId)!.response!.body.toString());
        const shadowEcho = JSON.parse(result.response!.body.toString());
        for (const marker of markerNames) delete shadowEcho.headers[marker];
        assert.deepEqual({ ...shadowEcho, host: stableHost, headers: { ...shadowEcho.headers, host: stableHost } }, stableEcho);
        assert.equal(shadowEcho.host, 'shadow.internal');
      }
      // The diff labels the echoed Host as the replay's doing, never as a mismatch.
      const verdicts: PairRecord[] = [];
      await runDiff({ captures: store.captures, results: rewritten, onVerdict: (v) => verdicts.push(v) });
      const hostDifferences = verdicts.flatMap((v) => v.differences.filter((d) => /host/.test(d.path)));
      assert.ok(hostDifferences.length > 0);
      for (const difference of hostDifferences) assert.match(difference.noise ?? '', /^replay-induced: host-rewritten host /, difference.path);
      assert.ok(verdicts.every((v) => v.verdict !== 'mismatch'), JSON.stringify(verdicts.filter((v) => v.verdict === 'mismatch')));
    } finally {
      await rewritten.close();
    }
  });
});
