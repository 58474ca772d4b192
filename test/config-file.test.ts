import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Command, Option } from 'commander';
import { addLogOptions, parsePositiveNumber, parseUrl } from '../cli/common.js';
import { applyConfigFile, checkConfigFile, programConfigCatalog } from '../cli/config-hook.js';
import { formatProblem } from '../shared/config/config-problem.js';
import { renderExampleConfig } from '../shared/config/example-config.js';
import { ShadowtapError } from '../shared/errors.js';
import { shadowtapProgram } from './helpers/deploy-program.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-config-'));
  dirs.push(dir);
  const path = join(dir, 'shadowtap.yml');
  await writeFile(path, text);
  return path;
}

interface Seen {
  opts: Record<string, unknown>;
  sources: Record<string, string | undefined>;
}

/** A program shaped like shadowtap's: a replay and a capture command, the config hook applied last. */
function program(): { program: Command; seen: Seen[] } {
  const seen: Seen[] = [];
  const record = function (this: Command) {
    const opts = this.opts();
    seen.push({ opts, sources: Object.fromEntries(Object.keys(opts).map((k) => [k, this.getOptionValueSource(k)])) });
  };
  const root = new Command('shadowtap').exitOverride().configureOutput({ writeErr: () => {} });
  addLogOptions(
    root
      .command('replay')
      .description('send captures to the shadow')
      .addOption(
        new Option('--target <url>', 'shadow base URL').env('TEST_SHADOWTAP_TARGET').argParser((v) => parseUrl(v, '--target').href).makeOptionMandatory(),
      )
      .addOption(new Option('--rate <n>', 'requests per second').argParser((v) => parsePositiveNumber(v, '--rate')))
      .addOption(new Option('--pace <mode>', 'pacing').choices(['recorded', 'asap']).default('asap'))
      .option('--follow', 'keep tailing the log'),
  ).action(record);
  addLogOptions(
    root
      .command('capture')
      .description('record traffic')
      .option('--upstream <url>', 'stable base URL')
      .option('--redact-file <file>', 'extra redaction rules')
      .option('--metrics-listen <addr>', 'Prometheus endpoint')
      .option('--redact-header <name>', 'another header to redact (repeatable)', (v: string, all: string[]) => [...all, v.toLowerCase()], []),
  ).action(record);
  applyConfigFile(root);
  return { program: root, seen };
}

// The suite runner exports KAFKA_BROKERS; these tests decide where each value comes from themselves.
delete process.env.KAFKA_BROKERS;

test('values come from flag, then environment, then config file, then default', async () => {
  const path = await configFile(['log:', '  partitions: 6', 'replay:', '  target: http://shadow:8080', '  rate: 5', '  follow: true', ''].join('\n'));

  const fromFile = program();
  await fromFile.program.parseAsync(['node', 'shadowtap', '--config', path, 'replay']);
  assert.deepEqual(fromFile.seen[0]!.opts, {
    target: 'http://shadow:8080/',
    rate: 5,
    follow: true,
    pace: 'asap',
    partitions: 6,
    store: '.shadowtap/store',
    topicPrefix: 'shadowtap.',
  });
  assert.equal(fromFile.seen[0]!.sources.rate, 'config');
  assert.equal(fromFile.seen[0]!.sources.pace, 'default');

  process.env.TEST_SHADOWTAP_TARGET = 'http://from-env:1';
  try {
    const overridden = program();
    await overridden.program.parseAsync(['node', 'shadowtap', 'replay', '--rate', '7', '--config', path]);
    assert.equal(overridden.seen[0]!.opts.target, 'http://from-env:1/');
    assert.equal(overridden.seen[0]!.sources.target, 'env');
    assert.equal(overridden.seen[0]!.opts.rate, 7);
    assert.equal(overridden.seen[0]!.sources.rate, 'cli');
  } finally {
    delete process.env.TEST_SHADOWTAP_TARGET;
  }
});

