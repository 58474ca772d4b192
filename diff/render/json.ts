import type { PairRecord } from '../pair-record.js';
import type { DiffReport } from '../report.js';

/** The whole report as JSON; its schema is documented in docs/report-schema.md. */
export function renderJson(report: DiffReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** One JSON object per pair verdict, one per line. */
export function renderJsonLines(verdicts: Iterable<PairRecord>): string {
  let out = '';
  for (const verdict of verdicts) out += `${JSON.stringify(verdict)}\n`;
  return out;
}
