import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rateSchedule, ratePacer } from '../replay/rate-pacer.js';
import { recordedPacer, recordedSchedule } from '../replay/recorded-pacer.js';
import { runReplay } from '../replay/replay-worker.js';
import { makeCapture, readAll, startServer, tempStore } from './helpers/replay-helpers.js';

const t0 = Date.UTC(2026, 0, 1);

describe('rate pacer schedule', () => {
  it('places send i at exactly start + i/rate, independent of when it is asked', () => {
    assert.equal(rateSchedule(1000, 4, 0), 1000);
    assert.equal(rateSchedule(1000, 4, 1), 1250);
    assert.equal(rateSchedule(1000, 4, 10), 3500);
    assert.equal(rateSchedule(0, 1000, 999), 999);
    const pacer = ratePacer({ rate: 50, startMs: 10 });
    assert.deepEqual(pacer.openModel, { maxLatenessMs: 1000, strict: false });
    assert.deepEqual([0, 1, 2, 3].map(() => pacer.scheduleFor(0)), [10, 30, 50, 70]);
  });

  it('restarts the schedule after an idle source only when told to (follow mode)', () => {
    const longAgo = performance.now() - 10_000;
    const keeping = ratePacer({ rate: 10, startMs: longAgo });
    assert.equal(keeping.scheduleFor(0), longAgo);
    const restarting = ratePacer({ rate: 10, startMs: longAgo, restartWhenIdle: true });
    assert.ok(restarting.scheduleFor(0) > longAgo + 9_000);
  });
});

describe('recorded pacer schedule', () => {
  it('keeps recorded gaps divided by the speed, relative to the first capture', () => {
    assert.equal(recordedSchedule(100, 5000, 5000, 1), 100);
    assert.equal(recordedSchedule(100, 5000, 5300, 1), 400);
    assert.equal(recordedSchedule(100, 5000, 5300, 3), 200);
    assert.equal(recordedSchedule(100, 5000, 4000, 1), 100, 'older than the origin: due at once');
    const pacer = recordedPacer({ speed: 2, startMs: 0 });
    assert.equal(pacer.openModel, undefined);
    assert.deepEqual([7000, 7100, 7500].map((t) => pacer.scheduleFor(t)), [0, 50, 250]);
    const fromWindowStart = recordedPacer({ speed: 10, startMs: 0, originMs: 6000 });
    assert.equal(fromWindowStart.scheduleFor(7000), 100);
  });
});