test('a mandatory option given only in the config file satisfies commander', async () => {
  const without = program();
  await assert.rejects(without.program.parseAsync(['node', 'shadowtap', 'replay']), /--target <url>' not specified/);
  const path = await configFile('replay:\n  target: http://shadow:8080\n');
  const withFile = program();
  await withFile.program.parseAsync(['node', 'shadowtap', '--config', path, 'replay']);
  assert.equal(withFile.seen.length, 1);
});

test('the command section overrides the log section; kebab-case keys and lists are accepted', async () => {
  const path = await configFile(
    ['log:', '  store: /data/log', '  brokers: [a:9092, b:9092]', 'capture:', '  store: /data/capture-log', '  metrics-listen: ":9464"', ''].join('\n'),
  );
  const { program: root, seen } = program();
  await root.parseAsync(['node', 'shadowtap', '--config', path, 'capture']);
  assert.equal(seen[0]!.opts.store, '/data/capture-log');
  assert.equal(seen[0]!.opts.brokers, 'a:9092,b:9092');
  assert.equal(seen[0]!.opts.metricsListen, ':9464');
});

test('a list for a repeatable option is one flag per item, and flags add to it', async () => {
  const path = await configFile('capture:\n  redact-header: [X-Token, X-Session]\n');
  const { program: root, seen } = program();
  await root.parseAsync(['node', 'shadowtap', '--config', path, 'capture']);
  assert.deepEqual(seen[0]!.opts.redactHeader, ['x-token', 'x-session']);
  const flagAdds = program();
  await flagAdds.program.parseAsync(['node', 'shadowtap', '--config', path, 'capture', '--redact-header', 'X-Other']);
  assert.deepEqual(flagAdds.seen[0]!.opts.redactHeader, ['x-token', 'x-session', 'x-other']);
});

test('relative paths in the file are taken from the folder of the file', async () => {
  const path = await configFile('log:\n  store: ./records\n');
  const { program: root, seen } = program();
  await root.parseAsync(['node', 'shadowtap', '--config', path, 'replay', '--target', 'http://s:1']);
  assert.equal(seen[0]!.opts.store, join(path, '..', 'records'));
});

test('config check reports every problem with its key path and line', async () => {
  const path = await configFile(
    [
      'log:',
      '  partitions: 0',
      'replay:',
      '  rate: fast',
      '  target: ftp://shadow',
      '  pace: sometimes',
      '  follow: "yes"',
      'capture:',
      '  upstrem: http://stable:8080',
      '  redact-file: missing.yml',
      'replya:',
      '  rate: 1',
      '',
    ].join('\n'),
  );
  const { problems } = checkConfigFile(program().program, path);
  assert.deepEqual(
    problems.map((p) => formatProblem('f.yml', p)),
    [
      'f.yml:2: log.partitions: must be a positive integer; got "0"',
      'f.yml:4: replay.rate: must be a positive number; got "fast"',
      'f.yml:5: replay.target: must be an http(s) URL such as http://shadow:8080; got "ftp://shadow"',
      'f.yml:6: replay.pace: must be one of recorded, asap; got "sometimes"',
      'f.yml:7: replay.follow: is a switch and must be true or false; got "yes"',
      'f.yml:9: capture.upstrem: unknown key (did you mean upstream?)',
      `f.yml:10: capture.redact-file: cannot read file "${join(path, '..', 'missing.yml')}"`,
      'f.yml:11: replya: unknown section (did you mean replay?)',
    ],
  );
});

test('an unreadable or malformed file is one problem, and running a command with it fails with a config error', async () => {
  const missing = checkConfigFile(program().program, '/nonexistent/shadowtap.yml').problems;
  assert.deepEqual(missing, [{ path: '', message: 'cannot read the config file: no such file' }]);

  const malformed = await configFile('replay:\n  rate: [1\n');
  const problems = checkConfigFile(program().program, malformed).problems;
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.message, /^not valid YAML: /);

  const bad = await configFile('replay:\n  rate: fast\n  target: nope\n');
  const { program: root, seen } = program();
  await assert.rejects(root.parseAsync(['node', 'shadowtap', '--config', bad, 'capture']), (error: unknown) => {
    assert.ok(error instanceof ShadowtapError);
    assert.equal(error.code, 'ST_CONFIG');
    assert.equal(error.message, `${bad}:2: replay.rate: must be a positive number; got "fast" (and 1 more; run \`shadowtap config check ${bad}\`)`);
    return true;
  });
  assert.equal(seen.length, 0);

  const help = program();
  let helpText = '';
  help.program.configureOutput({ writeOut: (text) => (helpText += text) });
  for (const command of help.program.commands) command.configureOutput({ writeOut: (text) => (helpText += text) });
  await assert.rejects(help.program.parseAsync(['node', 'shadowtap', '--config', bad, 'replay', '--help']), { code: 'commander.helpDisplayed' });
  assert.match(helpText, /--rate <n>/, 'help still works with a broken config file');
});

test('the example names every option, and switching on each default keeps the file valid', async () => {
  const root = program().program;
  const example = renderExampleConfig(programConfigCatalog(root));
  for (const key of ['brokers', 'store', 'topicPrefix', 'partitions', 'target', 'rate', 'pace', 'follow', 'upstream', 'metricsListen']) {
    assert.match(example, new RegExp(`^  # ${key}:`, 'm'), key);
  }
  assert.match(example, /^  # pace: asap$/m);
  assert.deepEqual(checkConfigFile(root, await configFile(example)).problems, []);
  const defaultsOn = example.replace(/^ {2}# (\w+: .+)$/gm, '  $1');
  assert.notEqual(defaultsOn, example);
  assert.deepEqual(checkConfigFile(root, await configFile(defaultsOn)).problems, []);
});

test("shadowtap's own commands: every default in the example, switched on, passes config check", async () => {
  const root = await shadowtapProgram();
  const example = renderExampleConfig(programConfigCatalog(root));
  const defaultsOn = example.replace(/^ {2}# (\w+: .+)$/gm, '  $1');
  assert.deepEqual(
    checkConfigFile(root, await configFile(defaultsOn)).problems.map((p) => formatProblem('example', p)),
    [],
  );
});
