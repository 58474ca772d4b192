import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { isShadow, shadowMode, type ShadowModeOptions } from '../shadow/index.js';
import { decodeEffects, encodeEffects, omittedKind, takeShadowReport } from '../shared/records/side-effects.js';
import type { SideEffect } from '../shared/records/types.js';
import { rawRequest } from './helpers/capture-helpers.js';
import { listenLocal } from './helpers/local-server.js';
import { httpCall } from './helpers/outbound-calls.js';
import { startOutboundReceiver, type OutboundReceiver } from './helpers/outbound-receiver.js';

describe('shadow mode: detection and outbound policy', () => {
  let primary: OutboundReceiver;
  let replica: OutboundReceiver;
  before(async () => {
    primary = await startOutboundReceiver();
    replica = await startOutboundReceiver();
  });
  after(async () => {
    await primary.close();
    await replica.close();
  });

  /** A node:http app that reports isShadow() and makes the calls the test names, via fetch or node:http. */
  async function withApp(options: ShadowModeOptions, test: (url: string) => Promise<void>, calls: Array<[string, string, 'fetch' | 'http']> = []) {
    const shadow = shadowMode({ env: {}, ...options });
    const server = await listenLocal(
      createServer(
        shadow.wrap((req: IncomingMessage, res: ServerResponse) => {
          req.resume();
          req.on('end', async () => {
            const statuses: number[] = [];
            for (const [method, url, client] of calls) {
              statuses.push(client === 'fetch' ? (await fetch(url, { method })).status : (await httpCall(url, method)).status);
            }
            res.end(JSON.stringify({ shadow: isShadow(), statuses }));
          });
        }),
      ),
    );
    try {
      await test(server.url);
    } finally {
      await server.close();
    }
  }
  const seen = async (url: string, headers: Record<string, string> = {}) => JSON.parse((await rawRequest(url, { headers })).body.toString()) as { shadow: boolean; statuses: number[] };

  it('detects the replay marker, the nginx mirror header and Istio\'s -shadow Host, and nothing else', async () => {
    await withApp({}, async (url) => {
      assert.equal((await seen(url)).shadow, false);
      assert.equal((await seen(url, { 'x-shadowtap-replay': '1' })).shadow, true);
      assert.equal((await seen(url, { 'X-Mirrored-Request': 'true' })).shadow, true);
      assert.equal((await seen(url, { host: 'api.example.com-shadow' })).shadow, true);
      assert.equal((await seen(url, { 'X-Mirrored-Request': 'false' })).shadow, false);
      assert.equal((await seen(url, { 'x-shadowtap-replay': '0' })).shadow, false);
    });
  });

  it('SHADOW_MODE=true makes every request shadow traffic; SHADOW_MODE=false ignores forged markers', async () => {
    await withApp({ env: { SHADOW_MODE: 'false' } }, async (url) => {
      assert.equal((await seen(url, { 'x-shadowtap-replay': '1' })).shadow, false);
    });
    await withApp({ env: { SHADOW_MODE: 'true' } }, async (url) => {
      assert.equal((await seen(url)).shadow, true);
    });
    // The process-wide scope ends with a later shadowMode() that does not set it.
    await withApp({}, async (url) => assert.equal((await seen(url)).shadow, false));
  });

  it('safe calls go to the read-only copy of their origin; allow lets a write through, deny stops a read; the stand-in is configurable', async () => {
    primary.received.length = 0;
    replica.received.length = 0;
    const options: ShadowModeOptions = {
      readOnlyOrigins: { [primary.url]: replica.url },
      allow: [`PUT ${primary.url}`],
      deny: [`OPTIONS ${primary.url}`],
      standIn: (call) => ({ status: call.method === 'DELETE' ? 204 : 299 }),
    };
    const calls: Array<[string, string, 'fetch' | 'http']> = [
      ['GET', `${primary.url}/a/1`, 'fetch'],
      ['GET', `${primary.url}/b/2`, 'http'],
      ['PUT', `${primary.url}/c`, 'fetch'],
      ['PUT', `${primary.url}/d`, 'http'],
      ['OPTIONS', `${primary.url}/e`, 'fetch'],
      ['DELETE', `${primary.url}/f`, 'http'],
      ['PATCH', `${primary.url}/g`, 'fetch'],
    ];
    await withApp(
      options,
      async (url) => {
        const answer = await seen(url, { 'x-shadowtap-replay': '1' });
        assert.deepEqual(answer.statuses, [200, 200, 201, 201, 299, 204, 299]);
        assert.deepEqual(replica.received.sort(), ['GET /a/1', 'GET /b/2']);
        assert.deepEqual(primary.received.sort(), ['PUT /c', 'PUT /d']);
      },
      calls,
    );
    assert.throws(() => shadowMode({ env: {}, allow: ['POST not-an-origin'] }), /allow: "not-an-origin" is not an http\(s\) origin/);
    assert.throws(() => shadowMode({ env: {}, readOnlyOrigins: { 'http://a': 'https://b' } }), /same scheme/);
  });

  it('the effects header stays within its bound and counts what it leaves out', () => {
    const effect: SideEffect = { kind: 'http', name: 'POST', origin: 'http://mail.local:8025', pathTemplate: '/send', status: 202, bodySha256: 'f'.repeat(64), blocked: true };
    const many = Array.from({ length: 100 }, () => effect);
    const value = encodeEffects(many, 2048);
    assert.ok(value.length <= 2048);
    const decoded = decodeEffects(value);
    const omitted = decoded.at(-1)!;
    assert.equal(omitted.kind, omittedKind);
    assert.equal(Number(omitted.name) + decoded.length - 1, 100);
    assert.deepEqual(decoded[0], effect);
  });

  it('the replay reads a guarded answer\'s list, and calls a missing or unreadable one incomplete, never empty', () => {
    const effect: SideEffect = { kind: 'guard', name: 'mail.send', origin: '', pathTemplate: '', status: null, bodySha256: null, blocked: true };
    const plain = [{ name: 'content-type', value: 'application/json' }];
    assert.deepEqual(takeShadowReport(plain), { guarded: false, sideEffects: [], headers: plain });
    const guarded = [...plain, { name: 'X-Shadowtap-Guard', value: '1' }];
    assert.deepEqual(takeShadowReport([...guarded, { name: 'x-shadowtap-effects', value: encodeEffects([effect]) }]), { guarded: true, sideEffects: [effect], headers: plain });
    for (const report of [takeShadowReport(guarded), takeShadowReport([...guarded, { name: 'x-shadowtap-effects', value: 'not base64 json' }])]) {
      assert.equal(report.guarded, true);
      assert.deepEqual(report.headers, plain);
      assert.deepEqual(report.sideEffects.map((e) => [e.kind, e.name]), [[omittedKind, '?']]);
    }
  });
});
