import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSoakPlan } from '../cli/commands/soak.js';
import { copyId, runSoak, type SoakPlan } from '../replay/soak.js';
import { makeCapture, readAll, startServer, tempStore } from './helpers/replay-helpers.js';

const t0 = Date.UTC(2026, 0, 1);

describe('soak', () => {
  it('names copies <id>~<n> and keeps the original id for the first', () => {
    assert.equal(copyId('abc', 0), 'abc');
    assert.equal(copyId('abc', 3), 'abc~3');
  });

  it('loops the window, amplifies each request and keeps captureId on every copy', async () => {
    const shadow = await startServer();
    const store = await tempStore();
    try {
      await store.captures.append([
        makeCapture('before', t0 - 1, { path: '/before' }),
        makeCapture('a', t0, { path: '/a' }),
        makeCapture('b', t0 + 600, { path: '/b' }),
        makeCapture('post', t0 + 700, { method: 'POST', path: '/post' }),
        makeCapture('after', t0 + 1000, { path: '/after' }),
      ]);
      const summary = await runSoak({
        source: store.captures,
        results: store.results,
        target: shadow.url,
        fromMs: t0,
        toMs: t0 + 1000,
        compress: 10,
        loop: 3,
        amplify: 2,
        buckets: 2,
      });
      const results = await readAll(store.results);
      // 3 captures in the window × 3 passes × 2 copies.
      assert.equal(results.length, 18);
      const ids = results.map((r) => r.id).sort();
      const expected = ['a', 'b', 'post'].flatMap((id) => [0, 1, 2, 3, 4, 5].map((n) => copyId(id, n))).sort();
      assert.deepEqual(ids, expected);
      for (const r of results) assert.equal(r.id.split('~')[0], r.captureId);
      // The diff must know these timings come from the soak's load, not from live traffic.
      assert.ok(results.every((r) => r.replayMode === 'soak' && r.role === 'shadow'));
      // 12 sends and the one guard probe (HEAD /) the first unsafe capture asked for.
      assert.equal(shadow.seen.length, 13);
      assert.equal(shadow.seen.filter((s) => s.method === 'HEAD' && s.url === '/').length, 1);
      assert.equal(shadow.seen.filter((s) => s.url === '/a').length, 6);
      assert.ok(!shadow.seen.some((s) => s.url === '/before' || s.url === '/after' || s.url === '/post'));

      assert.equal(summary.read, 9);
      assert.equal(summary.sent, 12);
      // The pattern runs from the first to the last capture (700 ms) plus one mean gap (350 ms).
      assert.equal(summary.passMs, 105);
      assert.deepEqual(
        summary.buckets.map((b) => [b.captures, b.sent, b.skipped]),
        [
          [1, 6, 0],
          [2, 6, 6],
        ],
      );
      assert.equal(summary.buckets[0]!.recordedRate, 1.9);
      assert.equal(summary.buckets[0]!.targetRate, 38.1);
      assert.equal(summary.buckets[0]!.achievedRate, 38.1);
      assert.ok(summary.buckets[0]!.latencyP99Ms > 0);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('plans before the first send: a window far wider than its traffic soaks the traffic, not the window', async () => {
    const shadow = await startServer();
    const store = await tempStore();
    try {
      await store.captures.append([0, 100, 200, 300, 400, 500].map((ms, i) => makeCapture(`p${i}`, t0 + ms, { path: `/p${i}` })));
      const year = 365 * 86_400_000;
      let sentBeforePlan: number | undefined;
      let plan: SoakPlan | undefined;
      const summary = await runSoak({
        source: store.captures,
        results: store.results,
        target: shadow.url,
        fromMs: t0 - 15 * year,
        toMs: t0 + 15 * year,
        compress: 2,
        loop: 2,
        onPlan: (p) => {
          plan = p;
          sentBeforePlan = shadow.seen.length;
        },
      });
      assert.equal(sentBeforePlan, 0, 'the plan comes before the first send');
      assert.deepEqual(plan, { captures: 6, firstMs: t0, lastMs: t0 + 500, patternMs: 600, passMs: 300, loop: 2, amplify: 1, runMs: 600, requests: 12, peakRate: 6 });
      assert.equal(summary.sent, 12);
      assert.match(formatSoakPlan(plan!), /^soak plan: 6 captures from 2026-01-01T00:00:00\.000Z to 2026-01-01T00:00:00\.500Z; pattern 600ms, compressed to 300ms, 2 loops: 600ms in all, 12 requests \(amplify 1\), peak 6 req\/s$/);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('refuses in one line a window without captures, a plan longer than --max-duration, an empty window and a zero loop', async () => {
    const store = await tempStore();
    try {
      await store.captures.append([makeCapture('x0', t0), makeCapture('x1', t0 + 3_600_000)]);
      const base = { source: store.captures, results: store.results, target: 'http://127.0.0.1:9' };
      await assert.rejects(runSoak({ ...base, fromMs: t0 + 1, toMs: t0 + 1000 }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ST_USAGE');
        assert.match(error.message, /^no captures between 2026-01-01T00:00:00\.001Z and 2026-01-01T00:00:01\.000Z in .*: nothing to soak with/);
        return true;
      });
      await assert.rejects(runSoak({ ...base, fromMs: t0, toMs: t0 + 7_200_000, loop: 3, maxDurationMs: 3_600_000 }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ST_USAGE');
        assert.match(error.message, /^this soak would run 6h00m .*longer than --max-duration 1h00m: raise --compress or --max-duration/);
        return true;
      });
      await assert.rejects(runSoak({ ...base, fromMs: t0, toMs: t0 }), /--from before --to/);
      await assert.rejects(runSoak({ ...base, fromMs: t0, toMs: t0 + 1, loop: 0 }), /--loop must be a positive integer/);
    } finally {
      await store.cleanup();
    }
  });
});
