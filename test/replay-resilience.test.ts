import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../replay/circuit-breaker.js';
import { CommitTracker } from '../replay/commit-tracker.js';
import type { ReplayObserver } from '../replay/replay-observer.js';
import { runReplay } from '../replay/replay-worker.js';
import { ShadowtapError } from '../shared/errors.js';
import type { LogEntry, Position } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { makeCapture, readAll, startServer, tempStore, waitFor } from './helpers/replay-helpers.js';

const t0 = Date.UTC(2026, 0, 1);

describe('commit tracker', () => {
  it('commits only the contiguous done prefix of each partition', () => {
    const tracker = new CommitTracker();
    for (const offset of [0, 1, 2, 3]) tracker.track({ partition: 0, offset }, 1);
    tracker.track({ partition: 1, offset: 7 }, 2);
    tracker.written({ partition: 0, offset: 2 });
    tracker.written({ partition: 0, offset: 1 });
    assert.deepEqual(tracker.takeCommittable(), [], 'offset 0 is still in flight');
    tracker.written({ partition: 0, offset: 0 });
    tracker.written({ partition: 1, offset: 7 });
    assert.deepEqual(tracker.takeCommittable(), [{ partition: 0, offset: 2 }], 'partition 1 still waits for its second copy');
    tracker.written({ partition: 1, offset: 7 });
    tracker.written({ partition: 0, offset: 3 });
    assert.deepEqual(tracker.takeCommittable(), [
      { partition: 0, offset: 3 },
      { partition: 1, offset: 7 },
    ]);
    assert.deepEqual(tracker.takeCommittable(), []);
  });
});

describe('circuit breaker', () => {
  it('opens after K consecutive connection failures, probes once per interval, closes on an answer', async () => {
    const changes: boolean[] = [];
    const breaker = new CircuitBreaker({ failureThreshold: 3, probeIntervalMs: 30 }, (open) => changes.push(open));
    breaker.record('normal', 'connection-failure');
    breaker.record('normal', 'other-failure');
    breaker.record('normal', 'connection-failure');
    assert.equal(breaker.isOpen, false, 'other failures neither count nor reset');
    breaker.record('normal', 'connection-failure');
    assert.equal(breaker.isOpen, true);
    assert.equal(breaker.tryAdmit(), null);

    const admitted = await breaker.admit();
    assert.equal(admitted, 'probe');
    assert.equal(breaker.tryAdmit(), null, 'one probe at a time');
    breaker.record('probe', 'connection-failure');
    assert.equal(breaker.tryAdmit(), null, 'a failed probe waits another interval');

    // Two senders wait; one gets the probe, the other goes on once the probe is answered.
    const waiting = [breaker.admit(), breaker.admit()];
    assert.equal(await Promise.race(waiting), 'probe');
    breaker.record('probe', 'answered');
    assert.deepEqual((await Promise.all(waiting)).sort(), ['normal', 'probe']);
    assert.equal(breaker.isOpen, false);
    assert.deepEqual(changes, [true, false]);
    assert.equal(breaker.opens, 1);
  });

  it('gives up waiting when the signal aborts', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, probeIntervalMs: 60_000 });
    breaker.record('normal', 'connection-failure');
    const controller = new AbortController();
    const waiting = breaker.admit(controller.signal);
    controller.abort();
    assert.equal(await waiting, null);
  });
});

