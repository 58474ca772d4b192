import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { buildReport } from '../diff/report.js';
import { reportExitCode } from '../diff/report-exit.js';
import { runDiff, summarizeDiff } from '../index.js';
import type { PairRecord } from '../diff/pair-record.js';
import { mergeSummaries, summaryFromJson, summaryToJson } from '../diff/summary.js';
import { postWebhook } from '../diff/webhook.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { memoryLog } from './helpers/diff-memory-log.js';
import { capture, json, result } from './helpers/diff-pairs.js';

function logs(captures: Capture[], results: Result[]) {
  return { captures: memoryLog(captureKind, captures), results: memoryLog(resultKind, results) };
}

test('pairing: duplicates count once, missing, skipped, errors and request-only captures get their verdicts', async () => {
  const ok = json({ id: 1 });
  const captures = [
    capture('a', '/users/1', ok, 0),
    capture('b', '/users/2', ok, 1),
    capture('c', '/users/3', ok, 2),
    capture('d', '/users/4', ok, 3),
    capture('e', '/users/5', null, 4),
    capture('f', '/users/6', ok, 5),
  ];
  const results = [
    result('a', json({ id: 1 }), 10),
    result('a', json({ id: 999 }), 11), // written twice by a restarted worker: the first counts
    result('b', json({ id: 2 }), 12),
    result('c', null, 13, { outcome: 'skipped', skipReason: 'unsafe method', error: null }),
    result('d', null, 14),
    result('e', json({ id: 5 }, 201), 15),
    result('zz', json({}), 16), // its capture is not in the window
  ];
  const verdicts: PairRecord[] = [];
  const report = await runDiff({ ...logs(captures, results), onVerdict: (v) => verdicts.push(v) });
  const byId = Object.fromEntries(verdicts.map((v) => [v.id, v.verdict]));
  assert.deepEqual(byId, { a: 'match', b: 'mismatch', c: 'skipped', d: 'shadow-error', e: 'no-baseline', f: 'missing' });
  assert.equal(verdicts.length, 6);
  assert.equal(report.totals.duplicates, 1);
  assert.equal(report.totals.unpaired, 1);
  assert.equal(report.totals.pairs, 6);
  assert.equal(report.routes.length, 1);
  assert.equal(report.routes[0]!.route, 'GET /users/{id}');
  assert.deepEqual(verdicts.find((v) => v.id === 'b')!.differences.map((d) => d.path), ['$.id']);
  assert.equal(verdicts.find((v) => v.id === 'e')!.shadowStatus, 201);
});

test('pairing: soak copies pair with the same capture; results arriving before their capture still pair', async () => {
  const captures = [capture('s', '/items/9', json({ v: 1 }), 100)];
  const results = [
    result('s', json({ v: 1 }), 50, { id: 's' }), // clock skew: sent "before" the capture
    result('s', json({ v: 1 }), 200, { id: 's~1' }),
    result('s', json({ v: 2 }), 300, { id: 's~2' }),
    result('s', json({ v: 2 }), 301, { id: 's~2' }),
  ];
  const verdicts: PairRecord[] = [];
  const report = await runDiff({ ...logs(captures, results), onVerdict: (v) => verdicts.push(v) });
  assert.deepEqual(verdicts.map((v) => `${v.id}:${v.verdict}`).sort(), ['s:match', 's~1:match', 's~2:mismatch']);
  assert.equal(report.totals.duplicates, 1);
  assert.equal(report.totals.missing, 0);
});

test('pairing: memory is bounded by the join window; evicted captures are counted', async () => {
  const captures = Array.from({ length: 50 }, (_, i) => capture(`c${i}`, '/x', json({ i }), i));
  // Results only after every capture, as after a soak: a window of 10 keeps the last 10 captures.
  const results = captures.map((c, i) => result(c.id, json({ i }), 1000 + i));
  const report = await runDiff({ ...logs(captures, results), joinWindow: 10 });
  assert.equal(report.totals.evicted, 40);
  assert.equal(report.totals.missing, 40);
  assert.equal(report.totals.match, 10);
  assert.equal(report.totals.unpaired, 40);
  const wide = await runDiff({ ...logs(captures, results), joinWindow: 100 });
  assert.equal(wide.totals.match, 50);
  assert.equal(wide.totals.evicted, 0);
});

