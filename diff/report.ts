import { configError } from '../shared/errors.js';
import { defaultNoiseThresholds, isBaselineNoise, minBaselinePairs, type NoiseThresholds } from './field-calibration.js';
import { compareLatency, percentiles, type LatencyComparison } from './latency-stats.js';
import { pairsNowNoise } from './mismatch-sets.js';
import { routeSelectorMatches } from './route-template.js';
import { addCounts, emptyCounts, fieldKey, type DiffSummary, type FieldStat, type RouteSummary, type SamplePair, type VerdictCounts } from './summary.js';

/**
 * The report every renderer reads: plain data, documented in docs/report-schema.md, built
 * from a summary and the thresholds. Its size is bounded whatever the traffic: top fields,
 * a few samples per route, one row per route and per time bucket.
 */
export interface RouteThresholds {
  /** Highest tolerated share (0..1) of compared pairs that mismatch or error; 0 fails on any. */
  failOnMismatchRate?: number;
  /** Highest tolerated growth of p99 latency in percent, when its 95% interval excludes zero. */
  failOnLatencyRegression?: number;
  /** A p99 growth smaller than this many milliseconds is never a regression: sub-millisecond jitter is not a finding. */
  minLatencyRegressionMs?: number;
}

export interface Thresholds extends RouteThresholds {
  /** Overrides by route selector (`GET /users/{id}`, `/search`, `/admin/*`); the first match wins. */
  routes?: Record<string, RouteThresholds>;
}

/** Smallest p99 growth, in ms, that can count as a regression unless configured otherwise. */
export const defaultMinLatencyRegressionMs = 5;
/** Growth of p99 that is flagged (not failed) when no latency threshold is configured. */
export const defaultLatencyFlagPct = 20;
const maxReportFields = 200;
const maxRouteFields = 10;
const maxSamples = 60;
const maxBootstrapRoutes = 200;
const maxNoiseGroups = 50;
const maxNoiseGroupRoutes = 10;
/** The noise reason of differences that the A/A baseline explains. */
export const baselineNoiseReason = 'a/a baseline';

export interface Breach {
  kind: 'mismatch-rate' | 'latency-regression' | 'nothing-compared';
  route?: string;
  message: string;
}

export interface FieldReport extends FieldStat {
  route: string;
  /** Real differences per compared pair of the route. */
  differenceRate: number;
  noiseRate: number;
  /** How often the field differed between two stable instances, per A/A pair; null without enough A/A pairs on the route. */
  aaRate?: number | null;
  /** True when the A/A baseline explains the field's differences: they were moved from `differs` to `noise`. */
  baselineNoise?: boolean;
}

/** One noisy field over every route it is noisy on, so a field noisy everywhere is listed once. */
export interface NoiseGroup {
  kind: FieldStat['kind'];
  field: string;
  /** Noise reason → pairs. */
  reasons: Record<string, number>;
  /** Pairs where the field was noise, over all its routes. */
  pairs: number;
  routeCount: number;
  /** The routes with the most noise in the field, at most 10. */
  routes: string[];
}

export interface BaselineReport {
  /** The target whose results are A/A results (a second instance of stable). */
  target: string;
  /** A/A pairs compared, over all routes. */
  pairs: number;
  /** Routes with at least 30 A/A pairs, whose fields were calibrated. */
  calibratedRoutes: number;
  thresholds: NoiseThresholds;
  /** Mismatched pairs that turned out to be noise. */
  reclassified: number;
}

export interface RouteReport {
  route: string;
  counts: VerdictCounts;
  /** Pairs where both answers were compared or the shadow failed. */
  compared: number;
  mismatchRate: number;
  /** A/A pairs compared on this route. Optional like every field added after schemaVersion 1 first shipped: older reports lack it. */
  aaPairs?: number;
  /** Fields of compared answers not compared because redaction removed their values, summed over pairs (absent in older reports). */
  redactedFields?: number;
  latency: LatencyComparison;
  breached: boolean;
  topFields: FieldReport[];
  fieldOverflow: number;
}

export interface BucketReport {
  startMs: number;
  counts: VerdictCounts;
  compared: number;
  mismatchRate: number;
  shadowP99Ms: number;
}

