import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
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
