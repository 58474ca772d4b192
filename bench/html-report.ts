import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { renderHtml } from '../diff/render/html.js';
import { buildReport } from '../diff/report.js';
import { addOutcome, newSummary } from '../diff/summary.js';

/**
 * The HTML report of 1,000,000 pairs: its size, and how long Chromium takes to open it,
 * against opening a one-line page in the same browser (figures to reach: < 5 MB, < 3 s).
 *   node dist/bench/html-report.js      (needs Debian's chromium)
 */
const pairs = Number(process.env.BENCH_PAIRS ?? 1_000_000);
const summary = newSummary();
const body = JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ sku: `SKU-${i}`, qty: i, note: '<b>recorded</b>' })) });
for (let i = 0; i < pairs; i++) {
  const route = `GET /api/r${i % 60}/{id}`;
  const verdict = i % 10 === 0 ? 'mismatch' : i % 7 === 0 ? 'noise' : 'match';
  addOutcome(summary, {
    id: `p${i}`,
    route,
    verdict,
    latencyBasis: 'live',
    timeMs: 1_764_000_000_000 + i * 80,
    differences:
      verdict === 'mismatch'
        ? [{ kind: 'body', path: `$.items[${i % 40}].qty`, field: '$.items[*].qty', change: 'value-changed', severity: 'value' }]
        : [],
    stableMicros: 1000 + (i % 500),
    shadowMicros: 1100 + (i % 700),
    sample: () => ({
      id: `p${i}`,
      method: 'GET',
      url: `/api/r${i % 60}/${i}`,
      route,
      verdict,
      stable: { status: 200, headers: [], body, latencyMs: 1 },
      shadow: { status: 200, headers: [], body: body.replace('"qty":1', '"qty":2'), latencyMs: 1.1 },
      differences: [],
      notes: [],
    }),
  });
}
const html = renderHtml(buildReport(summary));
console.log(`report of ${pairs} pairs: ${(Buffer.byteLength(html) / 2 ** 20).toFixed(2)} MiB of HTML`);
if (!existsSync('/usr/bin/chromium')) {
  console.log('chromium is not installed (apt-get install chromium); open time not measured.');
  process.exit(0);
}
const dir = await mkdtemp(join(tmpdir(), 'shadowtap-html-bench-'));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const report = join(dir, 'report.html');
  const blank = join(dir, 'blank.html');
  await writeFile(report, html);
  await writeFile(blank, '<!doctype html><title>blank</title><p>blank</p>');
  const open = async (file: string) => {
    const page = await browser.newPage();
    const start = performance.now();
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    await page.evaluate(() => new Promise((resolve) => (globalThis as unknown as { requestAnimationFrame(cb: () => void): void }).requestAnimationFrame(() => resolve(null))));
    const ms = performance.now() - start;
    await page.close();
    return ms;
  };
  await open(blank);
  const times = { blank: [] as number[], report: [] as number[] };
  for (let i = 0; i < 3; i++) {
    times.blank.push(await open(blank));
    times.report.push(await open(report));
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[1]!;
  console.log(`open to first frame, median of 3: report ${median(times.report).toFixed(0)} ms, blank page ${median(times.blank).toFixed(0)} ms (ratio ${(median(times.report) / median(times.blank)).toFixed(1)})`);
} finally {
  await browser.close();
  await rm(dir, { recursive: true, force: true });
}
