import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveSampling, type SamplingOptions } from '../capture/capture-options.js';
import { startCaptureServer } from '../index.js';
import { globToRegExp } from '../capture/path-glob.js';
import { Sampler } from '../capture/sampler.js';
import { headerValue } from '../shared/records/types.js';
import { MemorySink, rawRequest, silentLogger, startHttpServer } from './helpers/capture-helpers.js';

const sampler = (options: SamplingOptions) => new Sampler(resolveSampling(options));

describe('sampling', () => {
  test('path globs: * stays in a segment, ** crosses segments', () => {
    assert.equal(globToRegExp('/api/*/items').test('/api/v1/items'), true);
    assert.equal(globToRegExp('/api/*/items').test('/api/v1/x/items'), false);
    assert.equal(globToRegExp('/api/**').test('/api'), true);
    assert.equal(globToRegExp('/api/**').test('/api/v1/x'), true);
    assert.equal(globToRegExp('/api/**').test('/apix'), false);
    assert.equal(globToRegExp('/h?alth').test('/health'), true);
  });

  test('method and path filters come before the rate', () => {
    const s = sampler({ allowMethods: ['get'], denyPaths: ['/health', '/internal/**'] });
    assert.equal(s.decide('GET', '/orders', '', {}).sampled, true);
    assert.deepEqual(s.decide('POST', '/orders', '', {}), { sampled: false, reason: 'filter', rate: 1, mode: 'filter' });
    assert.equal(s.decide('GET', '/internal/debug', '', {}).reason, 'filter');
    // A replayed request (a reference stable behind the agent) is never recorded again.
    assert.equal(s.decide('GET', '/orders', '', { 'x-shadowtap-replay': '1' }).reason, 'replayed');
    assert.equal(sampler({ allowPaths: ['/api/**'] }).decide('GET', '/static/x.js', '', {}).sampled, false);
  });

  test('consistent sampling keeps a user always in or always out, at about the rate', () => {
    for (const by of ['header:x-user-id', 'query:user', 'cookie:uid']) {
      const s = sampler({ rate: 0.3, by });
      let kept = 0;
      for (let user = 0; user < 2000; user++) {
        const id = `user-${user}`;
        const decide = () =>
          s.decide('GET', '/', `user=${id}`, { 'x-user-id': id, cookie: `a=b; uid=${id}` });
        const first = decide();
        assert.equal(first.mode, `consistent:${by}`);
        for (let again = 0; again < 3; again++) assert.equal(decide().sampled, first.sampled, `${by} ${id} flipped`);
        if (first.sampled) kept++;
      }
      assert.ok(kept > 450 && kept < 750, `${by}: kept ${kept} of 2000 at rate 0.3`);
    }
  });

  test('without its key a request is sampled at random, and says so', () => {
    const decision = sampler({ rate: 0.5, by: 'header:x-user-id' }).decide('GET', '/', '', {});
    assert.equal(decision.mode, 'random');
    assert.equal(sampler({ rate: 0 }).decide('GET', '/', '', {}).sampled, false);
  });

  test('sampled-out requests are still proxied, not recorded, and counted', async () => {
    const stable = await startHttpServer((_req, res) => res.end('ok'));
    const sink = new MemorySink();
    const proxy = await startCaptureServer({
      port: 0,
      upstream: stable.url,
      sink,
      logger: silentLogger,
      sampling: { rate: 0.5, by: 'header:x-user-id', denyPaths: ['/health'] },
    });
    try {
      const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
      for (const user of users) assert.equal((await rawRequest(proxy.url, { path: '/a', headers: { 'x-user-id': user } })).body.toString(), 'ok');
      assert.equal((await rawRequest(proxy.url, { path: '/health' })).status, 200);
      await proxy.close();
      const expected = users.filter((u) => sampler({ rate: 0.5, by: 'header:x-user-id' }).decide('GET', '/a', '', { 'x-user-id': u }).sampled);
      assert.deepEqual(sink.records.map((c) => headerValue(c.request.headers, 'x-user-id')), expected);
      assert.ok(sink.records.every((c) => c.sampling.rate === 0.5 && c.sampling.mode === 'consistent:header:x-user-id'));
      assert.equal(proxy.metrics.sampledOut, 21 - expected.length);
    } finally {
      await proxy.close();
      await stable.close();
    }
  });
});
