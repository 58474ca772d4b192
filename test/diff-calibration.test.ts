import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBaselineNoise, minBaselinePairs } from '../diff/field-calibration.js';
import type { PairRecord } from '../diff/pair-record.js';
import { buildReport, type DiffReport } from '../diff/report.js';
import { runDiff, summarizeDiff } from '../index.js';
import { mergeSummaries, summaryFromJson, summaryToJson } from '../diff/summary.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { memoryLog } from './helpers/diff-memory-log.js';
import { capture, json, result } from './helpers/diff-pairs.js';

const shadow = 'http://shadow:8080';
const stableB = 'http://stable-b:8080';

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/**
 * A/A and A/B runs of one route. `$.pick` (a recommendation picked at random by every instance)
 * differs about half the time in both runs: noise. `$.price` differs in one pair of ten, and only
 * against the candidate: a real regression that no value heuristic could spot either way.
 */
function corpus(n = 400) {
  const random = rng(7);
  const pick = () => ['alpha', 'beta'][random() < 0.5 ? 0 : 1]!;
  const captures: Capture[] = [];
  const results: Result[] = [];
  let priceChanged = 0;
  let onlyPickChanged = 0;
  for (let i = 0; i < n; i++) {
    const stable = { id: i, pick: pick(), price: 10 + (i % 7) };
    const candidate = { ...stable, pick: pick(), price: i % 10 === 3 ? stable.price + 1 : stable.price };
    const second = { ...stable, pick: pick() };
    if (candidate.price !== stable.price) priceChanged++;
    else if (candidate.pick !== stable.pick) onlyPickChanged++;
    const id = `c${i}`;
    captures.push(capture(id, `/items/${i}`, json(stable), i * 10));
    results.push(result(id, json(candidate), i * 10 + 1, { target: shadow }));
    results.push(result(id, json(second), i * 10 + 2, { target: `${stableB}/` }));
  }
  return { captures, results, priceChanged, onlyPickChanged };
}

const logs = (captures: Capture[], results: Result[]) => ({ captures: memoryLog(captureKind, captures), results: memoryLog(resultKind, results) });
const field = (report: DiffReport, name: string) => report.fields.find((f) => f.field === name)!;

test('A/A calibration: a field that differs as often between two stables is noise; one that differs only against the candidate is real', async () => {
  const { captures, results, priceChanged, onlyPickChanged } = corpus();
  const verdicts: PairRecord[] = [];
  const report = await runDiff({ ...logs(captures, results), baselineTarget: stableB, onVerdict: (v) => verdicts.push(v) });

  assert.equal(verdicts.length, captures.length, 'A/A pairs are not verdicts of their own');
  assert.equal(report.totals.pairs, captures.length);
  assert.equal(report.totals.duplicates, 0, 'an A/A result with the id of the candidate result is no duplicate');
  assert.equal(report.baseline?.pairs, captures.length);
  assert.equal(report.baseline?.calibratedRoutes, 1);
  assert.match(report.noiseMethod, /A\/A calibration against http:\/\/stable-b:8080/);

  const pick = field(report, '$.pick');
  assert.equal(pick.baselineNoise, true);
  assert.equal(pick.differs, 0);
  assert.ok(pick.noiseReasons['a/a baseline']! > 100);
  assert.ok(pick.aaRate! > 0.3 && pick.aaRate! < 0.7, `aaRate ${pick.aaRate}`);

  const price = field(report, '$.price');
  assert.equal(price.baselineNoise, false);
  assert.equal(price.differs, priceChanged);
  assert.equal(price.aaRate, 0);

  assert.equal(report.totals.mismatch, priceChanged);
  assert.equal(report.totals.noise, onlyPickChanged);
  assert.equal(report.baseline?.reclassified, onlyPickChanged);
  assert.equal(report.routes[0]!.aaPairs, captures.length);
  assert.equal(
    report.buckets.reduce((sum, b) => sum + b.counts.mismatch, 0),
    priceChanged,
    'time buckets are re-judged too',
  );
  // Samples follow: no mismatch sample is left whose only difference is $.pick.
  for (const sample of report.samples.filter((s) => s.verdict === 'mismatch')) {
    assert.ok(sample.differences.some((d) => d.field === '$.price' && d.noise === undefined));
  }
  assert.ok(report.noise!.some((g) => g.field === '$.pick' && g.reasons['a/a baseline']! > 0));
});

