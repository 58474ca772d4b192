import { configError } from '../shared/errors.js';
import { compareLatency, percentiles, type LatencyComparison } from './latency-stats.js';
import { routeSelectorMatches } from './route-template.js';
import { addCounts, emptyCounts, type DiffSummary, type FieldStat, type SamplePair, type VerdictCounts } from './summary.js';

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
}

export interface Thresholds extends RouteThresholds {
  /** Overrides by route selector (`GET /users/{id}`, `/search`, `/admin/*`); the first match wins. */
  routes?: Record<string, RouteThresholds>;
}

/** Growth of p99 that is flagged (not failed) when no latency threshold is configured. */
export const defaultLatencyFlagPct = 20;
const maxReportFields = 200;
const maxRouteFields = 10;
const maxSamples = 60;
const maxBootstrapRoutes = 200;

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
}

export interface RouteReport {
  route: string;
  counts: VerdictCounts;
  /** Pairs where both answers were compared or the shadow failed. */
  compared: number;
  mismatchRate: number;
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
  routes: RouteReport[];
  fields: FieldReport[];
  buckets: BucketReport[];
  samples: SamplePair[];
}

export interface BuildReportOptions {
  thresholds?: Thresholds;
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
  };
}

const pct = (r: number) => `${(r * 100).toFixed(r < 0.001 && r > 0 ? 3 : 2)}%`;

export function buildReport(summary: DiffSummary, options: BuildReportOptions = {}): DiffReport {
  const thresholds = validateThresholds(options.thresholds ?? {});
  const breaches: Breach[] = [];
  const byVolume = [...summary.routes.values()].sort((a, b) => comparedOf(b.counts) - comparedOf(a.counts) || a.route.localeCompare(b.route));
  const allFields: FieldReport[] = [];

  const routes = byVolume.map((route, index): RouteReport => {
    const limits = thresholdsFor(thresholds, route.route);
    const compared = comparedOf(route.counts);
    const mismatchRate = rate(failuresOf(route.counts), compared);
    const latency = compareLatency(route.latency, route.route, limits.failOnLatencyRegression ?? defaultLatencyFlagPct, index < maxBootstrapRoutes);
    let breached = false;
    if (failuresOf(route.counts) > 0 && mismatchRate > limits.failOnMismatchRate!) {
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
    const fields = [...route.fields.values()].map(
      (f): FieldReport => ({ ...f, route: route.route, differenceRate: rate(f.differs, compared), noiseRate: rate(f.noise, compared) }),
    );
    fields.sort(byImportance);
    allFields.push(...fields);
    return {
      route: route.route,
      counts: route.counts,
      compared,
      mismatchRate,
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
      message: pairs === 0 ? 'no captures or results in the window; check --from/--to and --store/--brokers' : 'no pair could be compared (all missing, skipped or without a stable response)',
    });
  }

  const buckets = [...summary.buckets.values()]
    .sort((a, b) => a.startMs - b.startMs)
    .map((b): BucketReport => ({
      startMs: b.startMs,
      counts: b.counts,
      compared: comparedOf(b.counts),
      mismatchRate: rate(failuresOf(b.counts), comparedOf(b.counts)),
      shadowP99Ms: percentiles(b.shadow).p99Ms,
    }));

  // Mismatches first, then shadow errors, then noise; a few per route, routes by volume.
  const samples = (['mismatch', 'error', 'noise'] as const)
    .flatMap((kind) => byVolume.flatMap((r) => r.samples[kind].items.map((i) => i.value)))
    .slice(0, maxSamples);

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
    noiseMethod:
      'ignore rules and value heuristics (timestamps, uuids, tokens, counters); no A/A baseline, so per-field statistics are reported but not used to classify noise',
    routes,
    fields: allFields.sort(byImportance).slice(0, maxReportFields),
    buckets,
    samples,
  };
}

function byImportance(a: FieldReport, b: FieldReport): number {
  return b.differs - a.differs || b.accepted - a.accepted || b.noise - a.noise || a.route.localeCompare(b.route) || a.field.localeCompare(b.field);
}
