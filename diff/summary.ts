import hdr, { type Histogram } from 'hdr-histogram-js';
import type { Header } from '../shared/records/types.js';
import { bottomK, hashId, mergeBottomK, offer, wouldKeep, type BottomK } from './bottom-k.js';
import { isReal, severityRank, verdictKinds, type Change, type Difference, type DifferenceKind, type Severity, type VerdictKind } from './difference.js';
import { mergeHistograms, mergeLatency, newHistogram, newLatency, recordLatency, type LatencyAccumulator, type LatencyBasis } from './latency-stats.js';
import { addMismatchSet, mergeMismatchSets, mismatchSetKey, mismatchSetsFromJson, mismatchSetsToJson, newMismatchSets, type MismatchSets } from './mismatch-sets.js';

/**
 * Everything a report needs, in memory bounded by configuration: counts, per-field statistics,
 * latency histograms and bounded samples per route, and counts per time bucket. Summaries of
 * disjoint sets of pairs merge (mergeSummaries) into exactly the summary of the union, so diff
 * workers of one consumer group can each summarise their partitions.
 */
export type VerdictCounts = Record<VerdictKind, number>;

export interface FieldStat {
  kind: DifferenceKind;
  /** Path with element positions as [*], e.g. $.items[*].qty or header:etag. */
  field: string;
  severity: Severity;
  change: Change;
  /** Pairs where the field differed for real (not noise, not accepted). */
  differs: number;
  noise: number;
  accepted: number;
  mustFix: number;
  noiseReasons: Record<string, number>;
  /** A/A pairs (stable vs a second stable instance) where the field differed for real. */
  aaDiffers: number;
  /** The first real difference's change and values, `change\0stable\0shadow`; what tells one systemic change from many. */
  signature?: string;
  /** Real differences of the field did not all have the same change and values. */
  varies?: boolean;
}

export interface SideSample {
  status: number;
  headers: Header[];
  /** Decoded body, cut to a few KB. */
  body: string;
  latencyMs: number | null;
}

export interface SamplePair {
  id: string;
  method: string;
  url: string;
  route: string;
  verdict: VerdictKind;
  stable: SideSample | null;
  shadow: SideSample | null;
  differences: Difference[];
  notes: string[];
  textPatch?: string;
  error?: string;
}

export interface RouteSummary {
  route: string;
  counts: VerdictCounts;
  fields: Map<string, FieldStat>;
  /** Differences in fields past maxFieldsPerRoute, counted but not itemised. */
  fieldOverflow: number;
  latency: LatencyAccumulator;
  /** Samples by kind, so rare mismatches are not crowded out by matches. */
  samples: { mismatch: BottomK<SamplePair>; error: BottomK<SamplePair>; noise: BottomK<SamplePair> };
  /** A/A pairs compared on this route (stable vs the baseline target). */
  aaCompared: number;
  /** Fields of compared answers not compared because redaction removed their values (summed over pairs). */
  redactedFields: number;
  /** Which fields each mismatch differed in, so A/A calibration can re-judge the counts. */
  mismatchSets: MismatchSets;
  /** Pairs whose bodies could not be compared, by reason. */
  notCompared: Record<string, number>;
}

export interface BucketSummary {
  startMs: number;
  counts: VerdictCounts;
  shadow: Histogram;
  mismatchSets: MismatchSets;
}

export interface SummaryLimits {
  samplesPerRoute: number;
  latencyReservoir: number;
  maxRoutes: number;
  maxFieldsPerRoute: number;
  bucketMs: number;
  /** Distinct sets of differing fields remembered per route, and per time bucket. */
  mismatchSetsPerRoute: number;
  mismatchSetsPerBucket: number;
}

export const defaultSummaryLimits: SummaryLimits = {
  samplesPerRoute: 3,
  latencyReservoir: 1000,
  maxRoutes: 500,
  maxFieldsPerRoute: 200,
  bucketMs: 60_000,
  mismatchSetsPerRoute: 200,
  mismatchSetsPerBucket: 20,
};

export interface DiffSummary {
  limits: SummaryLimits;
  routes: Map<string, RouteSummary>;
  buckets: Map<number, BucketSummary>;
  /** Results whose capture was not in the window (or left the join window first). */
  unpaired: number;
  /** Results seen again with an id already counted. */
  duplicates: number;
  /** Captures pushed out of the join window before any result arrived (counted as missing too). */
  evicted: number;
  deadLetters: number;
  /** Reference results (replay --reference) whose shadow result never came. */
  unmatchedReferences: number;
  firstMs: number | null;
  lastMs: number | null;
}

/** The route that collects pairs once maxRoutes distinct routes exist. */
export const otherRoutes = '(other routes)';

