import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { renderHtml } from '../index.js';
import { runDiff } from '../index.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { memoryLog } from './helpers/diff-memory-log.js';
import { capture, json, result } from './helpers/diff-pairs.js';

const chromiumPath = '/usr/bin/chromium';
// The same flags the workplace's own browser checks use: no network, no sandbox as root.
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('the HTML report opens in Chromium without errors, shows the seeded differences, and never runs recorded markup', { skip: existsSync(chromiumPath) ? false : 'chromium is not installed (apt-get install chromium)' }, async () => {
  const injected = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;
  const captures = memoryLog(captureKind);
  const results = memoryLog(resultKind);
  for (let i = 0; i < 40; i++) {
    const id = `r${i}`;
    await captures.append([capture(id, `/products/${1000 + i}`, json({ id: i, price: 10, note: injected }), i)]);
    await results.append([result(id, json({ id: i, price: 12, note: `${injected} changed` }), i)]);
  }
  await captures.append([capture('s1', `/search`, json({ hits: [] }), 50)]);
  await results.append([result('s1', json({ error: 'boom' }, 500), 50)]);
  const report = await runDiff({ captures, results });

  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-html-'));
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  try {
    const file = join(dir, 'report.html');
    await writeFile(file, renderHtml(report));
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    const requests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) requests.push(request.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const text = await page.locator('body').innerText();
    assert.match(text, /\/products\/\{id\}/, 'the route template is shown');
    assert.match(text, /\$\.price/, 'the differing field is shown');
    assert.match(text, /GET \/search\s+status\s+critical/, 'the status change is shown as critical');
    for (const summary of await page.locator('details > summary').all()) await summary.click();
    const expanded = await page.locator('body').innerText();
    assert.match(expanded, /\b500\b/, 'the sample pair shows the shadow status');
    assert.ok(expanded.includes('<script>window.__pwned = 1</script>'), 'recorded markup is shown as text');
    assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, 'recorded markup never runs');
    assert.deepEqual(problems, [], 'no console errors');
    assert.deepEqual(requests, [], 'the report loads nothing from the network');
  } finally {
    await browser.close();
    await rm(dir, { recursive: true, force: true });
  }
});
