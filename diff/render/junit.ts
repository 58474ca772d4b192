import type { DiffReport, RouteReport } from '../report.js';
import { groupWhere, latencyCell, percent, redactionCell } from './format.js';

/** XML text escaping; characters XML 1.0 cannot carry at all are dropped. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function details(route: RouteReport): string {
  const c = route.counts;
  const lines = [
    `compared ${route.compared}: ${c.match} match, ${c.mismatch} mismatch, ${c['shadow-error']} shadow errors, ${c.noise} noise, ${c.accepted} accepted`,
    `missing ${c.missing}, skipped ${c.skipped}, no baseline ${c['no-baseline']}, not compared ${c['not-compared'] ?? 0}`,
    `not compared because of redaction: ${redactionCell(route)}`,
    `latency p99 ${latencyCell(route)}${route.latency.noVerdict ? `: ${route.latency.noVerdict}` : ''}`,
    ...(route.systemicOnly ? [`${route.systemicOnly} mismatched pairs differ only by systemic differences (see the systemic testcases)`] : []),
    ...route.topFields.filter((f) => f.differs > 0).map((f) => `${f.field}: ${f.severity}, differs in ${f.differs} (${percent(f.differenceRate)})`),
  ];
  return lines.join('\n');
}

/**
 * One testcase per systemic group first, then one per route, failing when it breaches a
 * threshold; CI systems show it as a test report.
 */
export function renderJunit(report: DiffReport): string {
  const failures = report.routes.filter((r) => r.breached).length;
  const systemic = report.breaches.filter((b) => b.kind === 'systemic-difference');
  const global = report.breaches.filter((b) => b.route === undefined && b.kind !== 'systemic-difference');
  const groups = report.groups ?? [];
  const groupFailures = systemic.length;
  const tests = groups.length + report.routes.length + global.length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="shadowtap diff" tests="${tests}" failures="${failures + global.length + groupFailures}">`,
    `  <testsuite name="shadowtap diff" tests="${tests}" failures="${failures + global.length + groupFailures}" errors="0" timestamp="${escapeXml(report.generatedAt)}">`,
  ];
  for (const [index, g] of groups.entries()) {
    const breach = systemic.find((b) => b.group === index);
    const text = [`${groupWhere(g)}:`, ...g.differences.map((d) => `${d.description} (${d.severity})`), `routes: ${g.routes.join(', ')}`].join('\n');
    out.push(`    <testcase classname="shadowtap.diff.systemic" name="${escapeXml(`systemic: ${g.differences.map((d) => d.field).join(', ')}`)}">`);
    if (breach) out.push(`      <failure message="${escapeXml(breach.message)}" type="threshold">${escapeXml(text)}</failure>`);
    out.push(`      <system-out>${escapeXml(text)}</system-out>`, '    </testcase>');
  }
  for (const route of report.routes) {
    out.push(`    <testcase classname="shadowtap.diff" name="${escapeXml(route.route)}">`);
    if (route.breached) {
      const message = report.breaches.filter((b) => b.route === route.route).map((b) => b.message).join('; ');
      out.push(`      <failure message="${escapeXml(message)}" type="threshold">${escapeXml(details(route))}</failure>`);
    }
    out.push(`      <system-out>${escapeXml(details(route))}</system-out>`, '    </testcase>');
  }
  for (const breach of global) {
    out.push(
      `    <testcase classname="shadowtap.diff" name="${escapeXml(breach.kind)}">`,
      `      <failure message="${escapeXml(breach.message)}" type="threshold"/>`,
      '    </testcase>',
    );
  }
  out.push('  </testsuite>', '</testsuites>');
  return `${out.join('\n')}\n`;
}