export function emptyCounts(): VerdictCounts {
  return Object.fromEntries(verdictKinds.map((k) => [k, 0])) as VerdictCounts;
}

export function addCounts(a: VerdictCounts, b: VerdictCounts): VerdictCounts {
  // Summaries from workers of an older version lack the newer verdicts.
  return Object.fromEntries(verdictKinds.map((k) => [k, (a[k] ?? 0) + (b[k] ?? 0)])) as VerdictCounts;
}

export function newSummary(limits: Partial<SummaryLimits> = {}): DiffSummary {
  return {
    limits: { ...defaultSummaryLimits, ...limits },
    routes: new Map(),
    buckets: new Map(),
    unpaired: 0,
    duplicates: 0,
    evicted: 0,
    deadLetters: 0,
    unmatchedReferences: 0,
    firstMs: null,
    lastMs: null,
  };
}

function newRoute(route: string, limits: SummaryLimits): RouteSummary {
  const k = limits.samplesPerRoute;
  return {
    route,
    counts: emptyCounts(),
    fields: new Map(),
    fieldOverflow: 0,
    latency: newLatency(limits.latencyReservoir),
    samples: { mismatch: bottomK(k), error: bottomK(k), noise: bottomK(k) },
    aaCompared: 0,
    redactedFields: 0,
    mismatchSets: newMismatchSets(limits.mismatchSetsPerRoute),
    notCompared: {},
  };
}

function routeOf(summary: DiffSummary, name: string): RouteSummary {
  let route = summary.routes.get(name);
  if (!route) {
    const key = summary.routes.size >= summary.limits.maxRoutes ? otherRoutes : name;
    route = summary.routes.get(key) ?? newRoute(key, summary.limits);
    summary.routes.set(key, route);
  }
  return route;
}

/** The key of a field's statistics in RouteSummary.fields. */
export const fieldKey = (d: { kind: DifferenceKind; field: string }) => `${d.kind}\u0000${d.field}`;

/** One pair's outcome as the summary sees it. */
export interface PairOutcome {
  id: string;
  route: string;
  verdict: VerdictKind;
  /** The time the pair belongs to for time buckets: the shadow send time, else the capture time. */
  timeMs: number;
  differences: readonly Difference[];
  stableMicros: number | null;
  shadowMicros: number | null;
  /** How the two timings were taken; only 'reference' and 'live' are compared (latency-stats.ts). */
  latencyBasis: LatencyBasis;
  /** Why the bodies were not compared, for a not-compared verdict. */
  notCompared?: string;
  /** Fields not compared because of redaction. */
  redactedFields?: number;
  /** Built only when the pair enters a sample. */
  sample?: () => SamplePair;
}

const sampleKind = (verdict: VerdictKind): keyof RouteSummary['samples'] | undefined =>
  verdict === 'mismatch' || verdict === 'accepted' ? 'mismatch' : verdict === 'shadow-error' || verdict === 'not-compared' ? 'error' : verdict === 'noise' ? 'noise' : undefined;

export function addOutcome(summary: DiffSummary, outcome: PairOutcome): void {
  const { limits } = summary;
  const route = routeOf(summary, outcome.route);
  route.counts[outcome.verdict]++;
  route.redactedFields += outcome.redactedFields ?? 0;
  const realFields = recordFields(route, outcome.differences, limits.maxFieldsPerRoute);
  // The route's and the bucket's sets share one key.
  const setKey = outcome.verdict === 'mismatch' ? mismatchSetKey(route.route, realFields) : undefined;
  if (setKey !== undefined) addMismatchSet(route.mismatchSets, setKey);
  if (outcome.notCompared !== undefined) route.notCompared[outcome.notCompared] = (route.notCompared[outcome.notCompared] ?? 0) + 1;
  if (outcome.verdict !== 'missing' && outcome.verdict !== 'skipped') {
    recordLatency(route.latency, outcome.id, outcome.stableMicros, outcome.shadowMicros, outcome.latencyBasis);
  }
  const kind = sampleKind(outcome.verdict);
  if (kind && outcome.sample) {
    const hash = hashId(outcome.id);
    if (wouldKeep(route.samples[kind], hash, outcome.id)) offer(route.samples[kind], outcome.id, outcome.sample(), hash);
  }

  const startMs = Math.floor(outcome.timeMs / limits.bucketMs) * limits.bucketMs;
  let bucket = summary.buckets.get(startMs);
  if (!bucket) {
    bucket = { startMs, counts: emptyCounts(), shadow: newHistogram(), mismatchSets: newMismatchSets(limits.mismatchSetsPerBucket) };
    summary.buckets.set(startMs, bucket);
  }
  bucket.counts[outcome.verdict]++;
  if (setKey !== undefined) addMismatchSet(bucket.mismatchSets, setKey);
  if (outcome.shadowMicros !== null && outcome.shadowMicros >= 0) bucket.shadow.recordValue(Math.max(1, Math.round(outcome.shadowMicros)));
  summary.firstMs = summary.firstMs === null ? outcome.timeMs : Math.min(summary.firstMs, outcome.timeMs);
  summary.lastMs = summary.lastMs === null ? outcome.timeMs : Math.max(summary.lastMs, outcome.timeMs);
}

