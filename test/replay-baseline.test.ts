import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runDiff } from '../index.js';
import { runReplay } from '../replay/replay-worker.js';
import type { Capture, Result } from '../shared/records/types.js';
import { json } from './helpers/diff-pairs.js';
import { makeCapture, readAll, startServer, tempStore, type TestServer, type TestStore } from './helpers/replay-helpers.js';

const t0 = Date.UTC(2026, 0, 1);
const count = 200;

/** A recommendation each instance picks at random for each item (here a stable hash per instance): noise on every side. */
const pick = (instance: string, id: number) => (createHash('sha256').update(`${instance}/${id}`).digest()[0]! & 1 ? 'alpha' : 'beta');
const price = (id: number) => 10 + (id % 7);
/** The shadow's regression: one item in ten costs one more. */
const shadowPrice = (id: number) => (id % 10 === 3 ? price(id) + 1 : price(id));

function instance(name: string, priceOf: (id: number) => number): Promise<TestServer> {
  return startServer((req, res) => {
    const match = /^\/items\/(\d+)$/.exec(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    if (!match) return void res.end('{"ok":true}');
    const id = Number(match[1]);
    res.end(JSON.stringify({ id, pick: pick(name, id), price: priceOf(id) }));
  });
}

function captures(): Capture[] {
  const list: Capture[] = [];
  for (let i = 0; i < count; i++) {
    list.push({ ...makeCapture(`c${i}`, t0 + i, { path: `/items/${i}` }), response: json({ id: i, pick: pick('recorded', i), price: price(i) }) });
  }
  // Unsafe methods the target is allowed to get; the baseline must never see them.
  list.push({ ...makeCapture('post-1', t0 + count, { method: 'POST', path: '/orders', body: Buffer.from('{}'), size: 2 }), response: json({ ok: true }) });
  list.push({ ...makeCapture('delete-1', t0 + count + 1, { method: 'DELETE', path: '/orders/1' }), response: json({ ok: true }) });
  return list;
}

describe('replay --baseline (A/A calibration)', () => {
  let shadow: TestServer;
  let stableB: TestServer;
  let store: TestStore;

  before(async () => {
    shadow = await instance('shadow', shadowPrice);
    stableB = await instance('stable-b', price);
    store = await tempStore();
    await store.captures.append(captures());
  });
  after(async () => {
    await shadow.close();
    await stableB.close();
    await store.cleanup();
  });

  it('sends each safe request to both targets once, unsafe ones to the target only, with a Result each', async () => {
    const summary = await runReplay({
      source: store.captures,
      results: store.results,
      target: shadow.url,
      baseline: `${stableB.url}/`,
      allowMethods: ['GET', 'POST', 'DELETE'],
      concurrency: 8,
    });

    const paths = (server: TestServer) => server.seen.map((s) => `${s.method} ${s.url}`).sort();
    const items = Array.from({ length: count }, (_, i) => `GET /items/${i}`);
    assert.deepEqual(paths(shadow), [...items, 'DELETE /orders/1', 'POST /orders'].sort());
    assert.deepEqual(paths(stableB), [...items].sort());
    for (const seen of stableB.seen) {
      assert.equal(seen.headers['x-shadowtap-replay'], '1');
      assert.equal(seen.headers['x-mirrored-request'], 'true');
      assert.equal(seen.headers.host, 'stable.local');
    }

    const results = await readAll(store.results);
    const byTarget = (origin: string) => results.filter((r) => r.target === origin);
    assert.equal(byTarget(shadow.url).length, count + 2);
    assert.ok(byTarget(shadow.url).every((r) => r.role === 'shadow'));
    const aa = byTarget(stableB.url);
    assert.equal(aa.length, count);
    assert.equal(results.length, 2 * count + 2);
    for (const result of aa) {
      assert.equal(result.id, result.captureId);
      assert.equal(result.role, 'baseline');
      assert.equal(result.outcome, 'response');
      assert.ok(result.source.offset < count, 'only the GET captures have an A/A Result');
    }

    assert.equal(summary.sent, count + 2, 'the target figures leave the baseline out');
    assert.deepEqual(summary.baseline, { sent: count, errors: 0, dropped: 0 });
  });

  it('diff: a field random on both stables is noise, the one changed only on the shadow is real', async () => {
    const report = await runDiff({ captures: store.captures, results: store.results, baselineTarget: stableB.url });
    const field = (name: string) => report.fields.find((f) => f.field === name);
    let priceChanged = 0;
    let onlyPickChanged = 0;
    for (let i = 0; i < count; i++) {
      if (shadowPrice(i) !== price(i)) priceChanged++;
      else if (pick('shadow', i) !== pick('recorded', i)) onlyPickChanged++;
    }
    assert.ok(onlyPickChanged > 30, `the corpus needs pick-only differences; got ${onlyPickChanged}`);

    assert.equal(report.baseline?.pairs, count);
    assert.equal(field('$.pick')?.baselineNoise, true);
    assert.equal(field('$.pick')?.differs, 0);
    assert.equal(field('$.price')?.baselineNoise, false);
    assert.equal(field('$.price')?.differs, priceChanged);
    assert.equal(report.totals.mismatch, priceChanged);
    assert.equal(report.totals.noise, onlyPickChanged);
  });

  it('commits a capture only once its A/A Result is written too', async () => {
    const group = 'baseline-commit';
    const failing = {
      append: async (batch: Result[]) => {
        if (batch.some((r) => r.target === stableB.url)) throw new Error('the A/A write failed');
        await store.results.append(batch);
      },
    };
    await assert.rejects(
      runReplay({ source: store.captures, results: failing, target: shadow.url, baseline: stableB.url, group, concurrency: 8 }),
      /the A\/A write failed/,
    );
    const again = await runReplay({ source: store.captures, results: store.results, target: shadow.url, group });
    assert.equal(again.read, count + 2, 'no capture was committed while its A/A Result was unwritten');
    assert.equal(again.baseline, null);
  });

  it('refuses a baseline that is the target itself', async () => {
    await assert.rejects(runReplay({ source: store.captures, results: store.results, target: shadow.url, baseline: `${shadow.url}/x` }), /--baseline must be another origin/);
  });
});
