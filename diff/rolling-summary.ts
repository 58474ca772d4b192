import { emptyCounts, type VerdictCounts } from './summary.js';
import type { VerdictKind } from './difference.js';

/**
 * Verdict counts per route over the last `windowMs`, for follow mode, where the run's own
 * totals only grow: slices of `sliceMs` in a ring, the oldest dropped as time moves on. Memory
 * is slices × routes, and routes are capped like the summary's.
 */
export interface RollingOptions {
  windowMs: number;
  sliceMs: number;
  maxRoutes: number;
}

export const defaultRollingOptions: RollingOptions = { windowMs: 5 * 60_000, sliceMs: 10_000, maxRoutes: 500 };

/** The label pairs of routes past maxRoutes share, as in the report. */
export const otherRoutesLabel = '(other routes)';

interface Slice {
  startMs: number;
  routes: Map<string, VerdictCounts>;
}

export interface RollingSnapshot {
  /** How much time the counts cover: the window, or less just after the start. */
  spanMs: number;
  totals: VerdictCounts;
  routes: Map<string, VerdictCounts>;
}

const comparedOf = (c: VerdictCounts) => c.match + c.mismatch + c.noise + c.accepted + c['shadow-error'];

/** Share of compared pairs that mismatch or fail, as in the report. */
export function mismatchRateOf(c: VerdictCounts): number {
  const compared = comparedOf(c);
  return compared === 0 ? 0 : (c.mismatch + c['shadow-error']) / compared;
}

export class RollingSummary {
  private readonly options: RollingOptions;
  private readonly slices: Slice[] = [];
  private readonly known = new Set<string>();
  private readonly startedMs: number;

  constructor(options: Partial<RollingOptions> = {}, nowMs = Date.now()) {
    this.options = { ...defaultRollingOptions, ...options };
    this.startedMs = nowMs;
  }

  /** The route as a label: itself, or otherRoutesLabel once maxRoutes routes were seen. */
  label(route: string): string {
    if (this.known.has(route)) return route;
    if (this.known.size >= this.options.maxRoutes) return otherRoutesLabel;
    this.known.add(route);
    return route;
  }

  add(route: string, verdict: VerdictKind, nowMs = Date.now()): void {
    const startMs = Math.floor(nowMs / this.options.sliceMs) * this.options.sliceMs;
    let slice = this.slices.at(-1);
    if (!slice || slice.startMs !== startMs) {
      slice = { startMs, routes: new Map() };
      this.slices.push(slice);
    }
    this.expire(nowMs);
    const label = this.label(route);
    let counts = slice.routes.get(label);
    if (!counts) {
      counts = emptyCounts();
      slice.routes.set(label, counts);
    }
    counts[verdict]++;
  }

  snapshot(nowMs = Date.now()): RollingSnapshot {
    this.expire(nowMs);
    const totals = emptyCounts();
    const routes = new Map<string, VerdictCounts>();
    for (const slice of this.slices) {
      for (const [route, counts] of slice.routes) {
        let sum = routes.get(route);
        if (!sum) {
          sum = emptyCounts();
          routes.set(route, sum);
        }
        for (const kind of Object.keys(counts) as VerdictKind[]) {
          sum[kind] += counts[kind];
          totals[kind] += counts[kind];
        }
      }
    }
    return { spanMs: Math.max(1, Math.min(this.options.windowMs, nowMs - this.startedMs)), totals, routes };
  }

  /** Routes seen so far (as labels), so gauges of routes that went quiet drop to 0 instead of vanishing. */
  labels(): string[] {
    return [...this.known, ...(this.known.size >= this.options.maxRoutes ? [otherRoutesLabel] : [])];
  }

  /** One line for stderr: the window's pairs, rate and verdicts. */
  line(nowMs = Date.now()): string {
    const { spanMs, totals } = this.snapshot(nowMs);
    const pairs = Object.values(totals).reduce((a, b) => a + b, 0);
    const seconds = spanMs / 1000;
    const window = seconds >= 60 ? `${Math.round(seconds / 60)}m` : `${Math.round(seconds)}s`;
    return (
      `shadowtap diff: last ${window}: ${pairs} pairs (${(pairs / seconds).toFixed(1)}/s), ` +
      `mismatch rate ${(mismatchRateOf(totals) * 100).toFixed(2)}%: ${totals.mismatch} mismatched, ${totals['shadow-error']} shadow errors, ` +
      `${totals.noise} noise, ${totals.match} match, ${totals.missing} missing`
    );
  }

  private expire(nowMs: number): void {
    const oldest = nowMs - this.options.windowMs;
    while (this.slices.length > 0 && this.slices[0]!.startMs + this.options.sliceMs <= oldest) this.slices.shift();
  }
}
