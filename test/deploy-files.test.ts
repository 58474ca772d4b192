import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { packageRoot } from '../shared/package-root.js';
import { shadowtapInvocations, shadowtapProgram, unknownFlags } from './helpers/deploy-program.js';

const root = packageRoot();
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Whether a tool is on PATH; .ci/run installs docker-compose and prometheus (promtool). */
function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function run(tool: string, args: string[], cwd = root): { status: number | null; output: string } {
  const result = spawnSync(tool, args, { cwd, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test('the Dockerfile builds in one stage and runs compiled code as a non-root user in another', () => {
  const lines = read('Dockerfile')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = lines.filter((l) => /^FROM /i.test(l));
  assert.deepEqual(stages, ['FROM node:20-slim AS build', 'FROM node:20-slim AS runtime']);
  const runtime = lines.slice(lines.indexOf(stages[1]!));
  const build = lines.slice(0, lines.indexOf(stages[1]!));
  assert.ok(build.some((l) => /^RUN npm ci\b/.test(l)) && build.some((l) => /^RUN npx tsc -p tsconfig.json/.test(l)), 'build stage installs and compiles');
  assert.ok(runtime.some((l) => /^RUN npm ci --omit=dev\b/.test(l)), 'runtime stage installs production dependencies only');
  assert.ok(runtime.includes('COPY --from=build /app/dist ./dist'));
  assert.ok(runtime.includes('COPY shared/schemas ./shared/schemas'), 'the Avro schemas ship with the image');
  const users = runtime.filter((l) => /^USER /.test(l));
  assert.equal(users.length, 1);
  assert.doesNotMatch(users[0]!, /^USER (root|0)(:|$)/);
  assert.equal(runtime.filter((l) => /^ENTRYPOINT /.test(l)).at(-1), 'ENTRYPOINT ["node", "dist/cli/main.js"]');
  assert.ok(runtime.indexOf(users[0]!) > runtime.findLastIndex((l) => /^RUN /.test(l)), 'USER comes after the last RUN');
});

test('.dockerignore keeps local builds, dependencies and git out of the build context', () => {
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
  for (const entry of ['node_modules', 'dist', '.git', '.shadowtap']) assert.ok(ignored.includes(entry), entry);
  for (const needed of ['shared', 'package.json', 'package-lock.json', 'tsconfig.json', 'cli']) assert.ok(!ignored.includes(needed), needed);
});

test('docker-compose.yml is valid for docker-compose', (t) => {
  if (!has('docker-compose')) return t.skip('docker-compose is not installed (apt-get install docker-compose)');
  const { status, output } = run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
  assert.equal(status, 0, output);
});

test('docker-compose runs KRaft Kafka, capture in front of stable, replay to the shadow and a periodic diff, with real flags', async (t) => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, any> };
  const { kafka, capture, replay, diff, shadow, stable } = compose.services;
  assert.equal(kafka.image, 'apache/kafka:3.9.1');
  assert.equal(kafka.environment.KAFKA_PROCESS_ROLES, 'broker,controller');
  assert.equal(kafka.environment.KAFKA_CONTROLLER_QUORUM_VOTERS, `${kafka.environment.KAFKA_NODE_ID}@kafka:9093`);
  assert.equal(kafka.environment.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, 1);
  assert.deepEqual(stable.command.slice(0, 3), ['sample-app', '--variant', 'stable']);
  assert.deepEqual(shadow.command.slice(0, 3), ['sample-app', '--variant', 'shadow']);
  assert.equal(shadow.environment.SHADOW_MODE, 'true');
  const flag = (argv: string[], name: string) => argv[argv.indexOf(name) + 1];
  assert.equal(flag(capture.command, '--upstream'), 'http://stable:8080');
  assert.equal(flag(replay.command, '--target'), 'http://shadow:8080');
  assert.ok(replay.command.includes('--follow'));
  const diffRuns = shadowtapInvocations(diff.entrypoint, diff.command);
  assert.equal(diffRuns.length, 1);
  assert.equal(flag(diffRuns[0]!, '--format'), 'html');

  const program = await shadowtapProgram();
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.image !== 'shadowtap:local') continue;
    for (const argv of shadowtapInvocations(service.entrypoint, service.command)) {
      const unknown = unknownFlags(program, argv);
      if (unknown === null) t.diagnostic(`${name}: command ${argv[0]} is not registered yet; its flags are not checked`);
      else assert.deepEqual(unknown, [], `${name}: unknown flags`);
    }
  }
});

test('the Prometheus rules and config pass promtool, and the alerts fire on the series they should', (t) => {
  if (!has('promtool')) return t.skip('promtool is not installed (apt-get install prometheus)');
  const cwd = join(root, 'deploy', 'prometheus');
  for (const args of [['check', 'rules', 'shadowtap-rules.yml'], ['check', 'config', 'prometheus.yml'], ['test', 'rules', 'shadowtap-rules.test.yml']]) {
    const { status, output } = run('promtool', args, cwd);
    assert.equal(status, 0, `promtool ${args.join(' ')}\n${output}`);
  }
});
