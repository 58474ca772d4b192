import type { Difference } from '../difference.js';
import type { BucketReport, DiffReport, RouteReport } from '../report.js';
import type { SamplePair, SideSample } from '../summary.js';
import { groupWhere, headline, isoTime, latencyCell, latencyNotes, ms, notComparedReasons, percent, redactionCell } from './format.js';

/**
 * One self-contained HTML file: inline CSS and SVG, no script and no network. Every string
 * that came from a record goes through `esc`, so a recorded `<script>` shows as text.
 * Its size is bounded by the report (a few samples per route, cut bodies), not by traffic.
 */
export function esc(text: unknown): string {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const maxRoutes = 200;
const maxChartRoutes = 15;

const css = `
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;background:#fff;margin:.5rem 0}th,td{padding:.3rem .6rem;border-bottom:1px solid #e3e3e3;text-align:right}
th:first-child,td:first-child,.l{text-align:left}tr.breach td{background:#fde8e8}
.pass{color:#137333}.fail{color:#b3261e}.muted{color:#666}
.badge{display:inline-block;padding:.05rem .4rem;border-radius:.3rem;font-size:.8rem;background:#eee}
.critical{background:#b3261e;color:#fff}.schema{background:#e8710a;color:#fff}.value{background:#f9ab00}.addition{background:#c6e2ff}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.8rem}pre{background:#fff;border:1px solid #ddd;padding:.6rem;overflow:auto;max-height:28rem;font-size:12px;margin:0}
mark{background:#ffd9d6}details{margin:.6rem 0;background:#fff;border:1px solid #e3e3e3;padding:.4rem .8rem}summary{cursor:pointer}
svg text{font-size:11px;fill:#333}`;

export function renderHtml(report: DiffReport): string {
  const t = report.totals;
  const parts: string[] = [];
  parts.push(
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
    `<title>shadowtap diff: ${report.verdict}</title><style>${css}</style></head><body>`,
    `<h1>shadowtap diff: <span class="${report.verdict}">${report.verdict.toUpperCase()}</span></h1>`,
    `<p>${esc(headline(report))}</p>`,
    `<p class="muted">Window ${esc(isoTime(report.window.firstMs))} .. ${esc(isoTime(report.window.lastMs))}; generated ${esc(report.generatedAt)}. ` +
      `${t.unpaired} unpaired results, ${t.duplicates} duplicates counted once, ${t.evicted} captures evicted from the join window, ${t.deadLetters} dead letters.</p>`,
    `<p class="muted">Noise: ${esc(report.noiseMethod)}.</p>`,
  );
  // What changed comes first: systemic differences once, then each route's own.
  if ((report.groups ?? []).length > 0) parts.push('<h2>Systemic differences <span class="muted">(the same on several routes, shown once)</span></h2>', groupList(report));
  parts.push(`<h2>${(report.groups ?? []).length > 0 ? "Each route's own differences" : 'Differing fields'} <span class="muted">(most impact first)</span></h2>`, fieldTable(report));
  if (report.breaches.length > 0) {
    parts.push('<h2>Thresholds breached</h2><ul>', ...report.breaches.map((b) => `<li class="fail">${esc(b.message)}</li>`), '</ul>');
  }
  parts.push('<h2>Routes</h2>', routeTable(report.routes));
  const notes = [...latencyNotes(report), ...(t['not-compared'] > 0 ? [`not compared: ${notComparedReasons(report)}`] : [])];
  parts.push(...notes.map((n) => `<p class="muted">${esc(n)}</p>`));
  parts.push('<h2>Latency p99 per route (ms)</h2>', latencyChart(report.routes.slice(0, maxChartRoutes)));
  if (report.buckets.length > 1) parts.push('<h2>Mismatch rate over time</h2>', timeChart(report.buckets));
  if ((report.noise ?? []).length > 0) parts.push('<h2>Noise (not counted as mismatches)</h2>', noiseTable(report));
  parts.push('<h2>Sample pairs</h2>', report.samples.length === 0 ? '<p class="muted">No differing pairs.</p>' : report.samples.map(samplePair).join('\n'));
  parts.push('</body></html>');
  return parts.join('\n');
}

function groupList(report: DiffReport): string {
  const items = (report.groups ?? []).map((g) => {
    const rows = g.differences.map(
      (d) => `<tr><td class="l"><span class="badge ${d.severity}">${d.severity}</span></td><td class="l">${esc(d.description)}</td><td>${d.pairs}</td></tr>`,
    );
    const routes = `<p class="muted">Routes: ${esc(g.routes.join(', '))}${g.routeCount > g.routes.length ? ` and ${g.routeCount - g.routes.length} more` : ''}</p>`;
    return `<li><strong>${esc(groupWhere(g))}</strong><table><tr><th class="l">severity</th><th class="l">difference</th><th>pairs</th></tr>${rows.join('')}</table>${routes}</li>`;
  });
  return `<ul>${items.join('')}</ul>`;
}

function noiseTable(report: DiffReport): string {
  const rows = (report.noise ?? []).map(
    (g) =>
      `<tr><td class="l">${esc(g.field)}</td><td class="l">${esc(Object.keys(g.reasons).join(', '))}</td><td>${g.pairs}</td><td class="l">${esc(g.routeCount === 1 ? g.routes[0] : `${g.routeCount} routes: ${g.routes.join(', ')}`)}</td></tr>`,
  );
  return `<table><tr><th class="l">field</th><th class="l">why it is noise</th><th>pairs</th><th class="l">routes</th></tr>${rows.join('')}</table>`;
}

function routeTable(routes: RouteReport[]): string {
  const rows = routes.slice(0, maxRoutes).map((r) => {
    const c = r.counts;
    const reqs = Object.values(c).reduce((a, b) => a + b, 0);
    const ci = r.latency.ci95Ms ? ` <span class="muted">CI ${ms(r.latency.ci95Ms[0])}..${ms(r.latency.ci95Ms[1])}</span>` : '';
    return `<tr class="${r.breached ? 'breach' : ''}"><td>${esc(r.route)}</td><td>${reqs}</td><td>${c.match}</td><td>${c.mismatch}</td><td>${c.noise}</td><td>${c.accepted}</td><td>${c['shadow-error']}</td><td>${c['not-compared'] ?? 0}</td><td>${c.missing}</td><td>${c.skipped}</td><td>${esc(redactionCell(r))}</td><td>${esc(percent(r.mismatchRate))}</td><td class="l">${esc(latencyCell(r))}${ci}</td></tr>`;
  });
  const more = routes.length > maxRoutes ? `<p class="muted">${routes.length - maxRoutes} more routes in the JSON report.</p>` : '';
  return `<table><tr><th>route</th><th>requests</th><th>match</th><th>mismatch</th><th>noise</th><th>accepted</th><th>errors</th><th>not compared</th><th>missing</th><th>skipped</th><th title="fields not compared because redaction removed their values; altered: requests sent masked">not compared (redacted)</th><th>mismatch rate</th><th class="l">p99 stable → shadow</th></tr>${rows.join('')}</table>${more}`;
}

function latencyChart(routes: RouteReport[]): string {
  if (routes.length === 0) return '<p class="muted">No latency recorded.</p>';
  const max = Math.max(1e-3, ...routes.flatMap((r) => [r.latency.stable.p99Ms, r.latency.shadow.p99Ms]));
  const label = 260;
  const width = 420;
  const row = 26;
  const bars = routes.map((r, i) => {
    const y = i * row + 4;
    const ws = (r.latency.stable.p99Ms / max) * width;
    const wh = (r.latency.shadow.p99Ms / max) * width;
    return (
      `<text x="0" y="${y + 14}">${esc(r.route.length > 40 ? `${r.route.slice(0, 39)}…` : r.route)}</text>` +
      `<rect x="${label}" y="${y}" width="${ws.toFixed(1)}" height="9" fill="#7aa7d9"><title>stable ${r.latency.stable.p99Ms} ms</title></rect>` +
      `<rect x="${label}" y="${y + 10}" width="${wh.toFixed(1)}" height="9" fill="${r.latency.regression ? '#b3261e' : '#e8a33d'}"><title>shadow ${r.latency.shadow.p99Ms} ms</title></rect>` +
      `<text x="${label + Math.max(ws, wh) + 6}" y="${y + 14}">${esc(ms(r.latency.stable.p99Ms))} → ${esc(ms(r.latency.shadow.p99Ms))}</text>`
    );
  });
  const legend = `<text x="${label}" y="${routes.length * row + 16}">■ stable (blue)  ■ shadow (orange; red = regression)</text>`;
  return `<svg role="img" aria-label="p99 latency per route" width="${label + width + 120}" height="${routes.length * row + 24}">${bars.join('')}${legend}</svg>`;
}

function timeChart(buckets: BucketReport[]): string {
  const width = 680;
  const height = 140;
  const maxRate = Math.max(0.01, ...buckets.map((b) => b.mismatchRate));
  const step = width / Math.max(1, buckets.length - 1);
  const points = buckets.map((b, i) => `${(i * step + 40).toFixed(1)},${(height - (b.mismatchRate / maxRate) * (height - 20)).toFixed(1)}`);
  const first = new Date(buckets[0]!.startMs).toISOString();
  const last = new Date(buckets.at(-1)!.startMs).toISOString();
  const rows = buckets
    .slice(-48)
    .map((b) => `<tr><td>${esc(new Date(b.startMs).toISOString())}</td><td>${b.compared}</td><td>${esc(percent(b.mismatchRate))}</td><td>${esc(ms(b.shadowP99Ms))}</td></tr>`);
  return (
    `<svg role="img" aria-label="mismatch rate over time" width="${width + 60}" height="${height + 30}">` +
    `<polyline fill="none" stroke="#b3261e" stroke-width="2" points="${points.join(' ')}"/>` +
    `<text x="0" y="14">${esc(percent(maxRate))}</text><text x="0" y="${height}">0%</text>` +
    `<text x="40" y="${height + 24}">${esc(first)}</text><text x="${width - 150}" y="${height + 24}">${esc(last)}</text></svg>` +
    `<details><summary>Per bucket</summary><table><tr><th>bucket start</th><th>compared</th><th>mismatch rate</th><th>shadow p99 ms</th></tr>${rows.join('')}</table></details>`
  );
}

function fieldTable(report: DiffReport): string {
  if (report.fields.length === 0) return `<p class="muted">${(report.groups ?? []).length > 0 ? 'No route has differences of its own.' : 'No field differed.'}</p>`;
  const rows = report.fields.map(
    (f) =>
      `<tr><td>${esc(f.route)}</td><td class="l">${esc(f.field)}</td><td class="l"><span class="badge ${f.severity}">${f.severity}</span></td><td>${f.differs}</td><td>${esc(percent(f.differenceRate))}</td><td>${f.accepted}</td><td>${f.noise}</td><td>${f.aaRate === undefined || f.aaRate === null ? '–' : esc(percent(f.aaRate))}</td><td class="l">${esc(Object.entries(f.noiseReasons).map(([k, v]) => `${k} ${v}`).join(', '))}</td></tr>`,
  );
  return `<table><tr><th>route</th><th class="l">field</th><th class="l">severity</th><th>differs</th><th>rate</th><th>accepted</th><th>noise</th><th>A/A rate</th><th class="l">noise reasons</th></tr>${rows.join('')}</table>`;
}

function differenceRow(d: Difference): string {
  const status = d.noise ? `noise: ${d.noise}` : d.review ? `${d.review.status}: ${d.review.reason}` : 'mismatch';
  return `<tr><td class="l"><code>${esc(d.path)}</code></td><td class="l"><span class="badge ${d.severity}">${d.severity}</span> ${esc(d.change)}</td><td class="l"><code>${esc(d.stable ?? '')}</code></td><td class="l"><code>${esc(d.shadow ?? '')}</code></td><td class="l">${esc(status)}</td></tr>`;
}

/** Last name or key on a path, to find the lines of a pretty-printed body worth marking. */
function keyOf(path: string): string | undefined {
  return /(?:\.([^.[\]]+)|\['([^']+)'\])$/.exec(path)?.slice(1).find(Boolean);
}

function bodyBlock(side: SideSample | null, differences: Difference[], title: string): string {
  if (!side) return `<div><h4>${title}</h4><pre class="muted">(no response)</pre></div>`;
  const keys = new Set(differences.filter((d) => d.kind === 'body').map((d) => keyOf(d.path)).filter((k): k is string => k !== undefined));
  const lines = side.body.split('\n').map((line) => {
    const escaped = esc(line);
    const m = /^\s*"((?:[^"\\]|\\.)*)":/.exec(line);
    return m && keys.has(m[1]!) ? `<mark>${escaped}</mark>` : escaped;
  });
  const headers = side.headers.map((h) => `${esc(h.name)}: ${esc(h.value)}`).join('\n');
  const latency = side.latencyMs === null ? '' : `, ${side.latencyMs} ms`;
  return `<div><h4>${title}: ${side.status}${latency}</h4><pre>${headers}</pre><pre>${lines.join('\n')}</pre></div>`;
}

function samplePair(sample: SamplePair): string {
  const diffs = sample.differences.length
    ? `<table><tr><th class="l">path</th><th class="l">change</th><th class="l">stable</th><th class="l">shadow</th><th class="l">status</th></tr>${sample.differences.map(differenceRow).join('')}</table>`
    : '';
  const notes = [...sample.notes, ...(sample.error ? [`shadow error: ${sample.error}`] : [])].map((n) => `<p class="muted">${esc(n)}</p>`).join('');
  const patch = sample.textPatch ? `<pre>${esc(sample.textPatch)}</pre>` : '';
  return (
    `<details><summary><span class="badge">${esc(sample.verdict)}</span> ${esc(sample.method)} ${esc(sample.url)} <span class="muted">(${esc(sample.route)}, id ${esc(sample.id)})</span></summary>` +
    `${notes}${diffs}${patch}<div class="pair">${bodyBlock(sample.stable, sample.differences, 'stable')}${bodyBlock(sample.shadow, sample.differences, 'shadow')}</div></details>`
  );
}
