import hdr, { type Histogram } from 'hdr-histogram-js';
import { bottomK, hashId, mergeBottomK, offer, type BottomK } from './bottom-k.js';

/**
 * Latency of one route on both sides. HDR histograms give exact-enough percentiles of all
 * requests and add up across workers; a bounded sample of (stable, shadow) pairs feeds a
 * bootstrap, so a regression is only called when its confidence interval excludes zero.
 * All values are microseconds.
 *
 * Only timings taken alike are compared: the shadow's against a reference stable asked at the
 * same moment by the same replay, or, in live mirroring, against capture's timing of the same
 * request moments earlier under the same live load. A window or a soak replays at its own pace
 * from elsewhere: its timings are kept apart (`apart`), shown, and never judged.
 */
export type LatencyBasis = 'reference' | 'live' | 'window' | 'soak' | 'unknown';

export const comparableBases: ReadonlySet<LatencyBasis> = new Set(['reference', 'live']);

/** Why timings of a basis are not compared, for the report. */
export const apartReasons: Record<Exclude<LatencyBasis, 'reference' | 'live'>, string> = {
  window:
    "stable was timed at capture under live load, the shadow by a window replay at the replay's own pace; replay with --reference (stable asked at the same moment; writes are never sent to it) or mirror live (--follow) for a latency verdict",
  soak: 'stable was timed at capture under live load, the shadow under the soak\'s compressed and amplified load; replay with --reference for a latency verdict',
  unknown: 'the results do not say how the replay was paced (written before schema v2), so the two timings may come from different loads',
};

export interface LatencyAccumulator {
  stable: Histogram;
  shadow: Histogram;
  pairs: BottomK<[number, number]>;
  /** Timings that cannot be compared with each other, shown side by side only. */
  apart: { stable: Histogram; shadow: Histogram };
  /** Pairs timed per basis. */
  bases: Partial<Record<LatencyBasis, number>>;
}

