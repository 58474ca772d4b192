import type { DiffReport } from '../report.js';
import { groupWhere, headline, latencyCell, latencyNotes, notComparedReasons, percent, redactionCell } from './format.js';

const maxRoutes = 30;
const maxFields = 15;

/** Table cells: pipes and line breaks would break the table, backticks and angle brackets the page. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ').replace(/`/g, "'").replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A short report for a pull-request comment. */
export function renderMarkdown(report: DiffReport): string {
  const out: string[] = [];
  out.push(`### shadowtap diff: ${report.verdict === 'pass' ? '✅ pass' : '❌ fail'}`, '', cell(headline(report)), '');
  const groups = report.groups ?? [];
  if (groups.length > 0) {
    out.push('**Systemic differences** (the same on several routes, shown once)', '');
    for (const g of groups.slice(0, maxFields)) {
      out.push(`- ${cell(groupWhere(g))}:`);
      for (const d of g.differences) out.push(`  - ${cell(d.description)} (${d.severity})`);
    }
    out.push('');
  }
  const own = report.fields.filter((f) => f.differs + f.accepted > 0).slice(0, maxFields);
  if (own.length > 0) {
    out.push(groups.length > 0 ? "**Each route's own differences** (most impact first)" : '**Top differing fields** (most impact first)', '', '| route | field | severity | differs | rate | accepted | noise |', '|---|---|---|--:|--:|--:|--:|');
    for (const f of own) out.push(`| ${cell(f.route)} | ${cell(f.field)} | ${f.severity} | ${f.differs} | ${percent(f.differenceRate)} | ${f.accepted} | ${f.noise} |`);
    out.push('');
  }
  if (report.breaches.length > 0) {
    out.push('**Thresholds breached**', '');
    for (const b of report.breaches) out.push(`- ${cell(b.message)}`);
    out.push('');
  }
  out.push('| route | requests | match | mismatch | noise | accepted | errors | not compared | missing | skipped | not compared (redacted) | p99 stable → shadow |');
  out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const r of report.routes.slice(0, maxRoutes)) {
    const c = r.counts;
    const reqs = Object.values(c).reduce((a, b) => a + b, 0);
    const name = r.breached ? `**${cell(r.route)}**` : cell(r.route);
    out.push(`| ${name} | ${reqs} | ${c.match} | ${c.mismatch} | ${c.noise} | ${c.accepted} | ${c['shadow-error']} | ${c['not-compared'] ?? 0} | ${c.missing} | ${c.skipped} | ${redactionCell(r)} | ${cell(latencyCell(r))} |`);
  }
  if (report.routes.length > maxRoutes) out.push('', `… and ${report.routes.length - maxRoutes} more routes.`);
  const notes = [...latencyNotes(report), ...(report.totals['not-compared'] > 0 ? [`not compared: ${notComparedReasons(report)}`] : [])];
  if (notes.length > 0) out.push('', ...notes.map((n) => `_${cell(n)}_`));
  const noise = report.noise ?? [];
  if (noise.length > 0) {
    out.push('', '<details><summary>Noise (not counted as mismatches)</summary>', '', '| field | why | pairs | routes |', '|---|---|--:|--:|');
    for (const g of noise.slice(0, maxFields)) out.push(`| ${cell(g.field)} | ${cell(Object.keys(g.reasons).join(', '))} | ${g.pairs} | ${g.routeCount} |`);
    out.push('', '</details>');
  }
  return `${out.join('\n')}\n`;
}