export interface DiffReport {
  schemaVersion: 1;
  generatedAt: string;
  verdict: 'pass' | 'fail';
  breaches: Breach[];
  window: { fromMs: number | null; toMs: number | null; firstMs: number | null; lastMs: number | null };
  totals: VerdictCounts & {
    pairs: number;
    compared: number;
    mismatchRate: number;
    unpaired: number;
    duplicates: number;
    evicted: number;
    deadLetters: number;
  };
  thresholds: Thresholds;
  /** How noise was told apart from real differences in this run. */
  noiseMethod: string;
  /** The A/A calibration, when a baseline target was named (absent in older reports). */
  baseline?: BaselineReport | null;
  routes: RouteReport[];
  fields: FieldReport[];
  /** Noisy fields grouped over routes, most pairs first; at most 50 (absent in older reports). */
  noise?: NoiseGroup[];
  buckets: BucketReport[];
  samples: SamplePair[];
}

export interface BuildReportOptions {
  thresholds?: Thresholds;
  /** Results sent to this target are A/A results; see field-calibration.ts. */
  baselineTarget?: string;
  noiseThresholds?: NoiseThresholds;
  fromMs?: number;
  toMs?: number;
  now?: Date;
}

export function validateThresholds(thresholds: Thresholds): Thresholds {
  const check = (t: RouteThresholds, where: string) => {
    if (t.failOnMismatchRate !== undefined && !(t.failOnMismatchRate >= 0 && t.failOnMismatchRate <= 1)) {
      throw configError(`${where}fail-on-mismatch-rate must be between 0 and 1 (0.01 = 1%); got ${t.failOnMismatchRate}`);
    }
    if (t.failOnLatencyRegression !== undefined && !(t.failOnLatencyRegression >= 0)) {
      throw configError(`${where}fail-on-latency-regression must be a percentage of 0 or more; got ${t.failOnLatencyRegression}`);
    }
  };
  check(thresholds, '');
  for (const [route, t] of Object.entries(thresholds.routes ?? {})) check(t, `route ${route}: `);
  return thresholds;
}

const comparedOf = (c: VerdictCounts) => c.match + c.mismatch + c.noise + c.accepted + c['shadow-error'];
const failuresOf = (c: VerdictCounts) => c.mismatch + c['shadow-error'];
const rate = (n: number, d: number) => (d === 0 ? 0 : n / d);

function thresholdsFor(thresholds: Thresholds, route: string): RouteThresholds {
  const override = Object.entries(thresholds.routes ?? {}).find(([selector]) => routeSelectorMatches(selector, route))?.[1] ?? {};
  return {
    failOnMismatchRate: override.failOnMismatchRate ?? thresholds.failOnMismatchRate ?? 0,
    failOnLatencyRegression: override.failOnLatencyRegression ?? thresholds.failOnLatencyRegression,
    minLatencyRegressionMs: override.minLatencyRegressionMs ?? thresholds.minLatencyRegressionMs ?? defaultMinLatencyRegressionMs,
  };
}

const pct = (r: number) => `${(r * 100).toFixed(r < 0.001 && r > 0 ? 3 : 2)}%`;

