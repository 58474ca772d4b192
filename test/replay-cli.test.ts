import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../shared/package-root.js';
import { makeCapture, readAll, startServer, tempStore, waitFor } from './helpers/replay-helpers.js';
import { freePort } from './helpers/free-port.js';

const t0 = Date.UTC(2026, 0, 1);

interface Child {
  code: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Runs `replay`/`soak` in their own process, registered on a fresh program the way cli/main.ts
 * does, so these tests do not depend on the command index.
 */
function spawnCli(args: string[]): Child {
  const dist = join(packageRoot(), 'dist');
  const url = (path: string) => pathToFileURL(join(dist, path)).href;
  const script = `
    import { Command, CommanderError } from 'commander';
    import { registerReplay } from '${url('cli/commands/replay.js')}';
    import { registerSoak } from '${url('cli/commands/soak.js')}';
    import { ShadowtapError } from '${url('shared/errors.js')}';
    const program = new Command('shadowtap').exitOverride();
    registerReplay(program);
    registerSoak(program);
    try {
      await program.parseAsync(process.argv.slice(1), { from: 'user' });
    } catch (error) {
      if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? 0 : 2;
      else if (error instanceof ShadowtapError) { process.stderr.write('shadowtap: ' + error.message + '\\n'); process.exitCode = error.exitCode; }
      else throw error;
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {
    cwd: packageRoot(),
    env: { ...process.env, KAFKA_BROKERS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return {
    code: new Promise((resolve) => child.on('close', (code) => (clearTimeout(timer), resolve(code)))),
    stdout: () => stdout,
    stderr: () => stderr,
    kill: (signal) => child.kill(signal),
  };
}


describe('replay and soak commands', () => {
  it('--help shows defaults and an example', async () => {
    // Help wraps lines; compare with whitespace collapsed.
    const flat = (text: string) => text.replace(/\s+/g, ' ');
    const replay = spawnCli(['replay', '--help']);
    assert.equal(await replay.code, 0);
    assert.match(flat(replay.stdout()), /--concurrency <n> .*?\(default: 64\)/);
    assert.match(flat(replay.stdout()), /--allow-methods <list> .*?\(default: "GET,HEAD,OPTIONS"\)/);
    assert.match(replay.stdout(), /Examples:\n\s+shadowtap replay --target/);
    const soak = spawnCli(['soak', '--help']);
    assert.equal(await soak.code, 0);
    assert.match(flat(soak.stdout()), /--compress <n> .*?\(default: 1\)/);
    assert.match(soak.stdout(), /shadowtap soak --target/);
  });

  it('refuses a missing target and --follow with --to with one line, exit 2', async () => {
    const noTarget = spawnCli(['replay', '--from', '-1h']);
    assert.equal(await noTarget.code, 2);
    assert.match(noTarget.stderr(), /--target/);
    const both = spawnCli(['replay', '--target', 'http://127.0.0.1:9', '--follow', '--to', '-1m', '--store', '/nonexistent-unused']);
    assert.equal(await both.code, 2);
    assert.equal(both.stderr().trim().split('\n').length, 1, both.stderr());
    assert.match(both.stderr(), /--follow .* drop --to/);
    const badHeader = spawnCli(['replay', '--target', 'http://127.0.0.1:9', '--set-header', 'nocolon']);
    assert.equal(await badHeader.code, 2);
    assert.match(badHeader.stderr(), /--set-header must be name:value/);
  });

  it('replays a window, prints a summary and writes --summary-json', async () => {
    const shadow = await startServer();
    const store = await tempStore();
    try {
      await store.captures.append([makeCapture('w-1', t0), makeCapture('w-2', t0 + 10), makeCapture('late', t0 + 5000)]);
      await store.captures.close();
      await store.results.close();
      const summaryFile = join(store.dir, 'summary.json');
      const run = spawnCli(['replay', '--target', shadow.url, '--store', store.dir, '--from', String(t0), '--to', String(t0 + 1000), '--summary-json', summaryFile, '--no-progress']);
      assert.equal(await run.code, 0, run.stderr());
      assert.match(run.stdout(), /sent\s+2/);
      const summary = JSON.parse(await readFile(summaryFile, 'utf8'));
      assert.equal(summary.sent, 2);
      assert.equal(summary.read, 2);
      assert.equal(shadow.seen.length, 2);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('a window replayed after another replay of the log is sent in full; a finished window run again says how to repeat it', async () => {
    const shadow = await startServer();
    const store = await tempStore();
    try {
      await store.captures.append([makeCapture('a-1', t0), makeCapture('a-2', t0 + 10), makeCapture('b-1', t0 + 5000), makeCapture('b-2', t0 + 5010)]);
      await store.captures.close();
      await store.results.close();
      const replay = (...args: string[]) => spawnCli(['replay', '--target', shadow.url, '--store', store.dir, '--no-progress', ...args]);
      const whole = replay();
      assert.equal(await whole.code, 0, whole.stderr());
      assert.match(whole.stdout(), /sent\s+4/);

      // With one shared default group the whole-log run's commits made this window send nothing.
      const window = ['--from', String(t0), '--to', String(t0 + 1000)];
      const first = replay(...window);
      assert.equal(await first.code, 0, first.stderr());
      assert.match(first.stdout(), /sent\s+2/);
      assert.equal(shadow.seen.length, 6);

      const again = replay(...window);
      assert.equal(await again.code, 0, again.stderr());
      assert.match(again.stdout(), /sent\s+0/);
      assert.match(again.stderr(), /nothing replayed: consumer group ".+" has already committed every capture of this window.*--group/);
      assert.equal(again.stderr().trim().split('\n').length, 1, again.stderr());

      const fresh = replay(...window, '--group', 'second-pass');
      assert.equal(await fresh.code, 0, fresh.stderr());
      assert.match(fresh.stdout(), /sent\s+2/);
      assert.equal(fresh.stderr(), '');
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('--follow serves metrics, and on SIGTERM drains, records what was sent and exits 0', async () => {
    const shadow = await startServer((_req, res) => setTimeout(() => res.end('slow'), 100));
    const store = await tempStore();
    const port = await freePort();
    try {
      await store.captures.append(Array.from({ length: 5 }, (_, i) => makeCapture(`f-${i}`, Date.now() + i)));
      // --from: these captures were written before the run; a new group would otherwise start after them.
      const run = spawnCli(['replay', '--target', shadow.url, '--store', store.dir, '--follow', '--from', '-1h', '--metrics-listen', `127.0.0.1:${port}`, '--no-progress']);
      await waitFor(() => shadow.seen.length >= 5, 'five requests at the shadow', 15_000);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const name of ['shadowtap_replay_sent_total', 'shadowtap_replay_lag_seconds', 'shadowtap_replay_lateness_seconds', 'shadowtap_replay_circuit_open']) {
        assert.match(metrics, new RegExp(name));
      }
      run.kill('SIGTERM');
      assert.equal(await run.code, 0, run.stderr());
      assert.match(run.stdout(), /lag\s+last/);
      const results = await readAll(store.results);
      assert.equal(results.length, 5, 'requests in flight at SIGTERM were finished and recorded');
      assert.ok(results.every((r) => r.outcome === 'response'));
      // Live mirroring commits to the one group every worker of a deployment shares.
      const groups = await readdir(join(store.dir, 'captures', 'groups'));
      assert.deepEqual(groups, ['shadowtap-replay.json']);
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });

  it('--follow with a new group starts at the end of the log: history is not replayed, new captures are', async () => {
    const shadow = await startServer();
    const store = await tempStore();
    try {
      await store.captures.append(Array.from({ length: 20 }, (_, i) => makeCapture(`old-${i}`, Date.now() - 60_000 + i, { path: `/old-${i}` })));
      const run = spawnCli(['replay', '--target', shadow.url, '--store', store.dir, '--follow', '--group', 'fresh', '--no-progress']);
      // New captures until one arrives: the worker is tailing by then, and would have sent history first.
      let n = 0;
      await waitFor(
        async () => {
          await store.captures.append([makeCapture(`new-${n}`, Date.now(), { path: `/new-${n++}` })]);
          return shadow.seen.some((r) => r.url.includes('new-'));
        },
        'a new capture at the shadow',
        30_000,
      );
      run.kill('SIGTERM');
      assert.equal(await run.code, 0, run.stderr());
      assert.deepEqual(shadow.seen.filter((r) => r.url.includes('old-')), [], 'no capture older than the run was sent');
    } finally {
      await shadow.close();
      await store.cleanup();
    }
  });
});
