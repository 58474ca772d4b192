import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from './helpers/run-cli.js';

/** `shadowtap config …` and `--config` as a user runs them, through the built CLI. */

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'shadowtap-config-cli-'))));
after(() => rm(dir, { recursive: true, force: true }));

async function wired(t: { skip: (reason: string) => void }): Promise<boolean> {
  const probe = await runCli(['config', 'example']);
  if (probe.code !== 0 && /unknown command/.test(probe.stderr)) {
    t.skip('cli/main.ts does not register `config` and applyConfigFile yet');
    return false;
  }
  return true;
}

test('config example prints a file that config check accepts', async (t) => {
  if (!(await wired(t))) return;
  const example = await runCli(['config', 'example']);
  assert.equal(example.code, 0, example.stderr);
  assert.match(example.stdout, /^log:$/m);
  const path = join(dir, 'example.yml');
  await writeFile(path, example.stdout);
  const check = await runCli(['config', 'check', path]);
  assert.equal(check.code, 0, check.stderr);
  assert.equal(check.stdout, `${path}: ok\n`);
  const fromEnv = await runCli(['config', 'check'], { env: { SHADOWTAP_CONFIG: path } });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
});

test('config check lists every problem and exits 2; any command run with that file fails in one line', async (t) => {
  if (!(await wired(t))) return;
  const path = join(dir, 'bad.yml');
  await writeFile(path, 'log:\n  partitions: none\n  stor: /data\ngate:\n  max-error-rate: 2\n');
  const check = await runCli(['config', 'check', path]);
  assert.equal(check.code, 2);
  assert.deepEqual(check.stderr.trim().split('\n'), [
    `${path}:2: log.partitions: must be a positive integer; got "none"`,
    `${path}:3: log.stor: unknown key (did you mean store?)`,
    `${path}:5: gate.max-error-rate: must be a share between 0 and 1 (0.01 = 1%); got "2"`,
    `3 problems in ${path}`,
  ]);

  const gate = await runCli(['--config', path, 'gate', '--report', 'r.json']);
  assert.equal(gate.code, 2);
  assert.equal(gate.stderr, `shadowtap: ${path}:2: log.partitions: must be a positive integer; got "none" (and 2 more; run \`shadowtap config check ${path}\`)\n`);
});