export interface Percentiles {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface LatencyComparison {
  stable: Percentiles;
  shadow: Percentiles;
  /** shadow p99 − stable p99, from the histograms. */
  p99DeltaMs: number;
  /** The same delta relative to stable, in percent. */
  p99DeltaPct: number;
  /** 95% bootstrap interval of the judged percentile's delta, from the sampled pairs; null below minBootstrapPairs. */
  ci95Ms: [number, number] | null;
  /**
   * The percentile the verdict is taken at, and its growth. The tail: the p99 when the pairs put
   * enough requests beyond it; with fewer pairs the highest percentile that still has `tailPairs`
   * requests above it (90 pairs: p94.4), so a couple of outliers on one side cannot decide a
   * verdict. Or the median (50), when the tail did not show a regression and the median did.
   * Absent when no verdict is taken.
   */
  judged?: { percentile: number; pairs: number; deltaMs: number; deltaPct: number };
  regression: boolean;
  /** What the stable timings are: 'reference' (asked at the same moment), 'live' (live mirroring against capture); null when no verdict. */
  basis?: 'reference' | 'live' | null;
  /** Why there is no latency verdict, when stable and shadow were timed under different loads. */
  noVerdict?: string;
}

export const minBootstrapPairs = 20;
/** Requests that must lie beyond the judged percentile: fewer and a single stall would move it. */
export const tailPairs = 5;
const bootstrapRounds = 300;

export function newHistogram(): Histogram {
  return hdr.build({ bitBucketSize: 'packed', numberOfSignificantValueDigits: 3 });
}

export function newLatency(reservoir: number): LatencyAccumulator {
  return { stable: newHistogram(), shadow: newHistogram(), pairs: bottomK(reservoir), apart: { stable: newHistogram(), shadow: newHistogram() }, bases: {} };
}

export function recordLatency(acc: LatencyAccumulator, id: string, stableMicros: number | null, shadowMicros: number | null, basis: LatencyBasis): void {
  const comparable = comparableBases.has(basis);
  const into = comparable ? acc : acc.apart;
  if (stableMicros !== null && stableMicros >= 0) into.stable.recordValue(Math.max(1, Math.round(stableMicros)));
  if (shadowMicros !== null && shadowMicros >= 0) into.shadow.recordValue(Math.max(1, Math.round(shadowMicros)));
  if (stableMicros === null || shadowMicros === null || stableMicros < 0 || shadowMicros < 0) return;
  acc.bases[basis] = (acc.bases[basis] ?? 0) + 1;
  if (comparable) offer(acc.pairs, id, [stableMicros, shadowMicros]);
}

export function mergeHistograms(a: Histogram, b: Histogram): Histogram {
  const out = newHistogram();
  out.add(a);
  out.add(b);
  return out;
}

export function mergeLatency(a: LatencyAccumulator, b: LatencyAccumulator): LatencyAccumulator {
  const bases = { ...a.bases };
  for (const [basis, n] of Object.entries(b.bases) as Array<[LatencyBasis, number]>) bases[basis] = (bases[basis] ?? 0) + n;
  return {
    stable: mergeHistograms(a.stable, b.stable),
    shadow: mergeHistograms(a.shadow, b.shadow),
    pairs: mergeBottomK(a.pairs, b.pairs),
    apart: { stable: mergeHistograms(a.apart.stable, b.apart.stable), shadow: mergeHistograms(a.apart.shadow, b.apart.shadow) },
    bases,
  };
}

const ms = (micros: number) => Math.round(micros) / 1000;

export function percentiles(h: Histogram): Percentiles {
  if (h.totalCount === 0) return { count: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0 };
  return { count: h.totalCount, p50Ms: ms(h.getValueAtPercentile(50)), p95Ms: ms(h.getValueAtPercentile(95)), p99Ms: ms(h.getValueAtPercentile(99)) };
}

/** Small seeded generator so the same data always gives the same interval. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nearestRank = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

/** The highest percentile (at most 99, one decimal) with `tailPairs` of n pairs above it. */
export function judgedPercentile(n: number): number {
  return Math.min(99, Math.floor(1000 * (1 - tailPairs / n)) / 10);
}

/** Percentile bootstrap of q(shadow) − q(stable) for each percentile q, over the same resampled request pairs, in ms. */
export function bootstrapDeltas(pairs: ReadonlyArray<[number, number]>, seed: string, percentiles: readonly number[]): Array<[number, number]> | null {
  const n = pairs.length;
  if (n < minBootstrapPairs) return null;
  const random = mulberry32(hashId(seed));
  const stable = new Float64Array(n);
  const shadow = new Float64Array(n);
  const deltas = percentiles.map(() => new Float64Array(bootstrapRounds));
  for (let round = 0; round < bootstrapRounds; round++) {
    for (let i = 0; i < n; i++) {
      const pick = pairs[Math.floor(random() * n)]!;
      stable[i] = pick[0];
      shadow[i] = pick[1];
    }
    stable.sort();
    shadow.sort();
    percentiles.forEach((q, k) => (deltas[k]![round] = nearestRank(shadow, q) - nearestRank(stable, q)));
  }
  return deltas.map((d) => {
    d.sort();
    return [ms(nearestRank(d, 2.5)), ms(nearestRank(d, 97.5))];
  });
}

/**
 * Whether the growth is certainly past the floor: its whole 95% interval lies above zero and
 * above `minDeltaMs`. Requiring only a point estimate past the floor let a few stalls of one side
 * on a busy host, with an interval reaching down to zero, call an unchanged route slower.
 */
export function certainlySlower(ci95Ms: readonly [number, number], minDeltaMs: number): boolean {
  return ci95Ms[0] > 0 && ci95Ms[0] >= minDeltaMs;
}

/**
 * Compares both sides. The verdict is taken at the judged tail percentile (the p99, or lower when
 * the pairs are too few to estimate it) and at the median: a regression at either needs the
 * interval of its growth to lie above zero and above `minDeltaMs`, and the growth to be more than
 * `thresholdPct` percent. The median sees a shift of every request that stalls on a busy host
 * hide in the tail; the tail sees what hits only some requests. `judged` names the one that
 * decided (the tail when neither did).
 */
export function compareLatency(acc: LatencyAccumulator, seed: string, thresholdPct: number, minDeltaMs = 0, bootstrap = true): LatencyComparison {
  const comparable = acc.pairs.items.length > 0 || acc.stable.totalCount > 0;
  const stable = percentiles(comparable ? acc.stable : acc.apart.stable);
  const shadow = percentiles(comparable ? acc.shadow : acc.apart.shadow);
  const p99DeltaMs = Math.round((shadow.p99Ms - stable.p99Ms) * 1000) / 1000;
  const p99DeltaPct = stable.p99Ms > 0 ? Math.round((p99DeltaMs / stable.p99Ms) * 1000) / 10 : 0;
  if (!comparable) {
    const why = (['window', 'soak', 'unknown'] as const).filter((b) => (acc.bases[b] ?? 0) > 0).map((b) => apartReasons[b]);
    const noVerdict = stable.count === 0 && shadow.count === 0 ? undefined : (why[0] ?? 'no pair has both timings');
    return { stable, shadow, p99DeltaMs, p99DeltaPct, ci95Ms: null, regression: false, basis: null, ...(noVerdict !== undefined && { noVerdict }) };
  }
  const basis = (acc.bases.reference ?? 0) >= (acc.bases.live ?? 0) ? 'reference' : 'live';
  const pairs = acc.pairs.items.map((i) => i.value);
  const judgedAt = [judgedPercentile(pairs.length), 50];
  const intervals = bootstrap ? bootstrapDeltas(pairs, seed, judgedAt) : null;
  if (!intervals) return { stable, shadow, p99DeltaMs, p99DeltaPct, ci95Ms: null, regression: false, basis };
  const [tail, median] = judgedAt.map((percentile, k) => {
    const stableAt = ms(acc.stable.getValueAtPercentile(percentile));
    const deltaMs = Math.round((ms(acc.shadow.getValueAtPercentile(percentile)) - stableAt) * 1000) / 1000;
    const deltaPct = stableAt > 0 ? Math.round((deltaMs / stableAt) * 1000) / 10 : 0;
    const ci95Ms = intervals[k]!;
    return { judged: { percentile, pairs: pairs.length, deltaMs, deltaPct }, ci95Ms, regression: certainlySlower(ci95Ms, minDeltaMs) && deltaPct > thresholdPct };
  });
  const decided = !tail!.regression && median!.regression ? median! : tail!;
  return { stable, shadow, p99DeltaMs, p99DeltaPct, basis, ...decided };
}

/** The growth a latency verdict was taken on: `p99 12 → 70 ms (+483%)`, the median's, or the lower percentile used on few pairs. */
export function judgedGrowth(latency: LatencyComparison): string {
  const { judged } = latency;
  if (judged === undefined || judged.percentile === 99) return `p99 ${latency.stable.p99Ms} → ${latency.shadow.p99Ms} ms (+${latency.p99DeltaPct}%)`;
  if (judged.percentile === 50) return `median ${latency.stable.p50Ms} → ${latency.shadow.p50Ms} ms (+${judged.deltaPct}%)`;
  return `p${judged.percentile} +${judged.deltaMs} ms (+${judged.deltaPct}%, ${judged.pairs} pairs: too few for a p99)`;
}
