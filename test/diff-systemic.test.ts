import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { renderHtml } from '../index.js';
import { renderJson } from '../index.js';
import { renderJunit } from '../index.js';
import { renderMarkdown } from '../index.js';
import { renderText } from '../index.js';
import type { DiffReport } from '../diff/report.js';
import { runDiff } from '../index.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import type { Capture, Header, HttpResponse, Result } from '../shared/records/types.js';
import { runDiffCli } from './helpers/diff-cli-run.js';
import { memoryLog } from './helpers/diff-memory-log.js';
import { capture, json, result, text } from './helpers/diff-pairs.js';

/**
 * A framework upgrade as users meet it: the new version changes the same nine response headers
 * on every route (CORS, security and cache headers, X-Powered-By), and really changes two
 * bodies: a 404 that became text, and a page size.
 */
const stableHeaders: Header[] = [
  // x-powered-by is in the default ignore list: it changes with every framework and says nothing.
  { name: 'x-powered-by', value: 'Express' },
  { name: 'access-control-allow-credentials', value: 'true' },
  { name: 'cache-control', value: 'public, max-age=0' },
  { name: 'x-xss-protection', value: '1; mode=block' },
];
const shadowHeaders: Header[] = [
  { name: 'x-powered-by', value: 'Fastify' },
  { name: 'cache-control', value: 'no-store' },
  { name: 'x-xss-protection', value: '0' },
  { name: 'access-control-allow-origin', value: '*' },
  { name: 'x-frame-options', value: 'SAMEORIGIN' },
  { name: 'x-content-type-options', value: 'nosniff' },
  { name: 'strict-transport-security', value: 'max-age=15552000; includeSubDomains' },
  { name: 'referrer-policy', value: 'no-referrer' },
  { name: 'cross-origin-opener-policy', value: 'same-origin' },
];
const routes = ['/users/1', '/orders/1', '/health', '/search', '/products/1', '/missing/1', '/items'];

function upgrade(): { captures: Capture[]; results: Result[] } {
  const captures: Capture[] = [];
  const results: Result[] = [];
  const withHeaders = (r: HttpResponse, headers: Header[]): HttpResponse => ({ ...r, headers: [...r.headers, ...headers] });
  for (const [k, path] of routes.entries()) {
    for (let i = 0; i < 10; i++) {
      const id = `u${k}-${i}`;
      let stable: HttpResponse;
      let shadow: HttpResponse;
      if (path === '/missing/1') {
        stable = json({ error: 'not found' }, 404);
        shadow = text('Not Found', 'text/plain; charset=utf-8', 404);
      } else if (path === '/items') {
        stable = json({ items: [1, 2], pageSize: 10 });
        shadow = json({ items: [1, 2], pageSize: 20 });
      } else {
        stable = json({ path, i });
        shadow = json({ path, i });
      }
      captures.push(capture(id, path.replace('/1', `/${i + 1}`), withHeaders(stable, stableHeaders), k * 100 + i));
      results.push(result(id, withHeaders(shadow, shadowHeaders), k * 100 + i));
    }
  }
  return { captures, results };
}

let report: DiffReport;
let dir: string;

