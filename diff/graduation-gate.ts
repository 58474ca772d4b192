import { diffDefaults } from './diff-defaults.js';
import { certainlySlower, judgedGrowth } from './latency-stats.js';
import type { DiffReport, RouteReport } from './report.js';

/**
 * The shadow → canary graduation decision: a diff report either shows enough traffic, few
 * enough mismatches and errors and no significant latency regression, or it names what failed.
 */
export interface GateCriteria {
  /** Traffic the report must span (last − first pair), in ms. */
  minDurationMs: number;
  /** Highest share (0..1) of compared pairs whose answers differ for real. */
  maxMismatchRate: number;
  /** Highest share (0..1) of compared pairs where the shadow failed (5xx, timeout, refused). */
  maxErrorRate: number;
  /** Highest growth of any route's p99 latency, in percent, counted only when its 95% interval excludes zero. */
  maxLatencyRegressionPct: number;
}

export const defaultGateCriteria: GateCriteria = {
  minDurationMs: 3_600_000,
  maxMismatchRate: 0.01,
  maxErrorRate: 0.01,
  maxLatencyRegressionPct: 10,
};

export interface GateCheck {
  name: 'traffic' | 'duration' | 'mismatch-rate' | 'error-rate' | 'latency';
  passed: boolean;
  message: string;
}

export interface GateDecision {
  passed: boolean;
  checks: GateCheck[];
}

export function evaluateGate(report: DiffReport, criteria: GateCriteria): GateDecision {
  const { totals } = report;
  const checks: GateCheck[] = [];

  checks.push(
    totals.compared > 0
      ? { name: 'traffic', passed: true, message: `${totals.compared} of ${totals.pairs} pairs compared` }
      : { name: 'traffic', passed: false, message: `no pair could be compared (${totals.pairs} pairs; ${totals.missing} missing, ${totals.skipped} skipped)` },
  );

  const { firstMs, lastMs } = report.window;
  const spanMs = firstMs !== null && lastMs !== null ? lastMs - firstMs : 0;
  checks.push({
    name: 'duration',
    passed: spanMs >= criteria.minDurationMs,
    message: `${formatDuration(spanMs)} of traffic, at least ${formatDuration(criteria.minDurationMs)} required`,
  });

  const rateCheck = (name: 'mismatch-rate' | 'error-rate', count: number, limit: number, what: string): GateCheck => {
    const rate = totals.compared === 0 ? 0 : count / totals.compared;
    return {
      name,
      passed: totals.compared > 0 && rate <= limit,
      message: `${formatPct(rate)} (${count} of ${totals.compared} compared pairs ${what}), at most ${formatPct(limit)}`,
    };
  };
  checks.push(rateCheck('mismatch-rate', totals.mismatch, criteria.maxMismatchRate, 'differ'));
  checks.push(rateCheck('error-rate', totals['shadow-error'], criteria.maxErrorRate, 'failed on the shadow'));
  checks.push(latencyCheck(report, criteria.maxLatencyRegressionPct));

  return { passed: checks.every((c) => c.passed), checks };
}

/** A route regresses when its judged percentile (p99, lower on few pairs) grew past the limit and the 95% interval of the growth lies above the millisecond floor. */
function latencyCheck(report: DiffReport, maxPct: number): GateCheck {
  const judged = report.routes.filter((r) => r.latency.ci95Ms !== null && r.latency.judged !== undefined);
  const growth = (r: RouteReport) => r.latency.judged!.deltaPct;
  const regressed = judged.filter((r) => certainlySlower(r.latency.ci95Ms!, diffDefaults.minLatencyRegressionMs) && growth(r) > maxPct).sort((a, b) => growth(b) - growth(a));
  const apart = report.routes.filter((r) => r.latency.noVerdict !== undefined).length;
  const unjudged = report.routes.length - judged.length - apart;
  const routes = (n: number) => `${n} route${n === 1 ? '' : 's'}`;
  const note =
    (unjudged > 0 ? `; ${routes(unjudged)} had too few pairs to judge` : '') +
    (apart > 0 ? `; ${routes(apart)} timed under different loads, not judged (replay with --reference, or mirror live)` : '');
  if (regressed.length === 0) {
    return { name: 'latency', passed: true, message: `no route's p99 grew significantly by more than ${maxPct}%${note}` };
  }
  const list = regressed
    .slice(0, 5)
    .map((r) => `${r.route} ${judgedGrowth(r.latency)}`)
    .join(', ');
  const more = regressed.length > 5 ? ` and ${regressed.length - 5} more` : '';
  return { name: 'latency', passed: false, message: `latency grew by more than ${maxPct}%: ${list}${more}${note}` };
}

export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours}h` : `${hours}h ${minutes % 60}m`;
}

function formatPct(rate: number): string {
  return `${(rate * 100).toFixed(2)}%`;
}
