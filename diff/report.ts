import { configError } from '../shared/errors.js';
import { diffDefaults } from './diff-defaults.js';
import { isBaselineNoise, minBaselinePairs, type NoiseThresholds } from './field-calibration.js';
import { compareLatency, judgedGrowth, percentiles, type LatencyComparison } from './latency-stats.js';
import { pairsNowNoise } from './mismatch-sets.js';
import { routeSelectorMatches } from './route-template.js';
import { groupDifferences, impactOf, type DifferenceGroup } from './difference-groups.js';
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
  /** Highest tolerated share (0..1) of answered pairs whose bodies could not be compared; 0 (the default) fails on any. */
  failOnNotComparedRate?: number;
}

export interface Thresholds extends RouteThresholds {
  /** Overrides by route selector (`GET /users/{id}`, `/search`, `/admin/*`); the first match wins. */
  routes?: Record<string, RouteThresholds>;
}

const maxReportFields = 200;
const maxRouteFields = 10;
const maxSamples = 60;
const maxBootstrapRoutes = 200;
const maxNoiseGroups = 50;
const maxNoiseGroupRoutes = 10;
/** The noise reason of differences that the A/A baseline explains. */
export const baselineNoiseReason = 'a/a baseline';

export interface Breach {
  kind: 'mismatch-rate' | 'latency-regression' | 'nothing-compared' | 'systemic-difference' | 'not-compared';
  route?: string;
  /** For a systemic-difference breach: the group's index in DiffReport.groups. */
  group?: number;
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
  /** Routes affected × pairs affected × severity weight (difference-groups.ts); what tables are ranked by. */
  impact?: number;
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
  /** The route's own differing fields, most impact first; fields of systemic groups are in DiffReport.groups instead. */
  topFields: FieldReport[];
  fieldOverflow: number;
  /** Mismatched pairs whose every real difference belongs to a systemic group. */
  systemicOnly?: number;
  /** Pairs whose bodies could not be compared, by reason. */
  notCompared?: Record<string, number>;
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
    /** Reference results whose shadow result never came (absent in older reports). */
    unmatchedReferences?: number;
  };
  thresholds: Thresholds;
  /** How noise was told apart from real differences in this run. */
  noiseMethod: string;
  /** The A/A calibration, when a baseline target was named (absent in older reports). */
  baseline?: BaselineReport | null;
  /** The same difference on several routes, shown once and first: most impact first (absent in older reports). */
  groups?: DifferenceGroup[];
  routes: RouteReport[];
  /** Route-specific differing fields over all routes, most impact first. */
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
    if (t.failOnNotComparedRate !== undefined && !(t.failOnNotComparedRate >= 0 && t.failOnNotComparedRate <= 1)) {
      throw configError(`${where}fail-on-not-compared-rate must be between 0 and 1 (0.01 = 1%); got ${t.failOnNotComparedRate}`);
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
    failOnMismatchRate: override.failOnMismatchRate ?? thresholds.failOnMismatchRate ?? diffDefaults.failOnMismatchRate,
    failOnLatencyRegression: override.failOnLatencyRegression ?? thresholds.failOnLatencyRegression,
    minLatencyRegressionMs: override.minLatencyRegressionMs ?? thresholds.minLatencyRegressionMs ?? diffDefaults.minLatencyRegressionMs,
    failOnNotComparedRate: override.failOnNotComparedRate ?? thresholds.failOnNotComparedRate ?? diffDefaults.failOnNotComparedRate,
  };
}

const pct = (r: number) => `${(r * 100).toFixed(r < 0.001 && r > 0 ? 3 : 2)}%`;

