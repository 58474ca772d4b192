import type { DiffReport, RouteReport } from '../report.js';
import { latencyCell, percent, redactionCell } from './format.js';

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
    `missing ${c.missing}, skipped ${c.skipped}, no baseline ${c['no-baseline']}`,
    `not compared because of redaction: ${redactionCell(route)}`,
    `latency p99 ${latencyCell(route)}`,
    ...route.topFields.filter((f) => f.differs > 0).map((f) => `${f.field}: ${f.severity}, differs in ${f.differs} (${percent(f.differenceRate)})`),
  ];
  return lines.join('\n');
}

/** One testcase per route, failing when the route breaches a threshold; CI systems show it as a test report. */
export function renderJunit(report: DiffReport): string {
  const failures = report.routes.filter((r) => r.breached).length;
  const global = report.breaches.filter((b) => b.route === undefined);
  const tests = report.routes.length + global.length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="shadowtap diff" tests="${tests}" failures="${failures + global.length}">`,
    `  <testsuite name="shadowtap diff" tests="${tests}" failures="${failures + global.length}" errors="0" timestamp="${escapeXml(report.generatedAt)}">`,
  ];
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
