import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderHtml } from '../index.js';
import { renderJson, renderJsonLines } from '../index.js';
import { renderJunit } from '../index.js';
import { renderMarkdown } from '../index.js';
import { renderText } from '../index.js';
import { buildReport } from '../diff/report.js';
import { runDiff } from '../index.js';
import type { PairRecord } from '../diff/pair-record.js';
import { addOutcome, newSummary } from '../diff/summary.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { memoryLog } from './helpers/diff-memory-log.js';
import { capture, json, result, text } from './helpers/diff-pairs.js';

const evil = '<script>alert(1)</script>';

async function hostileReport() {
  const captures = [
    capture('x1', `/q/${encodeURIComponent(evil)}`, json({ name: evil, n: 1 }, 200, [{ name: 'x-evil', value: evil }])),
    capture('x2', '/page', text(`<html>${evil}</html>\n`, 'text/html')),
    capture('x3', '/ok', json({ a: 1 })),
  ];
  const results = [
    result('x1', json({ name: `${evil}!`, n: 2 }, 200, [{ name: 'x-evil', value: `${evil}2` }])),
    result('x2', text(`<html>${evil}x</html>\n`, 'text/html')),
    result('x3', json({ a: 1 })),
  ];
  const verdicts: PairRecord[] = [];
  const report = await runDiff({
    captures: memoryLog(captureKind, captures),
    results: memoryLog(resultKind, results),
    routes: ['/q/:query'],
    onVerdict: (v) => verdicts.push(v),
  });
  return { report, verdicts };
}

test('HTML report escapes everything from records: no recorded <script> survives', async () => {
  const { report } = await hostileReport();
  const html = renderHtml(report);
  assert.ok(report.samples.length >= 2, 'the hostile pairs are sampled');
  assert.ok(!html.includes('<script>alert'), 'raw <script>alert must not appear');
  assert.ok(!html.includes('<script'), 'the report has no script element at all');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the content is shown escaped');
  assert.match(html, /<svg role="img" aria-label="p99 latency per route"/);
  assert.match(html, /<mark>/, 'differing JSON lines are highlighted');
  assert.ok(!/https?:\/\//.test(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')), 'no network references');
});

/** A strict enough check of XML well-formedness: balanced tags, quoted attributes, only known entities, no stray < or &. */
function assertWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = token.exec(body)) !== null) {
    consumed = token.lastIndex;
    const [, closing, name, attributes, selfClosing, textPart] = match;
    const checkEntities = (s: string) => assert.ok(!/&(?!(?:amp|lt|gt|quot|apos);)/.test(s), `bad entity in ${s.slice(0, 80)}`);
    if (textPart !== undefined) {
      checkEntities(textPart);
      continue;
    }
    checkEntities(attributes ?? '');
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!selfClosing) stack.push(name!);
  }
  assert.equal(consumed, body.length, `unparseable XML at: ${body.slice(consumed, consumed + 80)}`);
  assert.deepEqual(stack, [], 'every element is closed');
}

test('JUnit XML is well-formed: one testcase per route, failures for breaching routes', async () => {
  const { report } = await hostileReport();
  const xml = renderJunit(report);
  assertWellFormedXml(xml);
  assert.equal((xml.match(/<testcase /g) ?? []).length, report.routes.length);
  assert.equal((xml.match(/<failure /g) ?? []).length, report.routes.filter((r) => r.breached).length);
  assert.ok(report.routes.some((r) => r.breached) && report.routes.some((r) => !r.breached));
  assert.ok(!xml.includes('<script>'));
});

test('text, markdown, JSON and JSON Lines renderings', async () => {
  const { report, verdicts } = await hostileReport();
  const plain = renderText(report, { color: false });
  assert.ok(!plain.includes('\u001b['), 'no colour codes when colour is off');
  assert.match(plain, /GET \/q\/\{query\}/);
  assert.match(plain, /FAIL/);
  assert.match(renderText(report, { color: true }), /\u001b\[31m/);
  const md = renderMarkdown(report);
  assert.match(md, /^### shadowtap diff: ❌ fail/);
  assert.ok(!md.includes('<script>'));
  assert.deepEqual(JSON.parse(renderJson(report)).totals, report.totals);
  const lines = renderJsonLines(verdicts).trim().split('\n').map((l) => JSON.parse(l) as PairRecord);
  assert.deepEqual(lines.map((l) => l.verdict).sort(), ['match', 'mismatch', 'mismatch']);
  const q = lines.find((l) => l.captureId === 'x1')!;
  assert.deepEqual(q.differences.map((d) => `${d.path}:${d.severity}`), ['$.name:value', '$.n:value', 'header:x-evil:value']);
});

test('reports stay small: a million pairs make an HTML report under 5 MB', () => {
  const summary = newSummary({ samplesPerRoute: 3 });
  const stableBody = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ i, name: 'x'.repeat(20) })) });
  for (let i = 0; i < 1_000_000; i++) {
    const route = `GET /r${i % 50}/{id}`;
    const differs = i % 10 === 0;
    addOutcome(summary, {
      id: `p${i}`,
      route,
      verdict: differs ? 'mismatch' : 'match',
      latencyBasis: 'live',
      timeMs: 1_764_000_000_000 + i * 10,
      differences: differs ? [{ kind: 'body', path: `$.items[${i % 200}].name`, field: '$.items[*].name', change: 'value-changed', severity: 'value' }] : [],
      stableMicros: 1000 + (i % 100),
      shadowMicros: 1100 + (i % 100),
      sample: () => ({
        id: `p${i}`,
        method: 'GET',
        url: `/r/${i}`,
        route,
        verdict: 'mismatch',
        stable: { status: 200, headers: [], body: stableBody.slice(0, 2048), latencyMs: 1 },
        shadow: { status: 200, headers: [], body: stableBody.slice(0, 2048), latencyMs: 1 },
        differences: [],
        notes: [],
      }),
    });
  }
  const report = buildReport(summary);
  assert.equal(report.totals.pairs, 1_000_000);
  const size = Buffer.byteLength(renderHtml(report));
  assert.ok(size < 5 * 1024 * 1024, `HTML is ${size} bytes`);
  assert.ok(Buffer.byteLength(renderJson(report)) < 5 * 1024 * 1024);
});

test('HTML and Markdown list the noisy fields with why they are noise', async () => {
  const captures = [1, 2, 3].map((i) => capture(`n${i}`, `/users/${i}`, json({ id: i, servedAt: '2026-11-26T10:00:00.000Z' })));
  const results = [1, 2, 3].map((i) => result(`n${i}`, json({ id: i, servedAt: '2026-11-26T10:00:01.500Z' })));
  const report = await runDiff({ captures: memoryLog(captureKind, captures), results: memoryLog(resultKind, results) });
  assert.equal(report.totals.noise, 3);
  const html = renderHtml(report);
  assert.match(html, /<h2>Noise \(not counted as mismatches\)<\/h2>\s*<table>.*\$\.servedAt<\/td><td class="l">timestamp<\/td><td>3<\/td>/s);
  assert.match(renderMarkdown(report), /\| \$\.servedAt \| timestamp \| 3 \| 1 \|/);
});
