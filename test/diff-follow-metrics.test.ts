import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { DiffMetrics } from '../diff/diff-metrics.js';
import { ProgressLine } from '../diff/progress-line.js';
import type { DiffReport } from '../diff/report.js';
import { otherRoutesLabel, RollingSummary } from '../diff/rolling-summary.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { packageRoot } from '../shared/package-root.js';
import { capture, json, result } from './helpers/diff-pairs.js';
import { runCli } from './helpers/run-cli.js';

/** Polls until `check` returns a value; gives up after `timeoutMs` with what it was waiting for. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await delay(50);
  }
}

const metricValue = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('diff --follow serves pair counts and rolling mismatch rates, and prints a summary line on stderr', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-diff-follow-'));
  const store = join(dir, 'store');
  const captures = await openFileLog<Capture>(captureKind, { dir: store });
  const results = await openFileLog<Result>(resultKind, { dir: store });
  await captures.append([capture('f1', '/users/1', json({ a: 1 }), 0), capture('f2', '/users/2', json({ a: 1 }), 1), capture('f3', '/users/3', json({ a: 1 }), 2)]);
  await results.append([result('f1', json({ a: 1 }), 10), result('f2', json({ a: 1 }), 11), result('f3', json({ a: 2 }), 12)]);

  const out = join(dir, 'report.json');
  const child = spawn(
    process.execPath,
    [join(packageRoot(), 'dist', 'cli', 'main.js'), 'diff', '--follow', '--store', store, '--metrics-listen', '127.0.0.1:0', '--format', 'json', '--out', out],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    const url = await waitFor(`the metrics address on stderr (${stderr})`, () => /diff metrics on (http:\/\/\S+)/.exec(stderr)?.[1]);
    const route = 'GET /users/{id}';
    const scrape = () => fetch(url).then((r) => r.text());
    let text = await waitFor('the first three pairs in the metrics', async () => {
      const body = await scrape();
      return metricValue(body, `shadowtap_diff_pairs_total{route="${route}",verdict="mismatch"}`) === 1 ? body : undefined;
    });
    assert.equal(metricValue(text, `shadowtap_diff_pairs_total{route="${route}",verdict="match"}`), 2);
    assert.ok(Math.abs(metricValue(text, `shadowtap_diff_mismatch_rate{route="${route}"}`)! - 1 / 3) < 1e-9, text);

    // New records while following are counted as they come.
    await captures.append([capture('f4', '/users/4', json({ a: 1 }), 3)]);
    await results.append([result('f4', json({ a: 3 }), 13)]);
    text = await waitFor('the pair appended while following', async () => {
      const body = await scrape();
      return metricValue(body, `shadowtap_diff_pairs_total{route="${route}",verdict="mismatch"}`) === 2 ? body : undefined;
    });
    assert.equal(metricValue(text, `shadowtap_diff_mismatch_rate{route="${route}"}`), 0.5);
    assert.match(text, /# TYPE shadowtap_diff_pairs_total counter/);
    assert.match(text, /# TYPE shadowtap_diff_mismatch_rate gauge/);
  } finally {
    child.kill('SIGINT');
    // A child that does not stop on SIGINT must not keep the test process alive.
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await closed;
    clearTimeout(killer);
  }
  assert.equal(await closed, 1, stderr);
  assert.match(stderr, /shadowtap diff: last \d+s: 4 pairs \([\d.]+\/s\), mismatch rate 50\.00%: 2 mismatched/);
  const report = JSON.parse(await readFile(out, 'utf8')) as DiffReport;
  assert.equal(report.totals.pairs, 4);
  await Promise.all([captures.close(), results.close()]);

  // Not a TTY, not following: no progress line on stderr.
  const plain = await runCli(['diff', '--store', store, '--format', 'json', '--out', out]);
  assert.equal(plain.code, 1);
  assert.doesNotMatch(plain.stderr, /pairs\/s/);
  await rm(dir, { recursive: true, force: true });
});

test('the rolling summary forgets pairs older than its window and caps route labels', () => {
  const start = 1_000_000;
  const rolling = new RollingSummary({ windowMs: 60_000, sliceMs: 10_000, maxRoutes: 2 }, start);
  rolling.add('GET /a', 'mismatch', start);
  rolling.add('GET /a', 'match', start + 1000);
  rolling.add('GET /b', 'match', start + 30_000);
  rolling.add('GET /c', 'shadow-error', start + 30_000);
  let snap = rolling.snapshot(start + 30_000);
  assert.deepEqual([...snap.routes.keys()].sort(), ['(other routes)', 'GET /a', 'GET /b']);
  assert.equal(snap.totals.mismatch + snap.totals['shadow-error'], 2);
  assert.equal(rolling.label('GET /d'), otherRoutesLabel);
  snap = rolling.snapshot(start + 75_000);
  assert.equal(snap.routes.has('GET /a'), false, 'the first slice left the window');
  assert.equal(snap.totals.match, 1);
  assert.equal(snap.spanMs, 60_000);
  assert.match(rolling.line(start + 75_000), /last 1m: 2 pairs .*mismatch rate 50\.00%/);
});

test('metrics count every verdict under a capped route label', async () => {
  const rolling = new RollingSummary({ maxRoutes: 1 });
  const metrics = new DiffMetrics(rolling);
  const record = (route: string, verdict: 'match' | 'mismatch') => ({ id: 'x', captureId: 'x', method: 'GET', url: '/', route, verdict, differences: [] });
  metrics.observe(record('GET /a', 'match'));
  metrics.observe(record('GET /a', 'mismatch'));
  metrics.observe(record('GET /b', 'mismatch'));
  const text = await metrics.registry.metrics();
  assert.equal(metricValue(text, 'shadowtap_diff_pairs_total{route="GET /a",verdict="mismatch"}'), 1);
  assert.equal(metricValue(text, `shadowtap_diff_pairs_total{route="${otherRoutesLabel}",verdict="mismatch"}`), 1);
  assert.equal(metricValue(text, 'shadowtap_diff_mismatch_rate{route="GET /a"}'), 0.5);
  assert.equal(metricValue(text, `shadowtap_diff_mismatch_rate{route="${otherRoutesLabel}"}`), 1);
});

test('the progress line shows pairs and pairs/s on a TTY and nothing elsewhere', () => {
  let clock = 0;
  const written: string[] = [];
  const tty = new ProgressLine({ isTTY: true, write: (t) => (written.push(t), true) }, () => clock);
  for (let i = 0; i < 3000; i++) tty.count();
  clock = 2000;
  tty.render();
  tty.stop();
  assert.match(written[0]!, /^\r\u001b\[Kshadowtap diff: 3,000 pairs, 1,500 pairs\/s$/);
  assert.equal(written.at(-1), '\r\u001b[K', 'the line is erased before the report');

  const quiet: string[] = [];
  const pipe = new ProgressLine({ isTTY: false, write: (t) => (quiet.push(t), true) }, () => clock).start(1);
  pipe.count();
  pipe.render();
  pipe.stop();
  assert.deepEqual(quiet, []);
});