test('without A/A results the heuristics decide, and the report says why', async () => {
  const { captures, results, priceChanged, onlyPickChanged } = corpus();
  const candidateOnly = results.filter((r) => r.target === shadow);
  const none = await runDiff(logs(captures, candidateOnly));
  assert.equal(none.baseline, null);
  assert.match(none.noiseMethod, /no A\/A baseline/);
  assert.equal(none.totals.mismatch, priceChanged + onlyPickChanged);

  const named = await runDiff({ ...logs(captures, candidateOnly), baselineTarget: stableB });
  assert.equal(named.baseline?.pairs, 0);
  assert.match(named.noiseMethod, /no results for the baseline target http:\/\/stable-b:8080/);
  assert.equal(named.totals.mismatch, priceChanged + onlyPickChanged);
  assert.equal(field(named, '$.pick').aaRate, null);
});

test('a capture answered only by the baseline target is still missing for the candidate', async () => {
  const captures = [capture('m1', '/items/1', json({ a: 1 })), capture('m2', '/items/2', json({ a: 1 }), 5)];
  const results = [result('m1', json({ a: 1 }), 1, { target: stableB }), result('m2', json({ a: 1 }), 6, { target: shadow })];
  const report = await runDiff({ ...logs(captures, results), baselineTarget: stableB });
  assert.equal(report.totals.missing, 1);
  assert.equal(report.totals.match, 1);
});

test('per-field A/A statistics merge: two workers summarising halves report what one worker reports', async () => {
  const { captures, results } = corpus();
  const whole = buildReport(await summarizeDiff({ ...logs(captures, results), baselineTarget: stableB }), { baselineTarget: stableB, now: new Date(0) });
  const half = (keep: (i: number) => boolean) => {
    const ids = new Set(captures.filter((_, i) => keep(i)).map((c) => c.id));
    return summarizeDiff({ ...logs(captures.filter((c) => ids.has(c.id)), results.filter((r) => ids.has(r.captureId))), baselineTarget: stableB });
  };
  const [a, b] = await Promise.all([half((i) => i % 2 === 0), half((i) => i % 2 === 1)]);
  const merged = mergeSummaries(summaryFromJson(JSON.parse(JSON.stringify(summaryToJson(a)))), b);
  const report = buildReport(merged, { baselineTarget: stableB, now: new Date(0) });
  assert.deepEqual(report.totals, whole.totals);
  assert.deepEqual(
    report.fields.map((f) => [f.field, f.differs, f.noise, f.aaDiffers, f.baselineNoise]),
    whole.fields.map((f) => [f.field, f.differs, f.noise, f.aaDiffers, f.baselineNoise]),
  );
  assert.deepEqual(report.baseline, whole.baseline);
});

test('the noise rule: thresholds on a one-sided bound, never noise without A/A differences or enough A/A pairs', () => {
  const t = { relative: 0.2, absolute: 0.0003 };
  // Same rate on both sides: noise.
  assert.equal(isBaselineNoise({ differs: 500, compared: 1000 }, { differs: 480, compared: 1000 }, t), true);
  // Never differed between the two stables: a regression, however rare.
  assert.equal(isBaselineNoise({ differs: 1, compared: 100_000 }, { differs: 0, compared: 100_000 }, t), false);
  // Too few A/A pairs to judge.
  assert.equal(isBaselineNoise({ differs: 50, compared: 100 }, { differs: 10, compared: minBaselinePairs - 1 }, t), false);
  // Clearly more often than the A/A rate, with plenty of pairs: real.
  assert.equal(isBaselineNoise({ differs: 55_000, compared: 100_000 }, { differs: 45_000, compared: 100_000 }, t), false);
  // The same 10-point gap on few pairs is within chance: noise.
  assert.equal(isBaselineNoise({ differs: 55, compared: 100 }, { differs: 45, compared: 100 }, t), true);
  // Above the A/A rate by less than the relative threshold: noise, even when significant.
  assert.equal(isBaselineNoise({ differs: 52_000, compared: 100_000 }, { differs: 50_000, compared: 100_000 }, t), true);
  // A stricter relative threshold turns that into a real difference.
  assert.equal(isBaselineNoise({ differs: 52_000, compared: 100_000 }, { differs: 50_000, compared: 100_000 }, { relative: 0.01, absolute: 0.0003 }), false);
});