describe('circuit breaker against a real shadow', () => {
  it('pauses sending while the shadow is down and sends the waiting captures once it is back', async () => {
    let down = true;
    let hitsWhileDown = 0;
    const shadow = await startServer((req, res) => {
      if (down) {
        hitsWhileDown++;
        req.socket.destroy();
      } else res.end('back');
    });
    const store = await tempStore();
    const circuit: boolean[] = [];
    const observer: ReplayObserver = {
      captureRead() {},
      deadLetter() {},
      result() {},
      lag() {},
      circuit: (open) => circuit.push(open),
    };
    try {
      await store.captures.append(Array.from({ length: 30 }, (_, i) => makeCapture(`c-${i}`, t0 + i)));
      const run = runReplay({
        source: store.captures,
        results: store.results,
        target: shadow.url,
        concurrency: 1,
        circuitBreaker: { failureThreshold: 3, probeIntervalMs: 40 },
        observers: [observer],
      });
      await waitFor(() => circuit.includes(true) && hitsWhileDown >= 5, 'the breaker to open and probe', 20_000);
      down = false;
      const summary = await run;

      const results = await readAll(store.results);
      assert.equal(results.length, 30);
      const errors = results.filter((r) => r.outcome === 'error');
      assert.equal(errors.length, hitsWhileDown, 'only the failures and the probes reached the dead shadow');
      assert.ok(errors.length < 30);
      assert.ok(errors.every((r) => r.error!.kind === 'reset'));
      assert.equal(results.filter((r) => r.outcome === 'response').length, 30 - errors.length);
      assert.equal(summary.dropped, 0, 'captures wait while the circuit is open');
      assert.deepEqual(circuit, [true, false]);
      assert.equal(summary.circuitOpens, 1);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });
});

describe('results are written before positions are committed', () => {
  it('a run stopped midway and a second run in the same group cover every capture', async () => {
    const total = 200;
    const shadow = await startServer((req, res) => setTimeout(() => res.end(req.url), Number(req.url!.slice(1)) % 7));
    const store = await tempStore();
    try {
      await store.captures.append(Array.from({ length: total }, (_, i) => makeCapture(`k-${i}`, t0 + i, { path: `/${i}` })));
      const stop = new AbortController();
      const first = runReplay({ source: store.captures, results: store.results, target: shadow.url, group: 'g1', concurrency: 8, signal: stop.signal });
      await waitFor(() => shadow.seen.length >= 40, '40 requests at the shadow');
      stop.abort();
      const firstSummary = await first;
      const afterFirst = await readAll(store.results);
      assert.ok(afterFirst.length < total, 'the first run stopped early');
      assert.equal(firstSummary.sent, afterFirst.length, 'requests in flight at the stop were drained and recorded');

      await runReplay({ source: store.captures, results: store.results, target: shadow.url, group: 'g1', concurrency: 8 });
      const all: Result[] = await readAll(store.results);
      const covered = new Set(all.map((r) => r.captureId));
      assert.equal(covered.size, total);
      assert.ok(all.every((r) => r.outcome === 'response'));
      // At-least-once: a repeat is possible only around the stop, never a whole second pass.
      assert.ok(all.length < total + 8 + 1);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('a send still in flight at the drain deadline writes no Result and is replayed by the next run', async () => {
    let answering = false;
    const shadow = await startServer((_req, res) => {
      if (answering) res.end('now');
    });
    const store = await tempStore();
    try {
      await store.captures.append([makeCapture('hung', t0)]);
      const stop = new AbortController();
      const first = runReplay({ source: store.captures, results: store.results, target: shadow.url, group: 'g3', signal: stop.signal, drainTimeoutMs: 50 });
      await waitFor(() => shadow.seen.length === 1, 'the first request at the shadow');
      stop.abort();
      const summary = await first;
      assert.equal(summary.sent, 0);
      assert.equal((await readAll(store.results)).length, 0);

      answering = true;
      const second = await runReplay({ source: store.captures, results: store.results, target: shadow.url, group: 'g3' });
      assert.equal(second.responses, 1);
      assert.deepEqual((await readAll(store.results)).map((r) => r.captureId), ['hung']);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('does not re-send what a finished run committed', async () => {
    const shadow = await startServer();
    const store = await tempStore();
    try {
      await store.captures.append([makeCapture('once-1', t0), makeCapture('once-2', t0 + 1)]);
      await runReplay({ source: store.captures, results: store.results, target: shadow.url, group: 'g2' });
      const again = await runReplay({ source: store.captures, results: store.results, target: shadow.url, group: 'g2' });
      assert.equal(again.read, 0);
      assert.equal(shadow.seen.length, 2);
      await store.captures.append([makeCapture('once-3', t0 + 2)]);
      const third = await runReplay({ source: store.captures, results: store.results, target: shadow.url, group: 'g2' });
      assert.equal(third.read, 1);
      assert.equal(shadow.seen.at(-1)!.url, '/');
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });
});


describe('log failures', () => {
  const memorySource = (count: number, commit: () => Promise<void>) => ({
    name: 'in-memory',
    commit,
    async *read(): AsyncGenerator<LogEntry<Capture>> {
      for (let i = 0; i < count; i++) yield { value: makeCapture(`m-${i}`, t0 + i), position: { partition: 0, offset: i }, timestampMs: t0 + i };
    },
  });

  it('a refused commit is counted and reported, and the worker goes on', async () => {
    const shadow = await startServer();
    const warnings: string[] = [];
    const appended: Result[] = [];
    try {
      const summary = await runReplay({
        source: memorySource(3, () => Promise.reject(new Error('rebalance in progress'))),
        results: { append: async (batch) => void appended.push(...batch) },
        target: shadow.url,
        onWarning: (message) => warnings.push(message),
      });
      assert.equal(appended.length, 3);
      assert.ok(summary.commitFailures >= 1);
      assert.match(warnings[0]!, /commit for group shadowtap-replay\.start-end\.127\.0\.0\.1:\d+ failed, continuing: rebalance in progress/);
    } finally {
      await shadow.close();
    }
  });

  it('Results written while a commit is in flight are committed together by the next one, and the last position when the run ends', async () => {
    const shadow = await startServer();
    const total = 1200;
    const commits: Position[][] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const appended: Result[] = [];
    try {
      const source = {
        ...memorySource(total, async () => undefined),
        async commit(_group: string, positions: Position[]) {
          commits.push(positions);
          if (commits.length === 1) await held;
        },
      };
      const run = runReplay({ source, results: { append: async (batch) => void appended.push(...batch) }, target: shadow.url, concurrency: 16 });
      await waitFor(() => appended.length === total, 'every Result written while the first commit is held');
      release();
      await run;
      assert.equal(commits.length, 2, 'one commit per batch of Results would be one per append');
      assert.deepEqual(commits[1], [{ partition: 0, offset: total - 1 }]);
    } finally {
      await shadow.close();
    }
  });

  it('a results log that cannot be written stops the worker with a runtime error and commits nothing', async () => {
    const shadow = await startServer();
    let commits = 0;
    try {
      await assert.rejects(
        runReplay({
          source: memorySource(3, async () => void commits++),
          results: { append: () => Promise.reject(new Error('disk full')) },
          target: shadow.url,
        }),
        (error: unknown) => error instanceof ShadowtapError && error.exitCode === 3 && /disk full/.test(error.message),
      );
      assert.equal(commits, 0);
    } finally {
      await shadow.close();
    }
  });
});
