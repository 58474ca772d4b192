import type { DiffReport, RouteReport } from '../report.js';

/** Small formatting helpers every renderer shares, so numbers read the same in each format. */
export const percent = (rate: number) => `${(rate * 100).toFixed(rate > 0 && rate < 0.001 ? 3 : rate < 0.1 ? 2 : 1)}%`;

export const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));

export function latencyCell(route: RouteReport): string {
  const { stable, shadow, p99DeltaPct, regression } = route.latency;
  if (stable.count === 0 && shadow.count === 0) return '-';
  const sign = p99DeltaPct > 0 ? '+' : '';
  return `${ms(stable.p99Ms)} → ${ms(shadow.p99Ms)} ms (${sign}${p99DeltaPct}%)${regression ? ' slower' : ''}`;
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
  return `${report.verdict === 'pass' ? 'PASS' : 'FAIL'}: ${t.compared} pairs compared, ${t.mismatch} mismatched, ${t['shadow-error']} shadow errors (${percent(t.mismatchRate)}), ${t.noise} noise only, ${t.accepted} accepted, ${t.missing} missing, ${t.skipped} skipped${t.altered ? `, ${t.altered} not compared (request altered by redaction)` : ''}`;
}
