import type { DiffReport } from '../report.js';
import { groupWhere, headline, isoTime, latencyCell, latencyNotes, notComparedReasons, percent, redactionCell } from './format.js';

export interface TextOptions {
  /** ANSI colours; the CLI turns them on only for a TTY without NO_COLOR. */
  color?: boolean;
}

const maxRoutes = 40;
const maxFields = 15;
const maxNoiseGroups = 5;
const maxGroups = 10;

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 || i === r.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
}

/**
 * The terminal report. The first screen says what changed: systemic differences once, then
 * each route's own differences by impact; then the per-route table, noise, breaches, verdict.
 */
export function renderText(report: DiffReport, options: TextOptions = {}): string {
  const paint = (code: string) => (text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const red = paint('31');
  const green = paint('32');
  const dim = paint('2');
  const bold = paint('1');
  const out: string[] = [];
  const t = report.totals;

  out.push(bold('shadowtap diff'));
  out.push(dim(`window ${isoTime(report.window.firstMs)} .. ${isoTime(report.window.lastMs)}; ${t.pairs} pairs`));
  const groups = report.groups ?? [];
  if (groups.length > 0) {
    out.push('', bold('Systemic differences (the same on several routes, shown once)'));
    for (const g of groups.slice(0, maxGroups)) {
      const only = g.differences.length === 1 ? g.differences[0]! : undefined;
      if (only) out.push(`  ${groupWhere(g)}: ${only.description} ${dim(`[${only.severity}]`)}`);
      else {
        out.push(`  ${groupWhere(g)}, ${g.differences.length} differences:`);
        for (const d of g.differences) out.push(`    ${d.description} ${dim(`[${d.severity}]`)}`);
      }
    }
    if (groups.length > maxGroups) out.push(dim(`  … ${groups.length - maxGroups} more groups in the JSON or HTML report`));
  }
  const fields = report.fields.filter((f) => f.differs + f.accepted > 0).slice(0, maxFields);
  if (fields.length > 0) {
    out.push('', bold(groups.length > 0 ? 'Differences of each route (most impact first)' : 'Top differing fields (most impact first)'));
    const fieldRows = [['ROUTE', 'FIELD', 'SEVERITY', 'DIFFERS', 'RATE', 'ACCEPTED', 'NOISE']];
    for (const f of fields) fieldRows.push([f.route, f.field, f.severity, String(f.differs), percent(f.differenceRate), String(f.accepted), String(f.noise)]);
    const tableLines = table(fieldRows.map((r) => [...r, '']));
    out.push(bold(tableLines[0]!), ...tableLines.slice(1));
  } else if (groups.length > 0) out.push('', dim('No route has differences of its own.'));

  out.push('');
  const withNotCompared = t['not-compared'] > 0;
  const withRedacted = report.routes.some((r) => redactionCell(r) !== '-');
  const header = ['ROUTE', 'REQS', 'MATCH', 'MISMATCH', 'NOISE', 'ACCEPTED', 'ERRORS', 'MISSING', 'SKIPPED', ...(withNotCompared ? ['NOT CMP'] : []), ...(withRedacted ? ['REDACTED'] : []), 'P99 STABLE → SHADOW'];
  const rows = [header];
  for (const r of report.routes.slice(0, maxRoutes)) {
    const c = r.counts;
    const reqs = Object.values(c).reduce((a, b) => a + b, 0);
    const cells = [r.route, reqs, c.match, c.mismatch, c.noise, c.accepted, c['shadow-error'], c.missing, c.skipped, ...(withNotCompared ? [c['not-compared']] : [])];
    rows.push(cells.map(String).concat(withRedacted ? [redactionCell(r)] : [], latencyCell(r)));
  }
  const lines = table(rows);
  out.push(bold(lines[0]!));
  lines.slice(1).forEach((line, i) => out.push(report.routes[i]!.breached ? red(line) : line));
  if (report.routes.length > maxRoutes) out.push(dim(`… ${report.routes.length - maxRoutes} more routes in the JSON or HTML report`));
  for (const note of latencyNotes(report)) out.push(dim(note));
  if (withNotCompared) out.push(dim(`not compared: ${notComparedReasons(report)}`));

  const noise = report.noise ?? [];
  if (noise.length > 0) {
    out.push('', dim('Noise (not counted as mismatches):'));
    for (const g of noise.slice(0, maxNoiseGroups)) {
      const where = g.routeCount === 1 ? g.routes[0]! : `${g.routeCount} routes`;
      out.push(dim(`  ${g.field} (${Object.keys(g.reasons).join(', ')}): ${g.pairs} pairs, ${where}`));
    }
    if (noise.length > maxNoiseGroups) out.push(dim(`  … ${noise.length - maxNoiseGroups} more noisy fields in the JSON report`));
  }
  if (report.baseline) out.push('', dim(`Noise method: ${report.noiseMethod}`));
  const extra = [
    t.unpaired > 0 && `${t.unpaired} results without a capture in the window`,
    t.duplicates > 0 && `${t.duplicates} duplicate results counted once`,
    t.evicted > 0 && `${t.evicted} captures left the join window unpaired (raise --join-window)`,
    t.deadLetters > 0 && `${t.deadLetters} undecodable records sent to the dead-letter log`,
    (t.unmatchedReferences ?? 0) > 0 && `${t.unmatchedReferences} reference results without their shadow result`,
  ].filter(Boolean);
  if (extra.length > 0) out.push('', dim(extra.join('; ')));
  if (report.routes.some((r) => redactionCell(r) !== '-')) {
    out.push(dim('REDACTED: fields not compared because redaction removed their values; altered: pairs not compared because the request was sent masked'));
  }
  if (report.breaches.length > 0) {
    out.push('', bold('Thresholds breached'));
    for (const b of report.breaches) out.push(red(`  ✗ ${b.message}`));
  }
  out.push('', report.verdict === 'pass' ? green(bold(headline(report))) : red(bold(headline(report))));
  return `${out.join('\n')}\n`;
}
