import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './helpers/run-cli.js';
import { freePort } from './helpers/free-port.js';


const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');

test('an unknown flag exits 2 with a usage hint and no stack trace', async () => {
  const run = await runCli(['inspect', '--bogus']);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /unknown option '--bogus'/);
  assert.match(run.stderr, /--help/);
  noStack(run.stderr);
});

test('an unknown command exits 2', async () => {
  const run = await runCli(['frobnicate']);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /unknown command/);
});

test('a bad flag value names the flag and the fix, exit 2', async () => {
  const run = await runCli(['inspect', '--limit', 'lots']);
  assert.equal(run.code, 2);
  assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  assert.match(run.stderr, /--limit must be a positive integer; got "lots"/);
});

test('an unreachable broker exits 3 with one line naming the address tried', async () => {
  const port = await freePort();
  const run = await runCli(['inspect', '--brokers', `127.0.0.1:${port}`], { env: { KAFKA_BROKERS: '' } });
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  noStack(run.stderr);
});

test('a --store nothing was recorded to is one line and exit 2 for readers, and no folder is made', async () => {
  const store = join(tmpdir(), `shadowtap-never-written-${process.pid}-${Date.now()}`);
  for (const args of [['diff'], ['replay', '--target', 'http://127.0.0.1:9'], ['inspect']]) {
    const run = await runCli([...args, '--store', store], { env: { KAFKA_BROKERS: '' } });
    assert.equal(run.code, 2, `${args[0]}: ${run.stderr}`);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /no captures log in .*shadowtap-never-written.*shadowtap capture/);
    noStack(run.stderr);
  }
  assert.equal(existsSync(store), false);
});

test('--help shows an example', async () => {
  const run = await runCli(['inspect', '--help']);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /Example:/);
  assert.match(run.stdout, /default: "captures"/);
});

/** Every user-facing failure of every command: one line, the documented exit code, no stack trace. */
test('every command fails in one line with its documented exit code (unknown flags first, unwritable outputs, ports in use)', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-cli-failures-'));
  const store = join(dir, 'store');
  const missingDir = join(dir, 'no-such-folder');
  const target = 'http://127.0.0.1:9';
  // One capture, so readers of the store get past "nothing was recorded" and meet the failure under test.
  const seed = await runCli(['import', 'har', await writeHar(dir), '--store', store], { env: { KAFKA_BROKERS: '' } });
  assert.equal(seed.code, 0, seed.stderr);
  const cases: Array<{ args: string[]; code: number; line: RegExp }> = [
    ...['capture', 'replay', 'soak', 'diff', 'inspect', 'gate', 'demo', 'import har x.har', 'import goreplay x.gor', 'config check x.yml', 'config example'].map((command) => ({
      args: [...command.split(' '), '--bogus-flag'],
      code: 2,
      line: /unknown option '--bogus-flag'/,
    })),
    { args: ['replay'], code: 2, line: /required option '--target <url>' not specified/ },
    { args: ['soak', '--target', target, '--from', '-1h'], code: 2, line: /required option '--to <time>' not specified/ },
    { args: ['diff', '--out', join(missingDir, 'r.html')], code: 2, line: /--out .*no-such-folder.*does not exist/ },
    { args: ['diff', '--out', dir], code: 2, line: /--out .* is a folder/ },
    { args: ['diff', '--format', 'jsonl', '--out', join(missingDir, 'r.jsonl')], code: 2, line: /--out .*does not exist/ },
    { args: ['replay', '--target', target, '--summary-json', join(missingDir, 's.json')], code: 2, line: /--summary-json .*does not exist/ },
    { args: ['capture', '--listen', `127.0.0.1:${port}`, '--upstream', target], code: 2, line: /cannot listen on 127\.0\.0\.1:\d+ \(--listen\): the port is already in use/ },
    { args: ['capture', '--listen', '127.0.0.1:0', '--upstream', target, '--metrics-listen', `127.0.0.1:${port}`], code: 2, line: /\(--metrics-listen\): the port is already in use/ },
    { args: ['replay', '--target', target, '--metrics-listen', `127.0.0.1:${port}`], code: 2, line: /\(--metrics-listen\): the port is already in use/ },
    { args: ['diff', '--metrics-listen', `127.0.0.1:${port}`], code: 2, line: /\(--metrics-listen\): the port is already in use/ },
    { args: ['sample-app', '--listen', `127.0.0.1:${port}`], code: 2, line: /\(--listen\): the port is already in use/ },
    { args: ['import', 'goreplay', join(dir, 'absent.gor')], code: 2, line: /cannot read .*absent\.gor/ },
    { args: ['gate', '--report', join(dir, 'absent.json')], code: 2, line: /--report .*absent\.json/ },
  ];
  try {
    for (const { args, code, line } of cases) {
      const withStore = args[0] === 'gate' || args[0] === 'config' || args[0] === 'sample-app' || args[0] === 'demo' ? args : [...args, '--store', store];
      const run = await runCli(withStore, { env: { KAFKA_BROKERS: '' }, cwd: dir });
      const what = `shadowtap ${withStore.join(' ')}: ${run.stderr}`;
      assert.equal(run.code, code, what);
      assert.match(run.stderr, line, what);
      noStack(run.stderr);
      // Commander adds its "(run with --help for usage)" hint on a line of its own; ours fit on one.
      assert.ok(run.stderr.trim().split('\n').filter((l) => !/^\(run with --help/.test(l)).length === 1, what);
    }
    assert.equal(existsSync(missingDir), false, 'no output folder was made');
  } finally {
    busy.close();
    await rm(dir, { recursive: true, force: true });
  }
});

async function writeHar(dir: string): Promise<string> {
  const file = join(dir, 'one.har');
  const entry = {
    startedDateTime: new Date().toISOString(),
    time: 1,
    request: { method: 'GET', url: 'http://stable/a', httpVersion: 'HTTP/1.1', headers: [], queryString: [], cookies: [], headersSize: -1, bodySize: 0 },
    response: { status: 200, statusText: 'OK', httpVersion: 'HTTP/1.1', headers: [], cookies: [], content: { size: 0, mimeType: 'text/plain' }, redirectURL: '', headersSize: -1, bodySize: 0 },
    cache: {},
    timings: { send: 0, wait: 1, receive: 0 },
  };
  await writeFile(file, JSON.stringify({ log: { version: '1.2', creator: { name: 'test', version: '1' }, entries: [entry] } }));
  return file;
}
