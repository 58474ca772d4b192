import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Command } from 'commander';
import { registerGate } from '../cli/commands/gate.js';
import { defaultGateCriteria, evaluateGate } from '../diff/graduation-gate.js';
import type { DiffReport, RouteReport } from '../diff/report.js';
import { emptyCounts } from '../diff/summary.js';

const hour = 3_600_000;

function route(name: string, p99: [number, number], ci95Ms: [number, number] | null): RouteReport {
  return {
    route: name,
    counts: { ...emptyCounts(), match: 100 },
    compared: 100,
    mismatchRate: 0,
    latency: {
      stable: { count: 100, p50Ms: 5, p95Ms: 9, p99Ms: p99[0] },
      shadow: { count: 100, p50Ms: 5, p95Ms: 9, p99Ms: p99[1] },
      p99DeltaMs: p99[1] - p99[0],
      p99DeltaPct: Math.round(((p99[1] - p99[0]) / p99[0]) * 1000) / 10,
      ci95Ms,
      ...(ci95Ms !== null && { judged: { percentile: 99, pairs: 1000, deltaMs: p99[1] - p99[0], deltaPct: Math.round(((p99[1] - p99[0]) / p99[0]) * 1000) / 10 } }),
      regression: false,
    },
    breached: false,
    topFields: [],
    fieldOverflow: 0,
  };
}

/** A report of 2 h of traffic, 1000 compared pairs, `mismatch` of them differing and `errors` failing. */
function report(options: { spanMs?: number; mismatch?: number; errors?: number; routes?: RouteReport[] } = {}): DiffReport {
  const mismatch = options.mismatch ?? 2;
  const errors = options.errors ?? 1;
  const counts = { ...emptyCounts(), match: 1000 - mismatch - errors, mismatch, 'shadow-error': errors, missing: 4 };
  return {
    schemaVersion: 1,
    generatedAt: '2026-11-26T12:00:00.000Z',
    verdict: 'pass',
    breaches: [],
    window: { fromMs: null, toMs: null, firstMs: 1_000_000, lastMs: 1_000_000 + (options.spanMs ?? 2 * hour) },
    totals: { ...counts, pairs: 1004, compared: 1000, mismatchRate: (mismatch + errors) / 1000, unpaired: 0, duplicates: 0, evicted: 0, deadLetters: 0 },
    thresholds: {},
    noiseMethod: 'test',
    routes: options.routes ?? [route('GET /users/{id}', [10, 10.5], [-0.2, 1])],
    fields: [],
    buckets: [],
    samples: [],
  };
}

const failed = (r: DiffReport, criteria = defaultGateCriteria) =>
  evaluateGate(r, criteria)
    .checks.filter((c) => !c.passed)
    .map((c) => c.name);

test('a long enough run with few differences, few errors and no significant slowdown passes', () => {
  const decision = evaluateGate(report(), defaultGateCriteria);
  assert.equal(decision.passed, true);
  assert.deepEqual(
    decision.checks.map((c) => c.message),
    [
      '1000 of 1004 pairs compared',
      '2h of traffic, at least 1h required',
      '0.20% (2 of 1000 compared pairs differ), at most 1.00%',
      '0.10% (1 of 1000 compared pairs failed on the shadow), at most 1.00%',
      "no route's p99 grew significantly by more than 10%",
    ],
  );
});

test('each criterion fails the gate on its own', () => {
  assert.deepEqual(failed(report({ spanMs: 30 * 60_000 })), ['duration']);
  assert.deepEqual(failed(report({ mismatch: 11 })), ['mismatch-rate']);
  assert.deepEqual(failed(report({ errors: 11 })), ['error-rate']);
  assert.deepEqual(failed(report({ mismatch: 11 }), { ...defaultGateCriteria, maxMismatchRate: 0.02 }), []);
});

test('latency fails only on a route whose p99 growth is significant and above the limit', () => {
  const slow = route('GET /orders/{id}', [50, 110], [40, 75]);
  const noisy = route('GET /search', [20, 40], [-3, 30]);
  const slightly = route('GET /users/{id}', [10, 10.8], [0.2, 1.4]);
  const unjudged = route('POST /rare', [10, 90], null);
  const decision = evaluateGate(report({ routes: [noisy, slightly, slow, unjudged] }), defaultGateCriteria);
  assert.equal(decision.passed, false);
  assert.equal(
    decision.checks.find((c) => c.name === 'latency')!.message,
    'latency grew by more than 10%: GET /orders/{id} p99 50 → 110 ms (+120%); 1 route had too few pairs to judge',
  );
  assert.deepEqual(failed(report({ routes: [noisy, slightly, unjudged] })), []);
});

test('a report where nothing could be compared never passes', () => {
  const empty = report({ mismatch: 0, errors: 0 });
  empty.totals = { ...empty.totals, ...emptyCounts(), missing: 50, pairs: 50, compared: 0 };
  assert.deepEqual(failed(empty), ['traffic', 'mismatch-rate', 'error-rate']);
});

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Runs `shadowtap gate ARGS` in process; returns its exit code and what it printed. */
async function gate(args: string[]): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
  const program = new Command('shadowtap').exitOverride().configureOutput({ writeErr: () => {} });
  registerGate(program);
  let stdout = '';
  let stderr = '';
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  const before = process.exitCode;
  try {
    await program.parseAsync(['node', 'shadowtap', 'gate', ...args]);
    return { code: process.exitCode as number | undefined, stdout, stderr };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    process.exitCode = before;
  }
}

async function reportFile(content: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-gate-'));
  dirs.push(dir);
  const path = join(dir, 'report.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

test('the gate command exits 0 on pass, 1 on fail and 2 on a file that is not a report', async () => {
  const passing = await gate(['--report', await reportFile(report())]);
  assert.equal(passing.code, 0);
  assert.match(passing.stdout, /^gate: PASS /);

  const failing = await gate(['--report', await reportFile(report()), '--min-duration', '24h']);
  assert.equal(failing.code, 1);
  assert.match(failing.stdout, /^ {2}FAIL duration: 2h of traffic, at least 24h required$/m);

  const asJson = await gate(['--report', await reportFile(report({ errors: 50 })), '--format', 'json']);
  assert.equal(asJson.code, 1);
  assert.deepEqual(
    (JSON.parse(asJson.stdout) as { checks: { name: string; passed: boolean }[] }).checks.filter((c) => !c.passed).map((c) => c.name),
    ['error-rate'],
  );

  const notReport = await gate(['--report', await reportFile({ hello: 1 })]);
  assert.equal(notReport.code, 2);
  assert.match(notReport.stderr, /is not a shadowtap diff report/);

  const missing = await gate([]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /gate needs --report FILE/);
});

test('gate thresholds are checked like any flag', async () => {
  await assert.rejects(gate(['--report', 'r.json', '--max-mismatch-rate', '5']), /--max-mismatch-rate must be a share between 0 and 1/);
  await assert.rejects(gate(['--report', 'r.json', '--min-duration', 'a day']), /--min-duration must be a duration such as 30m/);
});