/**
 * Counts an A/A pair: the stable response against the baseline target's answer to the same
 * request. Only its real differences matter; they are what the candidate's are measured against.
 */
export function addBaselineOutcome(summary: DiffSummary, outcome: { route: string; differences: readonly Difference[] }): void {
  const route = routeOf(summary, outcome.route);
  route.aaCompared++;
  const seen = new Set<string>();
  for (const d of outcome.differences) {
    if (!isReal(d)) continue;
    const key = fieldKey(d);
    if (seen.has(key)) continue;
    seen.add(key);
    // A field only the A/A run shows never needs calibrating, so a full route just skips it.
    const stat = route.fields.get(key) ?? (route.fields.size < summary.limits.maxFieldsPerRoute ? newField(route, key, d) : undefined);
    if (stat) stat.aaDiffers++;
  }
}

function newField(route: RouteSummary, key: string, d: Difference): FieldStat {
  const stat: FieldStat = { kind: d.kind, field: d.field, severity: d.severity, change: d.change, differs: 0, noise: 0, accepted: 0, mustFix: 0, noiseReasons: {}, aaDiffers: 0 };
  route.fields.set(key, stat);
  return stat;
}

/** Counts the pair in the stats of each field it differs in; returns the keys of the fields with real differences. */
function recordFields(route: RouteSummary, differences: readonly Difference[], maxFields: number): string[] {
  const real: string[] = [];
  if (differences.length === 0) return real;
  // A field counts once per pair even when several elements of an array differ in it.
  const seen = new Set<string>();
  for (const d of differences) {
    const key = fieldKey(d);
    if (isReal(d)) real.push(key);
    if (seen.has(key)) continue;
    seen.add(key);
    let stat = route.fields.get(key);
    if (!stat) {
      if (route.fields.size >= maxFields) {
        route.fieldOverflow++;
        continue;
      }
      stat = newField(route, key, d);
    }
    if (severityRank[d.severity] > severityRank[stat.severity]) {
      stat.severity = d.severity;
      stat.change = d.change;
    }
    if (isReal(d)) {
      const signature = `${d.change}\u0000${d.stable ?? ''}\u0000${d.shadow ?? ''}`;
      // The least signature seen, not the first: the same whatever order pairs come in (or workers' summaries merge in).
      if (stat.signature === undefined) stat.signature = signature;
      else if (stat.signature !== signature) {
        stat.varies = true;
        if (signature < stat.signature) stat.signature = signature;
      }
    }
    if (d.noise !== undefined) {
      stat.noise++;
      const reason = d.noise.startsWith('rule ') ? 'ignore rule' : d.noise;
      stat.noiseReasons[reason] = (stat.noiseReasons[reason] ?? 0) + 1;
    } else if (d.review?.status === 'accepted') stat.accepted++;
    else if (isReal(d)) {
      stat.differs++;
      if (d.review?.status === 'must-fix') stat.mustFix++;
    }
  }
  return real;
}

function mergeField(a: FieldStat, b: FieldStat): FieldStat {
  const worse = severityRank[b.severity] > severityRank[a.severity] ? b : a;
  return {
    ...a,
    severity: worse.severity,
    change: worse.change,
    differs: a.differs + b.differs,
    noise: a.noise + b.noise,
    accepted: a.accepted + b.accepted,
    mustFix: a.mustFix + b.mustFix,
    noiseReasons: addReasons(a.noiseReasons, b.noiseReasons),
    aaDiffers: a.aaDiffers + b.aaDiffers,
    ...((a.signature ?? b.signature) !== undefined && { signature: a.signature === undefined || (b.signature !== undefined && b.signature < a.signature) ? b.signature : a.signature }),
    ...((a.varies === true || b.varies === true || (a.signature !== undefined && b.signature !== undefined && a.signature !== b.signature)) && { varies: true }),
  };
}

function addReasons(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [reason, n] of Object.entries(b)) out[reason] = (out[reason] ?? 0) + n;
  return out;
}

