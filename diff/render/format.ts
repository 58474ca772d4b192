import type { DifferenceGroup } from '../difference-groups.js';
import type { DiffReport, RouteReport } from '../report.js';

/** Small formatting helpers every renderer shares, so numbers read the same in each format. */
export const percent = (rate: number) => `${(rate * 100).toFixed(rate > 0 && rate < 0.001 ? 3 : rate < 0.1 ? 2 : 1)}%`;

export const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));

export function latencyCell(route: RouteReport): string {
  const { stable, shadow, p99DeltaPct, regression, noVerdict } = route.latency;
  if (stable.count === 0 && shadow.count === 0) return '-';
  // Timings under different loads are shown, never set against each other.
  if (noVerdict !== undefined) return `${ms(stable.p99Ms)} | ${ms(shadow.p99Ms)} ms (no verdict)`;
  const sign = p99DeltaPct > 0 ? '+' : '';
  const { judged } = route.latency;
  const judgedLower = judged !== undefined && judged.percentile < 99 ? `; judged at p${judged.percentile}: ${judged.deltaMs > 0 ? '+' : ''}${ms(judged.deltaMs)} ms, ${judged.pairs} pairs` : '';
  return `${ms(stable.p99Ms)} → ${ms(shadow.p99Ms)} ms (${sign}${p99DeltaPct}%${judgedLower})${regression ? ' slower' : ''}`;
}

/** Why some routes have no latency verdict, each reason once with its route count. */
export function latencyNotes(report: DiffReport): string[] {
  const reasons = new Map<string, number>();
  for (const r of report.routes) if (r.latency.noVerdict !== undefined) reasons.set(r.latency.noVerdict, (reasons.get(r.latency.noVerdict) ?? 0) + 1);
  return [...reasons].map(([reason, n]) => `no latency verdict on ${n} route${n === 1 ? '' : 's'}: ${reason}`);
}

/** Where a systemic group is seen: `on 7 of 7 routes, 100% of pairs`. */
export function groupWhere(group: DifferenceGroup): string {
  return `on ${group.routeCount} of ${group.routesCompared} routes, ${percent(group.pairRate)} of pairs`;
}

/** Pairs not compared, by reason, over all routes. */
export function notComparedReasons(report: DiffReport): string {
  const reasons = new Map<string, number>();
  for (const r of report.routes) for (const [reason, n] of Object.entries(r.notCompared ?? {})) reasons.set(reason, (reasons.get(reason) ?? 0) + n);
  return [...reasons].map(([reason, n]) => `${n} ${reason}`).join(', ');
}

/** Per route, what redaction kept out of the comparison: fields without values, and pairs whose request it altered. */
export function redactionCell(route: RouteReport): string {
  const fields = route.redactedFields ?? 0;
  const altered = route.counts.altered ?? 0;
  if (fields === 0 && altered === 0) return '-';
  return [fields > 0 && `${fields} fields`, altered > 0 && `${altered} altered`].filter(Boolean).join(', ');
}

export function isoTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

export function headline(report: DiffReport): string {
  const t = report.totals;
  const groups = report.groups?.length ?? 0;
  const systemic = groups > 0 ? ` (${groups} systemic difference${groups === 1 ? '' : 's'} shown once)` : '';
  const notCompared = t['not-compared'] > 0 ? `, ${t['not-compared']} not compared` : '';
  return `${report.verdict === 'pass' ? 'PASS' : 'FAIL'}: ${t.compared} pairs compared, ${t.mismatch} mismatched${systemic}, ${t['shadow-error']} shadow errors (${percent(t.mismatchRate)}), ${t.noise} noise only, ${t.accepted} accepted${notCompared}, ${t.missing} missing, ${t.skipped} skipped${t.altered ? `, ${t.altered} not compared (request altered by redaction)` : ''}`;
}