export function buildReport(summary: DiffSummary, options: BuildReportOptions = {}): DiffReport {
  const thresholds = validateThresholds(options.thresholds ?? {});
  const noiseThresholds = options.noiseThresholds ?? diffDefaults.noiseThresholds;
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

  // Fields of every route first: systemic groups are found across routes before any route is judged.
  const fieldsByRoute = byVolume.map(({ route, counts }) => {
    const compared = comparedOf(counts);
    const explained = noiseFields.get(route.route);
    return [...route.fields.entries()].map(([key, f]): FieldReport => {
      const aaRate = route.aaCompared >= minBaselinePairs ? rate(f.aaDiffers, route.aaCompared) : null;
      if (!explained?.has(key)) return { ...f, route: route.route, differenceRate: rate(f.differs, compared), noiseRate: rate(f.noise, compared), aaRate, baselineNoise: false, impact: impactOf(f, 1) };
      const noise = f.noise + f.differs;
      const noiseReasons = { ...f.noiseReasons, [baselineNoiseReason]: (f.noiseReasons[baselineNoiseReason] ?? 0) + f.differs };
      return { ...f, differs: 0, noise, noiseReasons, route: route.route, differenceRate: 0, noiseRate: rate(noise, compared), aaRate, baselineNoise: true, impact: 0 };
    });
  });
  const routesCompared = byVolume.filter((r) => comparedOf(r.counts) > 0).length;
  const pairsCompared = byVolume.reduce((sum, r) => sum + comparedOf(r.counts), 0);
  const { groups, grouped, routePairs } = groupDifferences(fieldsByRoute.flat(), routesCompared, pairsCompared);
  const isGrouped = (route: string, field: string) => grouped.get(route)?.has(field) ?? false;
  const allFields: FieldReport[] = [];

  const routes = byVolume.map(({ route, counts }, index): RouteReport => {
    const limits = thresholdsFor(thresholds, route.route);
    const compared = comparedOf(counts);
    const mismatchRate = rate(failuresOf(counts), compared);
    const latency = compareLatency(route.latency, route.route, limits.failOnLatencyRegression ?? diffDefaults.latencyFlagPct, limits.minLatencyRegressionMs ?? diffDefaults.minLatencyRegressionMs, index < maxBootstrapRoutes);
    // Pairs that only differ by systemic groups are counted once, in the group's breach, not in every route's.
    const systemicOnly = grouped.has(route.route)
      ? pairsNowNoise(route.mismatchSets, (r, f) => isNoise(r, f) || isGrouped(r, f)) - (noiseFields.get(route.route)?.size ? pairsNowNoise(route.mismatchSets, isNoise) : 0)
      : 0;
    const specificFailures = failuresOf(counts) - systemicOnly;
    const specificRate = rate(specificFailures, compared);
    let breached = false;
    if (specificFailures > 0 && specificRate > limits.failOnMismatchRate!) {
      breached = true;
      const own = systemicOnly > 0 ? ' on differences of their own (systemic ones are listed once above)' : '';
      breaches.push({
        kind: 'mismatch-rate',
        route: route.route,
        message: `${route.route}: ${pct(specificRate)} of ${compared} pairs mismatch or fail${own}, above ${pct(limits.failOnMismatchRate!)}`,
      });
    }
    if (latency.regression && limits.failOnLatencyRegression !== undefined) {
      breached = true;
      breaches.push({
        kind: 'latency-regression',
        route: route.route,
        message: `${route.route}: ${judgedGrowth(latency)}, 95% CI ${latency.ci95Ms![0]}..${latency.ci95Ms![1]} ms, ${latency.basis === 'reference' ? 'against the reference' : 'live mirroring'}, above ${limits.failOnLatencyRegression}%`,
      });
    }
    const notCompared = counts['not-compared'];
    const answered = compared + notCompared;
    if (notCompared > 0 && rate(notCompared, answered) > limits.failOnNotComparedRate!) {
      breached = true;
      breaches.push({
        kind: 'not-compared',
        route: route.route,
        message: `${route.route}: ${notCompared} of ${answered} pairs not compared (${Object.keys(route.notCompared).join(', ')}); raise --max-body at capture and replay, or allow with --fail-on-not-compared-rate`,
      });
    }
    const fields = fieldsByRoute[index]!;
    fields.sort(byImportance);
    const own = fields.filter((f) => !isGrouped(route.route, fieldKey(f)));
    allFields.push(...own);
    return {
      route: route.route,
      counts,
      compared,
      mismatchRate,
      aaPairs: route.aaCompared,
      redactedFields: route.redactedFields ?? 0,
      latency,
      breached,
      topFields: own.slice(0, maxRouteFields),
      fieldOverflow: route.fieldOverflow,
      systemicOnly,
      notCompared: route.notCompared,
    };
  });

  // One breach per systemic group, listed first like the groups themselves; each route's own threshold applies to its share.
  const comparedByRoute = new Map(routes.map((r) => [r.route, r.compared]));
  const groupBreached = (g: DifferenceGroup) =>
    [...(routePairs.get(g) ?? [])].some(([route, pairs]) => rate(pairs, comparedByRoute.get(route) ?? 0) > thresholdsFor(thresholds, route).failOnMismatchRate!);
  breaches.unshift(
    ...groups
      .map((g, index) => ({ g, index }))
      .filter(({ g }) => groupBreached(g))
      .map(({ g, index }): Breach => ({
        kind: 'systemic-difference',
        group: index,
        message: `one systemic change on ${g.routeCount} of ${g.routesCompared} routes (${pct(g.pairRate)} of pairs): ${groupSummary(g)}`,
      })),
  );

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
      unmatchedReferences: summary.unmatchedReferences,
    },
    thresholds,
    noiseMethod: noiseMethod(baseline),
    baseline,
    groups,
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

/** Most impact first (severity × pairs), then what was accepted, then noise. */
function byImportance(a: FieldReport, b: FieldReport): number {
  return (b.impact ?? 0) - (a.impact ?? 0) || b.differs - a.differs || b.accepted - a.accepted || b.noise - a.noise || a.route.localeCompare(b.route) || a.field.localeCompare(b.field);
}

/** `9 differences: header a added "*", header b removed (was "Express"), … and 6 more`. */
export function groupSummary(group: DifferenceGroup): string {
  const shown = group.differences.slice(0, 3).map((d) => d.description);
  const more = group.differences.length > 3 ? ` and ${group.differences.length - 3} more` : '';
  return group.differences.length === 1 ? shown[0]! : `${group.differences.length} differences: ${shown.join('; ')}${more}`;
}
