import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { headerValue } from '../shared/records/types.js';
import { finished, rawRequest, readAll, spawnCommand, startHttpServer, waitFor, type TestServer } from './helpers/capture-helpers.js';

/** Reads the agent's JSON log on stderr until it says where it listens. */
async function listening(child: ChildProcess): Promise<{ url: string; metrics?: string; stderr: () => string }> {
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  let line: { url: string; metrics?: string } | undefined;
  await waitFor(() => {
    const found = stderr.split('\n').find((l) => l.includes('capture agent listening'));
    if (found) line = JSON.parse(found);
    if (child.exitCode !== null) throw new Error(`capture exited early: ${stderr}`);
    return Boolean(line);
  }, 'the capture agent to listen');
  return { ...line!, stderr: () => stderr };
}

describe('shadowtap capture (command)', () => {
  let stable: TestServer;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'capture-cli-'));
    stable = await startHttpServer((req, res) => {
      req.resume();
      res.end('stable says hi');
    });
  });

  after(async () => {
    await stable.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('proxies, serves metrics, and on SIGTERM drains captures into the store and exits 0', async () => {
    const store = join(dir, 'proxy-store');
    const child = spawnCommand('capture', [
      'capture', '--listen', '127.0.0.1:0', '--upstream', stable.url, '--store', store,
      '--spool-dir', join(dir, 'spool'), '--metrics-listen', '127.0.0.1:0', '--service', 'orders',
    ]);
    const exit = finished(child);
    const agent = await listening(child);
    const res = await rawRequest(agent.url, { path: '/hello?token=abc', headers: { authorization: 'Bearer cli-secret', 'x-request-id': 'cli-1' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'stable says hi');
    const metrics = await (await fetch(agent.metrics!)).text();
    assert.match(metrics, /shadowtap_capture_requests_total\{mode="proxy"\} 1/);
    assert.match(metrics, /shadowtap_capture_added_latency_seconds_count 1/);
    child.kill('SIGTERM');
    const { code } = await exit;
    assert.equal(code, 0, agent.stderr());
    assert.equal(agent.stderr().includes('cli-secret'), false, 'no secret in the logs');
    const log = await openFileLog(captureKind, { dir: store });
    const [capture, ...rest] = await readAll(log);
    await log.close();
    assert.equal(rest.length, 0);
    assert.equal(capture.clientRequestId, 'cli-1');
    assert.match(capture.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(capture.service, 'orders');
    assert.equal(capture.request.query, 'token=%5Bredacted%5D');
    assert.equal(capture.response?.body.toString(), 'stable says hi');
  });

  test('--mirror-target answers 200 at once and records the request without the -shadow host suffix', async () => {
    const store = join(dir, 'mirror-store');
    const child = spawnCommand('capture', ['capture', '--mirror-target', '--listen', '127.0.0.1:0', '--store', store, '--spool-dir', join(dir, 'spool-m')]);
    const exit = finished(child);
    const agent = await listening(child);
    const res = await rawRequest(agent.url, {
      method: 'PUT',
      path: '/orders/7',
      headers: { host: 'orders.prod.svc-shadow:8080', 'content-type': 'text/plain' },
      body: 'copy of a request',
    });
    assert.equal(res.status, 200);
    child.kill('SIGTERM');
    assert.equal((await exit).code, 0, agent.stderr());
    const log = await openFileLog(captureKind, { dir: store });
    const [capture] = await readAll(log);
    await log.close();
    assert.equal(capture.request.method, 'PUT');
    assert.equal(headerValue(capture.request.headers, 'host'), 'orders.prod.svc:8080');
    assert.equal(capture.request.body.toString(), 'copy of a request');
    assert.equal(capture.response, null);
  });

  test('a missing mode is a usage error: one line, exit code 2', async () => {
    const run = await finished(spawnCommand('capture', ['capture', '--listen', '127.0.0.1:0', '--store', join(dir, 'x')]));
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^shadowtap: capture needs either --upstream <url> .* or --mirror-target[^\n]*\n$/);
  });

  test('--help shows defaults and examples', async () => {
    const run = await finished(spawnCommand('capture', ['capture', '--help']));
    assert.equal(run.code, 0);
    assert.match(run.stdout, /--listen <addr>.*\(default:\s+":8080"\)/s);
    assert.match(run.stdout, /--drain-timeout <seconds>.*\(default: 10\)/s);
    assert.match(run.stdout, /Examples:\n {2}shadowtap capture --listen :8080 --upstream/);
  });
});