export function buildReport(summary: DiffSummary, options: BuildReportOptions = {}): DiffReport {
  const thresholds = validateThresholds(options.thresholds ?? {});
  const noiseThresholds = options.noiseThresholds ?? defaultNoiseThresholds;
  const breaches: Breach[] = [];

  // Calibration first: it moves pairs from mismatch to noise, which every count below must see.
  const noiseFields = new Map<string, Set<string>>();
  if (options.baselineTarget !== undefined) {
    for (const route of summary.routes.values()) noiseFields.set(route.route, baselineNoiseFields(route, noiseThresholds));
  }
  const isNoise = (route: string, field: string) => noiseFields.get(route)?.has(field) ?? false;
  const recount = (counts: VerdictCounts, moved: number): VerdictCounts => (moved === 0 ? counts : { ...counts, mismatch: counts.mismatch - moved, noise: counts.noise + moved });
  let reclassified = 0;
  const calibrated = [...summary.routes.values()].map((route) => {
    const moved = noiseFields.get(route.route)?.size ? pairsNowNoise(route.mismatchSets, isNoise) : 0;
    reclassified += moved;
    return { route, counts: recount(route.counts, moved) };
  });
  const byVolume = calibrated.sort((a, b) => comparedOf(b.counts) - comparedOf(a.counts) || a.route.route.localeCompare(b.route.route));
  const allFields: FieldReport[] = [];

  const routes = byVolume.map(({ route, counts }, index): RouteReport => {
    const limits = thresholdsFor(thresholds, route.route);
    const compared = comparedOf(counts);
    const mismatchRate = rate(failuresOf(counts), compared);
    const latency = compareLatency(route.latency, route.route, limits.failOnLatencyRegression ?? defaultLatencyFlagPct, limits.minLatencyRegressionMs ?? defaultMinLatencyRegressionMs, index < maxBootstrapRoutes);
    let breached = false;
    if (failuresOf(counts) > 0 && mismatchRate > limits.failOnMismatchRate!) {
      breached = true;
      breaches.push({
        kind: 'mismatch-rate',
        route: route.route,
        message: `${route.route}: ${pct(mismatchRate)} of ${compared} pairs mismatch or fail, above ${pct(limits.failOnMismatchRate!)}`,
      });
    }
    if (latency.regression && limits.failOnLatencyRegression !== undefined) {
      breached = true;
      breaches.push({
        kind: 'latency-regression',
        route: route.route,
        message: `${route.route}: p99 ${latency.stable.p99Ms} → ${latency.shadow.p99Ms} ms (+${latency.p99DeltaPct}%, 95% CI ${latency.ci95Ms![0]}..${latency.ci95Ms![1]} ms), above ${limits.failOnLatencyRegression}%`,
      });
    }
    const explained = noiseFields.get(route.route);
    const fields = [...route.fields.entries()].map(([key, f]): FieldReport => {
      const aaRate = route.aaCompared >= minBaselinePairs ? rate(f.aaDiffers, route.aaCompared) : null;
      if (!explained?.has(key)) return { ...f, route: route.route, differenceRate: rate(f.differs, compared), noiseRate: rate(f.noise, compared), aaRate, baselineNoise: false };
      const noise = f.noise + f.differs;
      const noiseReasons = { ...f.noiseReasons, [baselineNoiseReason]: (f.noiseReasons[baselineNoiseReason] ?? 0) + f.differs };
      return { ...f, differs: 0, noise, noiseReasons, route: route.route, differenceRate: 0, noiseRate: rate(noise, compared), aaRate, baselineNoise: true };
    });
    fields.sort(byImportance);
    allFields.push(...fields);
    return {
      route: route.route,
      counts,
      compared,
      mismatchRate,
      aaPairs: route.aaCompared,
      redactedFields: route.redactedFields ?? 0,
      latency,
      breached,
      topFields: fields.slice(0, maxRouteFields),
      fieldOverflow: route.fieldOverflow,
    };
  });

  const counts = byVolume.reduce((sum, r) => addCounts(sum, r.counts), emptyCounts());
  const compared = comparedOf(counts);
  const pairs = Object.values(counts).reduce((a, b) => a + b, 0);
  if (compared === 0) {
    breaches.push({
      kind: 'nothing-compared',
      message: pairs === 0 ? 'no captures or results in the window; check --from/--to and --store/--brokers' : 'no pair could be compared (all missing, skipped, altered by redaction or without a stable response)',
    });
  }

  const buckets = [...summary.buckets.values()]
    .sort((a, b) => a.startMs - b.startMs)
    .map((b): BucketReport => {
      const bucketCounts = recount(b.counts, noiseFields.size > 0 ? pairsNowNoise(b.mismatchSets, isNoise) : 0);
      return {
        startMs: b.startMs,
        counts: bucketCounts,
        compared: comparedOf(bucketCounts),
        mismatchRate: rate(failuresOf(bucketCounts), comparedOf(bucketCounts)),
        shadowP99Ms: percentiles(b.shadow).p99Ms,
      };
    });

  // Mismatches first, then shadow errors, then noise; a few per route, routes by volume.
  const judged = byVolume.map(({ route }) => {
    const mismatch = route.samples.mismatch.items.map((i) => recalibrateSample(i.value, noiseFields.get(route.route)));
    return {
      mismatch: mismatch.filter((s) => s.verdict !== 'noise'),
      error: route.samples.error.items.map((i) => i.value),
      noise: [...mismatch.filter((s) => s.verdict === 'noise'), ...route.samples.noise.items.map((i) => i.value)],
    };
  });
  const samples = (['mismatch', 'error', 'noise'] as const).flatMap((kind) => judged.flatMap((r) => r[kind])).slice(0, maxSamples);

  const aaPairs = byVolume.reduce((sum, r) => sum + r.route.aaCompared, 0);
  const baseline: BaselineReport | null =
    options.baselineTarget === undefined
      ? null
      : {
          target: options.baselineTarget,
          pairs: aaPairs,
          calibratedRoutes: byVolume.filter((r) => r.route.aaCompared >= minBaselinePairs).length,
          thresholds: noiseThresholds,
          reclassified,
        };

  return {
    schemaVersion: 1,
    generatedAt: (options.now ?? new Date()).toISOString(),
    verdict: breaches.length > 0 ? 'fail' : 'pass',
    breaches,
    window: { fromMs: options.fromMs ?? null, toMs: options.toMs ?? null, firstMs: summary.firstMs, lastMs: summary.lastMs },
    totals: {
      ...counts,
      pairs,
      compared,
      mismatchRate: rate(failuresOf(counts), compared),
      unpaired: summary.unpaired,
      duplicates: summary.duplicates,
      evicted: summary.evicted,
      deadLetters: summary.deadLetters,
    },
    thresholds,
    noiseMethod: noiseMethod(baseline),
    baseline,
    routes,
    fields: [...allFields].sort(byImportance).slice(0, maxReportFields),
    noise: groupNoise(allFields),
    buckets,
    samples,
  };
}