describe('recorded pacing against a real shadow', () => {
  async function replayAt(speed: number): Promise<{ order: string[]; scheduledMs: number[] }> {
    const arrivals: string[] = [];
    const shadow = await startServer((req, res) => {
      arrivals.push(req.url!);
      res.end();
    });
    const store = await tempStore();
    try {
      await store.captures.append([
        makeCapture('a', t0, { path: '/a' }),
        makeCapture('b', t0 + 100, { path: '/b' }),
        makeCapture('c', t0 + 400, { path: '/c' }),
      ]);
      await runReplay({ source: store.captures, results: store.results, target: shadow.url, pace: 'recorded', speed });
      const results = await readAll(store.results);
      assert.equal(results.length, 3);
      // Never early: a send waits for its scheduled time.
      for (const r of results) assert.ok(r.sentTime! >= r.scheduledTime);
      const byId = new Map(results.map((r) => [r.id, r.scheduledTime]));
      return { order: arrivals, scheduledMs: ['a', 'b', 'c'].map((id) => (byId.get(id)! - byId.get('a')!) / 1000) };
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  }

  it('sends in recorded order, scheduled at the recorded gaps at speed 1 and at a quarter of them at speed 4', async () => {
    const normal = await replayAt(1);
    assert.deepEqual(normal.order, ['/a', '/b', '/c']);
    assert.deepEqual(normal.scheduledMs.map(Math.round), [0, 100, 400]);
    const fast = await replayAt(4);
    assert.deepEqual(fast.order, ['/a', '/b', '/c']);
    assert.deepEqual(fast.scheduledMs.map(Math.round), [0, 25, 100]);
  });
});

describe('open model (--rate)', () => {
  it('drops sends whose concurrency slot is still taken --max-lateness after their time, and records each drop', async () => {
    const shadow = await startServer((_req, res) => setTimeout(() => res.end(), 50));
    const store = await tempStore();
    try {
      await store.captures.append(Array.from({ length: 20 }, (_, i) => makeCapture(`r-${i}`, t0 + i)));
      const summary = await runReplay({ source: store.captures, results: store.results, target: shadow.url, rate: 200, concurrency: 1, maxLatenessMs: 20 });
      const results = await readAll(store.results);
      assert.equal(results.length, 20);
      const dropped = results.filter((r) => r.skipReason === 'dropped');
      assert.ok(dropped.length > 0, 'a single slot held 50 ms cannot take 200/s');
      assert.ok(dropped.every((r) => r.sentTime === null && r.outcome === 'skipped'));
      assert.equal(summary.dropped, dropped.length);
      assert.equal(summary.sent + summary.dropped, 20);
      // Scheduled times stay on the 5 ms grid whatever happened to the sends.
      const scheduled = results.map((r) => r.scheduledTime).sort((a, b) => a - b);
      const stepMicros = (scheduled[19]! - scheduled[0]!) / 19;
      assert.ok(Math.abs(stepMicros - 5000) < 50, `step was ${stepMicros} µs`);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });
  /** A shadow in this process whose first request busy-waits: the replay's event loop is blocked too. */
  async function blockedOnce(blockMs: number) {
    let blocked = false;
    return startServer((_req, res) => {
      if (!blocked) {
        blocked = true;
        const until = performance.now() + blockMs;
        while (performance.now() < until);
      }
      res.end();
    });
  }

  it('a busy event loop drops nothing: sends the worker reaches late go late, their lateness recorded, and the schedule stays on its grid', async () => {
    const blockMs = 60;
    const shadow = await blockedOnce(blockMs);
    const store = await tempStore();
    try {
      await store.captures.append(Array.from({ length: 40 }, (_, i) => makeCapture(`b-${i}`, t0 + i)));
      const summary = await runReplay({ source: store.captures, results: store.results, target: shadow.url, rate: 200, concurrency: 64 });
      const results = await readAll(store.results);
      assert.equal(results.length, 40);
      assert.equal(summary.dropped, 0);
      assert.equal(summary.sent, 40);
      // The sends due while the loop was blocked left after it, and say so.
      const lateness = results.map((r) => (r.sentTime! - r.scheduledTime) / 1000);
      assert.ok(Math.max(...lateness) >= blockMs / 2, `largest lateness ${Math.max(...lateness)} ms`);
      assert.ok(summary.latenessMs.max >= blockMs / 2);
      // Never early: catching up sends no slot before its time.
      for (const r of results) assert.ok(r.sentTime! >= r.scheduledTime, `${r.id} was sent early`);
      const scheduled = results.map((r) => r.scheduledTime).sort((a, b) => a - b);
      assert.ok(Math.abs((scheduled[39]! - scheduled[0]!) / 39 - 5000) < 50, 'scheduled on the 5 ms grid');
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('--max-lateness counts only the wait for a slot: a worker behind its schedule by more than it still sends all, one slot at a time', async () => {
    // The loop blocked 300 ms puts every send due then more than --max-lateness 200 behind; with
    // one slot each of them meets it taken (its predecessor in flight) and waits a round trip.
    const blockMs = 300;
    const shadow = await blockedOnce(blockMs);
    const store = await tempStore();
    try {
      await store.captures.append(Array.from({ length: 40 }, (_, i) => makeCapture(`w-${i}`, t0 + i)));
      const summary = await runReplay({ source: store.captures, results: store.results, target: shadow.url, rate: 50, concurrency: 1, maxLatenessMs: 200 });
      const results = await readAll(store.results);
      assert.equal(results.length, 40);
      assert.equal(summary.dropped, 0);
      assert.equal(summary.sent, 40);
      assert.ok(summary.latenessMs.max >= 200, `the worker was behind by more than --max-lateness (max lateness ${summary.latenessMs.max} ms)`);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('with --strict-open-model a send the worker reaches later than --max-lateness is dropped, not sent late', async () => {
    const blockMs = 60;
    const shadow = await blockedOnce(blockMs);
    const store = await tempStore();
    try {
      await store.captures.append(Array.from({ length: 40 }, (_, i) => makeCapture(`s-${i}`, t0 + i)));
      const summary = await runReplay({ source: store.captures, results: store.results, target: shadow.url, rate: 200, concurrency: 64, strictOpenModel: true, maxLatenessMs: 2 });
      const results = await readAll(store.results);
      assert.equal(results.length, 40);
      assert.ok(summary.dropped > 0, 'sends due while the loop was blocked are dropped');
      assert.equal(summary.sent + summary.dropped, 40);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });
});