test('merging partial summaries equals the summary of the whole', async () => {
  const captures: Capture[] = [];
  const results: Result[] = [];
  for (let i = 0; i < 400; i++) {
    const route = ['/users/', '/orders/', '/search/'][i % 3]!;
    captures.push(capture(`r${i}`, `${route}${i}`, json({ i, price: i % 7 === 0 ? 1 : 2, at: '2026-01-01T00:00:00Z' }), i * 100, 'GET', 1000 + (i % 50) * 100));
    if (i % 11 === 5) continue;
    results.push(
      result(`r${i}`, json({ i, price: 2, at: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z` }), i * 100, {
        latencyMicros: 1100 + ((i * 37) % 90) * 100,
        replayMode: 'follow',
      }),
    );
  }
  const options = { samplesPerRoute: 4, bucketMs: 5000 };
  const whole = await summarizeDiff({ ...logs(captures, results), ...options });
  // Two workers, each owning half of the request ids (as two Kafka partitions would).
  const part = (k: number) => summarizeDiff({ ...logs(captures.filter((_, i) => i % 2 === k), results.filter((r) => Number(r.id.slice(1)) % 2 === k)), ...options });
  const [a, b] = await Promise.all([part(0), part(1)]);
  // Partials travel as JSON between workers.
  const merged = mergeSummaries(summaryFromJson(JSON.parse(JSON.stringify(summaryToJson(a)))), b);
  const now = new Date('2026-01-01T00:00:00Z');
  const wholeReport = buildReport(whole, { now });
  const mergedReport = buildReport(merged, { now });
  assert.deepEqual(mergedReport, wholeReport);
  assert.ok(wholeReport.totals.mismatch > 0 && wholeReport.totals.noise > 0 && wholeReport.totals.missing > 0);
  assert.ok(wholeReport.buckets.length > 3);
  assert.ok(wholeReport.routes.every((r) => r.latency.ci95Ms !== null));
});

test('thresholds decide the exit code, per route overrides included', async () => {
  const captures = Array.from({ length: 100 }, (_, i) => capture(`t${i}`, i < 50 ? `/a/${i}` : `/b/${i}`, json({ v: 1 }), i));
  // Each route differs in its own way (2 on /a, 3 on /b): route-specific differences, not one systemic change.
  const results = captures.map((c, i) => result(c.id, json({ v: i === 0 ? 2 : i === 60 ? 3 : 1 }), i));
  const strict = await runDiff(logs(captures, results));
  assert.equal(reportExitCode(strict), 1);
  assert.deepEqual(strict.breaches.map((b) => b.route), ['GET /a/{id}', 'GET /b/{id}']);
  const loose = await runDiff({ ...logs(captures, results), thresholds: { failOnMismatchRate: 0.05 } });
  assert.equal(reportExitCode(loose), 0);
  const perRoute = await runDiff({ ...logs(captures, results), thresholds: { failOnMismatchRate: 0.05, routes: { '/b/:id': { failOnMismatchRate: 0 } } } });
  assert.deepEqual(perRoute.breaches.map((b) => b.route), ['GET /b/{id}']);
  assert.equal(reportExitCode(perRoute), 1);
  const accepted = await runDiff({
    ...logs(captures, results),
    accepted: 'differences:\n  - route: "*"\n    path: $.v\n    status: accepted\n    reason: v2 renumbered\n',
  });
  assert.equal(reportExitCode(accepted), 0);
  assert.equal(accepted.totals.accepted, 2);
});

test('latency regression fails only when the interval excludes zero and the growth passes the threshold', async () => {
  const captures = Array.from({ length: 200 }, (_, i) => capture(`l${i}`, '/slow', json({}), i, 'GET', 10_000 + (i % 20) * 100));
  // Live mirroring: capture's timing and the shadow's are taken under the same live load.
  const slow = captures.map((c, i) => result(c.id, json({}), i, { latencyMicros: 30_000 + (i % 20) * 100, replayMode: 'follow' }));
  const report = await runDiff({ ...logs(captures, slow), thresholds: { failOnLatencyRegression: 50 } });
  const route = report.routes[0]!;
  assert.ok(route.latency.regression);
  assert.ok(route.latency.ci95Ms![0] > 0);
  assert.deepEqual(report.breaches.map((b) => b.kind), ['latency-regression']);
  const same = captures.map((c, i) => result(c.id, json({}), i, { latencyMicros: 10_000 + ((i + 7) % 20) * 100, replayMode: 'follow' }));
  const steady = await runDiff({ ...logs(captures, same), thresholds: { failOnLatencyRegression: 50 } });
  assert.equal(steady.routes[0]!.latency.regression, false);
  assert.equal(reportExitCode(steady), 0);
});

test('on few pairs, four stalls of one side are not a regression, a slowed tail still is', async () => {
  // 90 requests, as a short run gives: a p99 of 90 pairs is their maximum, which one stall decides.
  const captures = Array.from({ length: 90 }, (_, i) => capture(`s${i}`, '/few', json({}), i, 'GET', 2_000 + (i % 9) * 100));
  const stalls = captures.map((c, i) => result(c.id, json({}), i, { latencyMicros: [17, 40, 58, 77].includes(i) ? 90_000 : 2_000 + ((i + 4) % 9) * 100, replayMode: 'follow' }));
  const stalled = await runDiff({ ...logs(captures, stalls), thresholds: { failOnLatencyRegression: 20 } });
  const latency = stalled.routes[0]!.latency;
  assert.ok(latency.shadow.p99Ms > 80, `the stalls are shown in the p99: ${latency.shadow.p99Ms}`);
  assert.equal(latency.judged?.percentile, 94.4, 'judged where 5 of 90 pairs lie beyond');
  assert.equal(latency.regression, false, 'four stalls of 90 are not a slower version');
  assert.equal(reportExitCode(stalled), 0);
  // A certain but tiny shift (+0.5 ms on every request) and six stalls: the judged percentile lands on
  // a stall (+30 ms), but the interval of the growth reaches down to the tiny shift, under the 5 ms floor.
  const shifted = captures.map((c, i) => result(c.id, json({}), i, { latencyMicros: ([5, 21, 38, 52, 66, 83].includes(i) ? 30_000 : 0) + 2_500 + ((i + 4) % 9) * 100, replayMode: 'follow' }));
  const uncertain = (await runDiff({ ...logs(captures, shifted), thresholds: { failOnLatencyRegression: 20 } })).routes[0]!.latency;
  assert.ok(uncertain.judged!.deltaMs >= 5 && uncertain.ci95Ms![0] > 0 && uncertain.ci95Ms![0] < 5, `growth ${uncertain.judged!.deltaMs} ms, interval ${uncertain.ci95Ms}`);
  assert.equal(uncertain.regression, false, 'slower for sure, but not for sure by more than the floor');
  // Every fifth request 60 ms slower: a real tail regression, seen at the judged percentile.
  const tail = captures.map((c, i) => result(c.id, json({}), i, { latencyMicros: (i % 5 === 3 ? 60_000 : 0) + 2_000 + ((i + 4) % 9) * 100, replayMode: 'follow' }));
  const slowed = await runDiff({ ...logs(captures, tail), thresholds: { failOnLatencyRegression: 20 } });
  assert.equal(slowed.routes[0]!.latency.regression, true);
  assert.match(slowed.breaches[0]!.message, /p94\.4 \+\d+(\.\d+)? ms .*90 pairs: too few for a p99/);
});

test('a shift of every request hidden under stalls at the tail is seen at the median', async () => {
  // A busy host: a sixth of the requests of each side stall 150-250 ms, different ones on each side.
  const captures = Array.from({ length: 60 }, (_, i) => capture(`m${i}`, '/shifted', json({}), i, 'GET', (i % 6 === 0 ? 150_000 + i * 1_500 : 0) + 2_000 + (i % 7) * 100));
  const stalled = (i: number) => (i % 6 === 3 ? 150_000 + i * 1_600 : 0);
  const shifted = captures.map((c, i) => result(c.id, json({}), i, { latencyMicros: stalled(i) + 32_000 + ((i + 3) % 7) * 100, replayMode: 'follow' }));
  const latency = (await runDiff({ ...logs(captures, shifted), thresholds: { failOnLatencyRegression: 20 } })).routes[0]!.latency;
  assert.equal(latency.regression, true, `every request 30 ms slower: ${JSON.stringify(latency)}`);
  assert.equal(latency.judged?.percentile, 50, 'the median decided');
  const same = captures.map((c, i) => result(c.id, json({}), i, { latencyMicros: stalled(i) + 2_000 + ((i + 3) % 7) * 100, replayMode: 'follow' }));
  const unchanged = (await runDiff({ ...logs(captures, same), thresholds: { failOnLatencyRegression: 20 } })).routes[0]!.latency;
  assert.equal(unchanged.regression, false, `stalls on different requests of each side are no regression: ${JSON.stringify(unchanged)}`);
});

test('a p99 growth below the millisecond floor is not a regression, however certain', async () => {
  const captures = Array.from({ length: 200 }, (_, i) => capture(`f${i}`, '/fast', json({}), i, 'GET', 1_000 + (i % 20) * 10));
  const slower = captures.map((c, i) => result(c.id, json({}), i, { latencyMicros: 3_000 + (i % 20) * 10, replayMode: 'follow' }));
  const floored = await runDiff({ ...logs(captures, slower), thresholds: { failOnLatencyRegression: 50 } });
  assert.equal(floored.routes[0]!.latency.regression, false, '+2 ms is under the 5 ms default floor');
  const unfloored = await runDiff({ ...logs(captures, slower), thresholds: { failOnLatencyRegression: 50, minLatencyRegressionMs: 1 } });
  assert.equal(unfloored.routes[0]!.latency.regression, true);
  assert.equal(reportExitCode(unfloored), 1);
});

test('the webhook posts a Slack-compatible summary to a real server', async () => {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push(`${req.method} ${req.headers['content-type']} ${body}`);
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const report = await runDiff(logs([capture('w', '/w', json({ a: 1 }))], [result('w', json({ a: 2 }))]));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    assert.equal(await postWebhook(url, report), undefined);
    assert.equal(received.length, 1);
    const [method, type, body] = received[0]!.split(' ', 3);
    assert.deepEqual([method, type], ['POST', 'application/json']);
    const payload = JSON.parse(received[0]!.slice(`${method} ${type} `.length)) as { text: string };
    assert.match(payload.text, /FAILED/);
    assert.match(payload.text, /GET \/w/);
    assert.ok(body);
  } finally {
    server.close();
  }
});