const bodiesComparedOf = (c: VerdictCounts) => c.match + c.mismatch + c.noise + c.accepted;

/** Keys of the route's fields whose differences the A/A run explains; must-fix fields are never explained away. */
function baselineNoiseFields(route: RouteSummary, thresholds: NoiseThresholds): Set<string> {
  const out = new Set<string>();
  const baseline = { compared: route.aaCompared };
  const compared = bodiesComparedOf(route.counts);
  for (const [key, f] of route.fields) {
    if (f.differs > 0 && f.mustFix === 0 && isBaselineNoise({ differs: f.differs, compared }, { ...baseline, differs: f.aaDiffers }, thresholds)) out.add(key);
  }
  return out;
}

/** The sample with differences in explained fields marked as noise; a noise verdict when nothing real is left. */
function recalibrateSample(sample: SamplePair, explained: Set<string> | undefined): SamplePair {
  if (!explained?.size || sample.verdict !== 'mismatch') return sample;
  const marks = (d: SamplePair['differences'][number]) => d.noise === undefined && d.review === undefined && explained.has(fieldKey(d));
  if (!sample.differences.some(marks)) return sample;
  const differences = sample.differences.map((d) => (marks(d) ? { ...d, noise: baselineNoiseReason } : d));
  const stillReal = differences.some((d) => d.noise === undefined && d.review?.status !== 'accepted');
  return { ...sample, verdict: stillReal ? 'mismatch' : 'noise', differences };
}

function groupNoise(fields: readonly FieldReport[]): NoiseGroup[] {
  const groups = new Map<string, { group: NoiseGroup; byRoute: Array<[string, number]> }>();
  for (const f of fields) {
    if (f.noise === 0) continue;
    const key = fieldKey(f);
    let entry = groups.get(key);
    if (!entry) {
      entry = { group: { kind: f.kind, field: f.field, reasons: {}, pairs: 0, routeCount: 0, routes: [] }, byRoute: [] };
      groups.set(key, entry);
    }
    const { group } = entry;
    group.pairs += f.noise;
    group.routeCount++;
    for (const [reason, n] of Object.entries(f.noiseReasons)) group.reasons[reason] = (group.reasons[reason] ?? 0) + n;
    entry.byRoute.push([f.route, f.noise]);
  }
  return [...groups.values()]
    .map(({ group, byRoute }) => ({ ...group, routes: byRoute.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, maxNoiseGroupRoutes).map(([r]) => r) }))
    .sort((a, b) => b.pairs - a.pairs || a.field.localeCompare(b.field))
    .slice(0, maxNoiseGroups);
}

function noiseMethod(baseline: BaselineReport | null): string {
  const rules = 'ignore rules and value heuristics (timestamps, uuids, tokens, counters)';
  if (!baseline) return `${rules}; no A/A baseline (diff --baseline-target), so per-field statistics are reported but not used to classify noise`;
  if (baseline.pairs === 0) {
    return `${rules} only: no results for the baseline target ${baseline.target} were found; replay the same captures to a second stable instance with --target ${baseline.target}`;
  }
  const { relative, absolute } = baseline.thresholds;
  return (
    `A/A calibration against ${baseline.target} (${baseline.pairs} pairs; ${baseline.calibratedRoutes} routes with at least ${minBaselinePairs}): ` +
    `a field is noise unless its difference rate beats the A/A rate by ${+(relative * 100).toFixed(4)}% relative and ${+(absolute * 100).toFixed(4)}% absolute ` +
    `(one-sided 95% bound); plus ${rules}`
  );
}

function byImportance(a: FieldReport, b: FieldReport): number {
  return b.differs - a.differs || b.accepted - a.accepted || b.noise - a.noise || a.route.localeCompare(b.route) || a.field.localeCompare(b.field);
}
