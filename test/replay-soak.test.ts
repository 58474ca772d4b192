import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyId, runSoak } from '../replay/soak.js';
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
      assert.equal(shadow.seen.length, 12);
      assert.equal(shadow.seen.filter((s) => s.url === '/a').length, 6);
      assert.ok(!shadow.seen.some((s) => s.url === '/before' || s.url === '/after' || s.url === '/post'));

      assert.equal(summary.read, 9);
      assert.equal(summary.sent, 12);
      assert.equal(summary.passMs, 100);
      assert.deepEqual(
        summary.buckets.map((b) => [b.captures, b.sent, b.skipped]),
        [
          [1, 6, 0],
          [2, 6, 6],
        ],
      );
      assert.equal(summary.buckets[0]!.recordedRate, 2);
      assert.equal(summary.buckets[0]!.targetRate, 40);
      assert.equal(summary.buckets[0]!.achievedRate, 40);
      assert.ok(summary.buckets[0]!.latencyP99Ms > 0);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('refuses an empty window and a zero loop', async () => {
    const store = await tempStore();
    try {
      const base = { source: store.captures, results: store.results, target: 'http://127.0.0.1:9' };
      await assert.rejects(runSoak({ ...base, fromMs: t0, toMs: t0 }), /--from before --to/);
      await assert.rejects(runSoak({ ...base, fromMs: t0, toMs: t0 + 1, loop: 0 }), /--loop must be a positive integer/);
    } finally {
      await store.cleanup();
    }
  });
});