function mergeRoute(a: RouteSummary, b: RouteSummary): RouteSummary {
  const fields = new Map(a.fields);
  for (const [key, stat] of b.fields) fields.set(key, fields.has(key) ? mergeField(fields.get(key)!, stat) : stat);
  return {
    route: a.route,
    counts: addCounts(a.counts, b.counts),
    fields,
    fieldOverflow: a.fieldOverflow + b.fieldOverflow,
    latency: mergeLatency(a.latency, b.latency),
    samples: {
      mismatch: mergeBottomK(a.samples.mismatch, b.samples.mismatch),
      error: mergeBottomK(a.samples.error, b.samples.error),
      noise: mergeBottomK(a.samples.noise, b.samples.noise),
    },
    aaCompared: a.aaCompared + b.aaCompared,
    redactedFields: (a.redactedFields ?? 0) + (b.redactedFields ?? 0),
    mismatchSets: mergeMismatchSets(a.mismatchSets, b.mismatchSets),
    notCompared: addReasons(a.notCompared, b.notCompared),
  };
}

const minOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** The summary of both inputs together; neither input is changed. Both must use the same limits. */
export function mergeSummaries(a: DiffSummary, b: DiffSummary): DiffSummary {
  const routes = new Map(a.routes);
  for (const [key, route] of b.routes) routes.set(key, routes.has(key) ? mergeRoute(routes.get(key)!, route) : route);
  const buckets = new Map(a.buckets);
  for (const [start, bucket] of b.buckets) {
    const prior = buckets.get(start);
    buckets.set(
      start,
      prior
        ? {
            startMs: start,
            counts: addCounts(prior.counts, bucket.counts),
            shadow: mergeHistograms(prior.shadow, bucket.shadow),
            mismatchSets: mergeMismatchSets(prior.mismatchSets, bucket.mismatchSets),
          }
        : bucket,
    );
  }
  return {
    limits: a.limits,
    routes,
    buckets,
    unpaired: a.unpaired + b.unpaired,
    duplicates: a.duplicates + b.duplicates,
    evicted: a.evicted + b.evicted,
    deadLetters: a.deadLetters + b.deadLetters,
    unmatchedReferences: a.unmatchedReferences + b.unmatchedReferences,
    firstMs: minOf(a.firstMs, b.firstMs),
    lastMs: maxOf(a.lastMs, b.lastMs),
  };
}

/** A JSON-safe form for sending partial summaries between workers; histograms travel HDR-encoded. */
export function summaryToJson(summary: DiffSummary): unknown {
  const encode = (h: Histogram) => hdr.encodeIntoCompressedBase64(h);
  return {
    ...summary,
    routes: [...summary.routes.values()].map((r) => ({
      ...r,
      fields: [...r.fields.values()],
      latency: {
        stable: encode(r.latency.stable),
        shadow: encode(r.latency.shadow),
        pairs: r.latency.pairs,
        apart: { stable: encode(r.latency.apart.stable), shadow: encode(r.latency.apart.shadow) },
        bases: r.latency.bases,
      },
      mismatchSets: mismatchSetsToJson(r.mismatchSets),
    })),
    buckets: [...summary.buckets.values()].map((b) => ({ ...b, shadow: encode(b.shadow), mismatchSets: mismatchSetsToJson(b.mismatchSets) })),
  };
}

export function summaryFromJson(json: unknown): DiffSummary {
  type RawSets = ReturnType<typeof mismatchSetsToJson>;
  type Raw = Omit<DiffSummary, 'routes' | 'buckets'> & {
    routes: Array<
      Omit<RouteSummary, 'fields' | 'latency' | 'mismatchSets'> & {
        fields: FieldStat[];
        latency: { stable: string; shadow: string; pairs: BottomK<[number, number]>; apart: { stable: string; shadow: string }; bases: LatencyAccumulator['bases'] };
        mismatchSets: RawSets;
      }
    >;
    buckets: Array<Omit<BucketSummary, 'shadow' | 'mismatchSets'> & { shadow: string; mismatchSets: RawSets }>;
  };
  const raw = json as Raw;
  // Decoded histograms are re-added into fresh ones so they record and merge like any other.
  const decode = (s: string) => mergeHistograms(newHistogram(), hdr.decodeFromCompressedBase64(s, 'packed'));
  return {
    ...raw,
    routes: new Map(
      raw.routes.map((r) => [
        r.route,
        {
          ...r,
          fields: new Map(r.fields.map((f) => [fieldKey(f), f])),
          latency: {
            stable: decode(r.latency.stable),
            shadow: decode(r.latency.shadow),
            pairs: r.latency.pairs,
            apart: { stable: decode(r.latency.apart.stable), shadow: decode(r.latency.apart.shadow) },
            bases: r.latency.bases,
          },
          mismatchSets: mismatchSetsFromJson(r.mismatchSets),
        },
      ]),
    ),
    buckets: new Map(raw.buckets.map((b) => [b.startMs, { ...b, shadow: decode(b.shadow), mismatchSets: mismatchSetsFromJson(b.mismatchSets) }])),
  };
}
