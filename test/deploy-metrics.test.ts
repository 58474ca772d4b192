import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { parse } from 'yaml';
import { startCaptureServer } from '../index.js';
import { ReplayMetrics } from '../replay/replay-metrics.js';
import { runReplay } from '../replay/replay-worker.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { serveMetrics } from '../shared/metrics-server.js';
import { packageRoot } from '../shared/package-root.js';
import { shadowtapProgram } from './helpers/deploy-program.js';
import { freePort } from './helpers/free-port.js';
import { listenLocal } from './helpers/local-server.js';

/**
 * The alert rules and the dashboard are only worth something if the metrics they query exist:
 * every name they use must be documented in docs/metrics.md, and every documented capture and
 * replay metric must be served, with its documented type, by a real capture agent and replay worker.
 */

const root = packageRoot();
const metricName = /\bshadowtap_[a-z0-9_]+/g;
/** Histogram series names to the histogram's own name. */
const baseName = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

async function documentedMetrics(): Promise<Map<string, string>> {
  const text = await readFile(join(root, 'docs', 'metrics.md'), 'utf8');
  return new Map([...text.matchAll(/^\| `(shadowtap_[a-z0-9_]+)` \| (counter|gauge|histogram) \|/gm)].map((m) => [m[1]!, m[2]!]));
}

async function usedMetrics(): Promise<Map<string, Set<string>>> {
  const used = new Map<string, Set<string>>();
  const note = (name: string, where: string) => used.set(baseName(name), (used.get(baseName(name)) ?? new Set()).add(where));
  const rules = parse(await readFile(join(root, 'deploy', 'prometheus', 'shadowtap-rules.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  for (const rule of rules.groups.flatMap((g) => g.rules)) for (const [name] of rule.expr.matchAll(metricName)) note(name, `alert ${rule.alert}`);
  const dashboard = JSON.parse(await readFile(join(root, 'deploy', 'grafana', 'shadowtap-dashboard.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
  for (const panel of dashboard.panels) for (const target of panel.targets ?? []) for (const [name] of target.expr.matchAll(metricName)) note(name, `panel ${panel.title}`);
  return used;
}

/** `# TYPE name type` lines of a Prometheus text exposition. */
async function scrape(url: string): Promise<Map<string, string>> {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  const text = await response.text();
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

test('every metric the alert rules and the dashboard use is documented', async () => {
  const documented = await documentedMetrics();
  const used = await usedMetrics();
  assert.ok(used.size >= 10, 'the rules and dashboard use shadowtap metrics');
  const undocumented = [...used].filter(([name]) => !documented.has(name)).map(([name, where]) => `${name} (${[...where].join(', ')})`);
  assert.deepEqual(undocumented, []);
});

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let exposed: Map<string, string>;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-metrics-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const app = await listen(createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')));
  const captures = await openFileLog(captureKind, { dir });
  const results = await openFileLog(resultKind, { dir });
  cleanups.push(() => captures.close(), () => results.close());

  const capture = await startCaptureServer({ port: 0, upstream: app.url, sink: captures, metricsPort: 0, logger: pino({ level: 'silent' }) });
  for (const path of ['/users/1', '/users/2']) assert.equal((await fetch(`${capture.url}${path}`)).status, 200);
  const captureMetrics = await scrape(capture.metricsUrl!);
  await capture.close();

  const metrics = new ReplayMetrics();
  const summary = await runReplay({ source: captures, results, target: app.url, observers: [metrics] });
  assert.ok(summary, 'replay ran to the end of the log');
  const replayServer = await serveMetrics(metrics.registry, { host: '127.0.0.1', port: 0 });
  cleanups.push(() => replayServer.close());
  exposed = new Map([...captureMetrics, ...(await scrape(replayServer.url))]);
});

test('a running capture agent and replay worker serve every documented capture and replay metric, with its type', async () => {
  const documented = await documentedMetrics();
  const expected = [...documented].filter(([name]) => /^shadowtap_(capture|replay)_/.test(name));
  assert.ok(expected.length >= 17);
  assert.deepEqual(
    expected.filter(([name, type]) => exposed.get(name) !== type).map(([name, type]) => `${name}: documented ${type}, served ${exposed.get(name) ?? 'not at all'}`),
    [],
  );
});

test('everything capture and replay serve under shadowtap_ is documented', async () => {
  const documented = await documentedMetrics();
  assert.deepEqual([...exposed.keys()].filter((name) => name.startsWith('shadowtap_') && !documented.has(name)), []);
});

test('the diff serves the documented diff metrics when it follows with --metrics-listen', async (t) => {
  const diff = (await shadowtapProgram()).commands.find((c) => c.name() === 'diff');
  if (!diff?.options.some((o) => o.long === '--metrics-listen')) {
    return t.skip('diff has no --metrics-listen yet; shadowtap_diff_pairs_total (rules, dashboard) is not served');
  }
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-diff-metrics-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'diff', '--follow', '--store', dir, '--metrics-listen', `127.0.0.1:${port}`], {
    stdio: 'ignore',
  });
  cleanups.push(async () => {
    child.kill('SIGINT');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  });
  const served = await waitFor(() => scrape(`http://127.0.0.1:${port}/metrics`).catch(() => undefined));
  const documented = await documentedMetrics();
  const expected = [...documented].filter(([name]) => name.startsWith('shadowtap_diff_'));
  assert.deepEqual(expected.filter(([name, type]) => served.get(name) !== type).map(([name]) => name), []);
});

async function listen(server: Server): Promise<{ url: string }> {
  const local = await listenLocal(server);
  cleanups.push(local.close);
  return local;
}


/** Polls until `probe` gives a value (the child process's server is up), for at most 20 s. */
async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('the diff never served /metrics');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
