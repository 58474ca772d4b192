import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { registerDiff } from '../cli/commands/diff.js';
import type { DiffReport } from '../diff/report.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { runDiffCli } from './helpers/diff-cli-run.js';
import { capture, json, result } from './helpers/diff-pairs.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shadowtap-diff-cli-'));
  const captures = await openFileLog(captureKind, { dir: join(dir, 'store') });
  const results = await openFileLog(resultKind, { dir: join(dir, 'store') });
  await captures.append([capture('c1', '/users/1', json({ id: 1, at: 'x' })), capture('c2', '/users/2', json({ id: 2, at: 'x' }))]);
  await results.append([result('c1', json({ id: 1, at: 'x' })), result('c2', json({ id: 2, at: 'y' }))]);
  await Promise.all([captures.close(), results.close()]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => runDiffCli(join(dir, 'store'), ...args);

test('diff writes a JSON report and exits 1 on a mismatch, 0 when the field is ignored', async () => {
  const out = join(dir, 'report.json');
  assert.equal(await run('--format', 'json', '--out', out), 1);
  const report = JSON.parse(await readFile(out, 'utf8')) as DiffReport;
  assert.equal(report.totals.mismatch, 1);
  assert.deepEqual(report.fields.map((f) => f.field), ['$.at']);
  assert.equal(await run('--format', 'json', '--out', out, '--ignore', '$.at'), 0);
  assert.equal(await run('--format', 'json', '--out', out, '--fail-on', '50%'), 0);
});

test('--accept writes the differing fields to the reviewed file, which then passes', async () => {
  const reviewed = join(dir, 'reviewed.yaml');
  await writeFile(reviewed, '# reviewed by the team\ndifferences: []\n');
  const out = join(dir, 'report.md');
  assert.equal(await run('--format', 'md', '--out', out, '--accepted', reviewed, '--accept'), 1);
  const yaml = await readFile(reviewed, 'utf8');
  assert.match(yaml, /# reviewed by the team/);
  assert.match(yaml, /route: GET \/users\/\{id\}/);
  assert.match(yaml, /path: \$\.at/);
  assert.equal(await run('--format', 'md', '--out', out, '--accepted', reviewed), 0);
  assert.match(await readFile(out, 'utf8'), /✅ pass/);
});

test('bad flags are one clear usage error; jsonl streams one line per pair', async () => {
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    assert.equal(await run('--ignore', '$..*'), 2);
    assert.equal(await run('--fail-on', '2'), 2);
  } finally {
    process.stderr.write = write;
  }
  assert.match(errors.join(''), /would hide the whole body/);
  assert.match(errors.join(''), /--fail-on must be a share between 0 and 1/);
  const out = join(dir, 'pairs.jsonl');
  assert.equal(await run('--format', 'jsonl', '--out', out), 1);
  const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: string; verdict: string });
  assert.deepEqual(lines.map((l) => `${l.id}:${l.verdict}`).sort(), ['c1:match', 'c2:mismatch']);
});

test('--baseline-target: A/A results in the same log calibrate noise; bad values are usage errors', async () => {
  const store = join(dir, 'aa-store');
  const captures = await openFileLog(captureKind, { dir: store });
  const results = await openFileLog(resultKind, { dir: store });
  // $.pick differs half the time against the candidate and against a second stable alike.
  const n = 60;
  await captures.append(Array.from({ length: n }, (_, i) => capture(`a${i}`, `/items/${i}`, json({ pick: 'x' }), i)));
  await results.append(
    Array.from({ length: n }, (_, i) => [
      result(`a${i}`, json({ pick: i % 2 ? 'x' : 'y' }), i, { target: 'http://shadow:8080' }),
      result(`a${i}`, json({ pick: i % 4 < 2 ? 'x' : 'y' }), i, { target: 'http://stable-b:8080' }),
    ]).flat(),
  );
  await Promise.all([captures.close(), results.close()]);
  const out = join(dir, 'aa.json');
  assert.equal(await run('--store', store, '--format', 'json', '--out', out), 1);
  const plain = JSON.parse(await readFile(out, 'utf8')) as DiffReport;
  // Without the flag, the second stable's results look like the candidate's written twice.
  assert.deepEqual([plain.totals.mismatch, plain.totals.duplicates], [n / 2, n]);
  assert.equal(await run('--store', store, '--format', 'json', '--out', out, '--baseline-target', 'http://stable-b:8080'), 0);
  const report = JSON.parse(await readFile(out, 'utf8')) as DiffReport;
  assert.equal(report.totals.mismatch, 0);
  assert.equal(report.totals.noise, n / 2);
  assert.equal(report.baseline?.pairs, n);
  assert.deepEqual(report.baseline?.thresholds, { relative: 0.2, absolute: 0.0003 });
  // A zero relative threshold with a large absolute one still calls it noise; the flags reach the report.
  assert.equal(await run('--store', store, '--format', 'json', '--out', out, '--baseline-target', 'http://stable-b:8080', '--noise-relative', '5', '--noise-absolute', '1%'), 0);
  assert.deepEqual((JSON.parse(await readFile(out, 'utf8')) as DiffReport).baseline?.thresholds, { relative: 0.05, absolute: 0.01 });

  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    assert.equal(await run('--baseline-target', 'stable-b'), 2);
    assert.equal(await run('--noise-absolute', '150'), 2);
  } finally {
    process.stderr.write = write;
  }
  assert.match(errors.join(''), /--baseline-target must be an http\(s\) URL/);
  assert.match(errors.join(''), /--noise-absolute must be a percentage/);
});

test('--help shows defaults and an example', () => {
  const program = new Command('shadowtap');
  registerDiff(program);
  const diff = program.commands.find((c) => c.name() === 'diff')!;
  let help = '';
  diff.configureOutput({ writeOut: (text) => (help += text) });
  diff.outputHelp();
  const flat = help.replace(/\s+/g, ' ');
  assert.match(flat, /default: "text"/);
  assert.match(flat, /--join-window <n> .*default: 20000/);
  assert.match(flat, /--fail-on-mismatch-rate <rate>/);
  assert.match(flat, /--noise-relative <pct> .*default: 20/);
  assert.match(flat, /--noise-absolute <pct> .*default: 0.03/);
  assert.match(flat, /--metrics-listen <addr>/);
  assert.match(help, /Examples:\n {2}shadowtap diff /);
});