before(async () => {
  const { captures, results } = upgrade();
  report = await runDiff({ captures: memoryLog(captureKind, captures), results: memoryLog(resultKind, results) });
  dir = await mkdtemp(join(tmpdir(), 'shadowtap-systemic-'));
  const captureLog = await openFileLog(captureKind, { dir: join(dir, 'store') });
  const resultLog = await openFileLog(resultKind, { dir: join(dir, 'store') });
  await captureLog.append(captures);
  await resultLog.append(results);
  await Promise.all([captureLog.close(), resultLog.close()]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('nine headers changed on every route are one systemic group; each route keeps only its own differences', () => {
  assert.equal(report.groups!.length, 1);
  const group = report.groups![0]!;
  assert.equal(group.routeCount, 7);
  assert.equal(group.routesCompared, 7);
  assert.equal(group.pairRate, 1);
  assert.equal(group.differences.length, 9);
  const descriptions = group.differences.map((d) => d.description);
  assert.ok(descriptions.includes('header access-control-allow-origin added "*"'), descriptions.join(' | '));
  assert.ok(descriptions.includes('header access-control-allow-credentials removed (was "true")'), descriptions.join(' | '));
  assert.ok(descriptions.includes('header cache-control changed "public, max-age=0" → "no-store"'), descriptions.join(' | '));
  // Ranked by impact: the removal (schema severity) before the additions.
  assert.equal(group.differences[0]!.field, 'header:access-control-allow-credentials');

  const own = report.fields.filter((f) => f.differs > 0).map((f) => `${f.route} ${f.field}`);
  assert.deepEqual(own.sort(), ['GET /items $.pageSize', 'GET /missing/{id} $', 'GET /missing/{id} header:content-type'].sort());
  assert.ok(report.routes.every((r) => r.topFields.every((f) => !f.field.startsWith('header:x-') && f.field !== 'header:cache-control')));
});

test('the exit code counts one systemic change once, then the routes with changes of their own', () => {
  assert.deepEqual(
    report.breaches.map((b) => `${b.kind} ${b.route ?? ''}`.trim()),
    ['systemic-difference', 'mismatch-rate GET /items', 'mismatch-rate GET /missing/{id}'].sort((a, b) => (a.startsWith('systemic') ? -1 : b.startsWith('systemic') ? 1 : a.localeCompare(b))),
  );
  assert.match(report.breaches[0]!.message, /^one systemic change on 7 of 7 routes \(100\.00% of pairs\): 9 differences: /);
  assert.equal(report.verdict, 'fail', 'a systemic change is still a difference');
  assert.equal(report.totals.mismatch, 70, 'every pair differs, and is counted so');
  const health = report.routes.find((r) => r.route === 'GET /health')!;
  assert.equal(health.systemicOnly, 10);
  assert.equal(health.breached, false);
  assert.equal(report.routes.find((r) => r.route === 'GET /items')!.systemicOnly, 0);
});

test('the first screen of the text report names the systemic group once, then the real body changes per route', () => {
  const lines = renderText(report).split('\n');
  const firstScreen = lines.slice(0, 24).join('\n');
  assert.match(firstScreen, /Systemic differences/);
  assert.match(firstScreen, /on 7 of 7 routes, 100\.0% of pairs, 9 differences:/);
  assert.match(firstScreen, /GET \/items\s+\$\.pageSize/);
  assert.match(firstScreen, /GET \/missing\/\{id\}\s+\$\s/);
  const at = (pattern: RegExp) => lines.findIndex((l) => pattern.test(l));
  assert.ok(at(/Systemic differences/) < at(/Differences of each route/));
  assert.ok(at(/Differences of each route/) < at(/^ROUTE\s+REQS/), 'the route table comes after what changed');
  assert.equal(lines.filter((l) => l.includes('access-control-allow-credentials')).length, 2, 'named in the group, and once in the breach that counts it');
});

test('every format shows the group once and before the per-route tables', () => {
  const html = renderHtml(report);
  const beforeSamples = html.slice(0, html.indexOf('<h2>Sample pairs</h2>'));
  assert.ok(beforeSamples.indexOf('Systemic differences') < beforeSamples.indexOf("Each route's own differences"));
  assert.ok(beforeSamples.indexOf("Each route's own differences") < beforeSamples.indexOf('<h2>Routes</h2>'));
  assert.equal(beforeSamples.split('header access-control-allow-credentials removed').length - 1, 2, 'in the group and in its breach');

  const md = renderMarkdown(report);
  assert.ok(md.indexOf('**Systemic differences**') < md.indexOf("**Each route's own differences**"));
  assert.ok(md.indexOf("**Each route's own differences**") < md.indexOf('| route | requests |'));
  assert.equal(md.split('header access-control-allow-credentials removed').length - 1, 2, 'in the group and in its breach');

  const junit = renderJunit(report);
  assert.ok(junit.indexOf('classname="shadowtap.diff.systemic"') < junit.indexOf('classname="shadowtap.diff" name="GET /health"'));
  assert.match(junit, /<testsuites name="shadowtap diff" tests="8" failures="3">/);

  const json = renderJson(report);
  assert.ok(json.indexOf('"groups"') < json.indexOf('"routes"') && json.indexOf('"groups"') < json.indexOf('"fields"'));
});

const cli = (...args: string[]) => runDiffCli(join(dir, 'store'), ...args);

test('through the diff CLI on a file log: the group first, exit 1; accepted once for every route, it passes', async () => {
  const out = join(dir, 'report.txt');
  assert.equal(await cli('--format', 'text', '--out', out), 1);
  const textReport = await readFile(out, 'utf8');
  assert.ok(textReport.indexOf('Systemic differences') < textReport.indexOf('$.pageSize'));
  const reviewed = join(dir, 'reviewed.yaml');
  assert.equal(await cli('--format', 'json', '--out', join(dir, 'r.json'), '--accepted', reviewed, '--accept'), 1);
  const yaml = await readFile(reviewed, 'utf8');
  assert.equal(yaml.split('route: "*"').length - 1, 9, yaml);
  assert.equal(await cli('--format', 'json', '--out', join(dir, 'r2.json'), '--accepted', reviewed), 0);
  const accepted = JSON.parse(await readFile(join(dir, 'r2.json'), 'utf8')) as DiffReport;
  assert.equal(accepted.totals.accepted, 70);
  assert.deepEqual(accepted.groups, []);
});
