import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runReplay } from '../replay/replay-worker.js';
import { shadowMode } from '../shadow/index.js';
import { effectsHeader, guardMarkerHeader } from '../shared/records/side-effects.js';
import { readAll } from './helpers/local-server.js';
import { startOutboundReceiver, type OutboundReceiver } from './helpers/outbound-receiver.js';
import { makeCapture, startServer, tempStore, type TestServer } from './helpers/replay-helpers.js';

const t0 = Date.UTC(2026, 0, 1);

describe('unsafe methods replayed to a shadow that proves it is guarded', () => {
  let receiver: OutboundReceiver;
  /** A shadow using shadowtap/shadow, except under /plain, which answers without the library. */
  let shadow: TestServer;
  before(async () => {
    receiver = await startOutboundReceiver();
    const mode = shadowMode({ env: {} });
    shadow = await startServer((req, res, body) => {
      if (req.url!.startsWith('/plain')) return void res.end('plain');
      mode.middleware(req, res);
      void fetch(`${receiver.url}/mail/send`, { method: 'POST', body }).then(async (mail) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ mailed: mail.status }));
      });
    });
  });
  after(async () => {
    await shadow.close();
    await receiver.close();
  });

  it('sends them after the probe, stores what the shadow attempted, and strips the library headers', async () => {
    const store = await tempStore();
    try {
      receiver.received.length = 0;
      await store.captures.append([makeCapture('order-1', t0, { method: 'POST', path: '/api/orders', body: Buffer.from('{"sku":"A"}'), size: 11 })]);
      const summary = await runReplay({ source: store.captures, results: store.results, target: shadow.url });
      assert.equal(summary.sent, 1);
      const [result] = await readAll(store.results);
      assert.equal(result!.outcome, 'response');
      assert.equal(result!.guarded, true);
      assert.equal(result!.response!.body.toString(), '{"mailed":202}');
      assert.ok(!result!.response!.headers.some((h) => h.name === guardMarkerHeader || h.name === effectsHeader));
      assert.deepEqual(
        result!.sideEffects.map((e) => [e.kind, e.name, e.origin, e.pathTemplate, e.blocked]),
        [['http', 'POST', receiver.url, '/mail/send', true]],
      );
      assert.deepEqual(receiver.received, [], 'nothing the shadow tried reached the mail service');
      assert.ok(shadow.seen.some((s) => s.method === 'HEAD' && s.url === '/'), 'the probe was sent');
    } finally {
      await store.cleanup();
    }
  });

  it('stops unsafe sends at the first answer without the marker, says so once, and counts the skips', async () => {
    const store = await tempStore();
    const warnings: string[] = [];
    try {
      await store.captures.append([
        makeCapture('w-1', t0, { method: 'POST', path: '/api/orders', body: Buffer.from('{}'), size: 2 }),
        makeCapture('r-1', t0 + 1, { path: '/plain/health' }),
        makeCapture('w-2', t0 + 2, { method: 'POST', path: '/api/orders', body: Buffer.from('{}'), size: 2 }),
        makeCapture('w-3', t0 + 3, { method: 'DELETE', path: '/api/orders/1' }),
      ]);
      // One at a time, so the unmarked answer is in before the next write may leave.
      const summary = await runReplay({ source: store.captures, results: store.results, target: shadow.url, concurrency: 1, onWarning: (w) => warnings.push(w) });
      const byId = new Map((await readAll(store.results)).map((r) => [r.id, r]));
      assert.equal(byId.get('w-1')!.outcome, 'response');
      assert.equal(byId.get('r-1')!.guarded, false);
      assert.equal(byId.get('w-2')!.skipReason, 'unguarded-shadow');
      assert.equal(byId.get('w-3')!.skipReason, 'unguarded-shadow');
      assert.deepEqual(summary.skipped, { 'unguarded-shadow': 2 });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /capture r-1 came without the x-shadowtap-guard marker/);
    } finally {
      await store.cleanup();
    }
  });

  it('keeps skipping unsafe methods when the probe finds no guard, and without guardedWrites sends no probe', async () => {
    const plain = await startServer();
    const store = await tempStore();
    try {
      await store.captures.append([makeCapture('w-1', t0, { method: 'POST', path: '/orders', body: Buffer.from('{}'), size: 2 })]);
      const first = await runReplay({ source: store.captures, results: store.results, target: plain.url, group: 'g1' });
      assert.deepEqual(first.skipped, { 'unsafe-method': 1 });
      assert.deepEqual(plain.seen.map((s) => `${s.method} ${s.url}`), ['HEAD /']);
      const second = await runReplay({ source: store.captures, results: store.results, target: plain.url, group: 'g2', guardedWrites: false });
      assert.deepEqual(second.skipped, { 'unsafe-method': 1 });
      assert.equal(plain.seen.length, 1);
    } finally {
      await store.cleanup();
      await plain.close();
    }
  });
});
