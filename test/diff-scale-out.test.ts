import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { DiffReport } from '../diff/report.js';
import { buildGroupReport } from '../diff/scale-out/group-report.js';
import { scaleOutTopics } from '../diff/scale-out/state-topic.js';
import { verdictCodec, verdictOf, type Verdict } from '../diff/scale-out/verdict-record.js';
import { kafkaReadLimits } from '../shared/log/kafka-read-limits.js';
import { readPartitions } from '../shared/log/kafka-read-partitions.js';
import { createCluster } from '../shared/log/kafkajs-cluster.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { decodeFramed } from '../shared/records/schema-registry.js';
import type { Capture, Result } from '../shared/records/types.js';
import { baseMs } from './helpers/diff-pairs.js';
import { recentStartMs, routeCounts, scaleOutRecords, scrapedPairsByRoute, startDiffWorker, withoutTime, type WorkerProcess } from './helpers/diff-workers.js';
import { kafkaBrokers, randomName, rawMessages } from './helpers/kafka-env.js';
import { startFakeSchemaRegistry } from './helpers/fake-schema-registry.js';
import { runCli } from './helpers/run-cli.js';
import { waitFor } from './helpers/wait-for.js';

const brokers = kafkaBrokers();
const startMs = recentStartMs();
const startWorker = (prefix: string, group: string, extra: string[] = []) => startDiffWorker(group, ['--brokers', brokers.join(','), '--topic-prefix', prefix], extra);

/** Every committed verdict of the topic (read_committed: an aborted transaction's are never seen). */
async function committedVerdicts(topic: string): Promise<Verdict[]> {
  const kafka = new Kafka({ clientId: 'shadowtap-test-verdicts', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const cluster = createCluster(kafka);
  await admin.connect();
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const offsets = await admin.fetchTopicOffsets(topic);
    const verdicts: Verdict[] = [];
    const entries = readPartitions<Verdict>(
      {
        cluster,
        topic,
        decode: (message) => verdictCodec.decode(message.value!),
        deadLetter: async () => undefined,
        earliest: async () => 0,
        ranges: new Map(offsets.map(({ partition, low, high }) => [partition, { start: Number(low), end: Number(high) }])),
        limits: kafkaReadLimits,
        failure: (error) => error as Error,
      },
      {},
    );
    for await (const entry of entries) verdicts.push(entry.value);
    return verdicts;
  } finally {
    await admin.disconnect();
    await cluster.disconnect();
  }
}


test('3 diff workers over 6 partitions, one SIGKILLed mid-run and one added later, report what one diff reports (references paired, a window of capture time too), each pair once', { timeout: 280_000 }, async () => {
  const prefix = `${randomName('scale')}.`;
  const group = randomName('diff-group');
  const topics = scaleOutTopics(prefix);
  const captures = await openLog<Capture>(captureKind, { brokers, topicPrefix: prefix, partitions: 6 });
  const results = await openLog<Result>(resultKind, { brokers, topicPrefix: prefix, partitions: 6 });
  const first = scaleOutRecords(startMs, 0, 1500);
  const second = scaleOutRecords(startMs, 1500, 600);
  const workers: WorkerProcess[] = [];
  try {
    await captures.append(first.captures);
    await results.append(first.results);

    workers.push(startWorker(prefix, group, ['--slice', '1m']), startWorker(prefix, group, ['--slice', '1m']), startWorker(prefix, group, ['--slice', '1m']));
    const victim = workers[2]!;
    // Killed once it owns partitions and the group has committed part of the work.
    await waitFor(() => /owns partitions \d/.test(victim.stderr()), 'the third worker to own partitions', 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; its stderr: ${victim.stderr()}`);
    });
    await waitFor(async () => (await buildGroupReport({ source: { brokers, topicPrefix: prefix }, group }).catch(() => undefined))?.report.totals.pairs! > 300, 'a third of the pairs committed', 60_000);
    victim.child.kill('SIGKILL');
    assert.equal(await victim.exited, null);

    await captures.append(second.captures);
    await results.append(second.results);
    workers.push(startWorker(prefix, group, ['--slice', '1m']));
    const late = workers[3]!;
    await waitFor(() => /owns partitions \d/.test(late.stderr()), 'the added worker to own partitions', 60_000);

    const single = await runCli(['diff', '--brokers', brokers.join(','), '--topic-prefix', prefix, '--format', 'json'], { timeoutMs: 150_000 });
    // Mismatches breach the default threshold: exit 1, for one diff as for the group's report.
    assert.equal(single.code, 1, single.stderr);
    const expected = JSON.parse(single.stdout) as DiffReport;
    assert.equal(expected.totals.pairs, 2100);
    assert.ok(expected.totals.mismatch > 0 && expected.totals['shadow-error'] > 0 && expected.totals.missing > 0 && expected.totals.duplicates > 0 && expected.totals.unpaired > 0);
    // Every reference met its shadow result: request-only captures were compared with the reference's answer.
    assert.equal(expected.totals.unmatchedReferences, 0);
    assert.equal(expected.totals['no-baseline'], 0);

    // Every partition has committed all of its records once the merged totals match.
    await waitFor(
      async () => {
        const merged = await buildGroupReport({ source: { brokers, topicPrefix: prefix }, group }).catch(() => undefined);
        return merged?.partitions.length === 6 && merged.report.totals.pairs === expected.totals.pairs && merged.report.totals.duplicates === expected.totals.duplicates;
      },
      'the group to commit every pair',
      60_000,
    );
    for (const worker of [workers[0]!, workers[1]!, late]) worker.child.kill('SIGTERM');
    for (const worker of [workers[0]!, workers[1]!, late]) assert.equal(await worker.exited, 0, worker.stderr());

    const report = await runCli(['report', '--group', group, '--brokers', brokers.join(','), '--topic-prefix', prefix, '--format', 'json'], { timeoutMs: 150_000 });
    assert.equal(report.code, 1, report.stderr);
    // Every count, field statistic, sample and latency percentile: the whole report.
    assert.deepEqual(withoutTime(JSON.parse(report.stdout) as DiffReport), withoutTime(expected));

    // A window of capture time, on minute bounds (the workers' --slice 1m): what one diff over that window prints.
    const window = ['--from', new Date(baseMs + startMs - 100 + 2 * 60_000).toISOString(), '--to', new Date(baseMs + startMs - 100 + 5 * 60_000).toISOString()];
    const singleWindow = await runCli(['diff', '--brokers', brokers.join(','), '--topic-prefix', prefix, '--format', 'json', ...window], { timeoutMs: 150_000 });
    const reportWindow = await runCli(['report', '--group', group, '--brokers', brokers.join(','), '--topic-prefix', prefix, '--format', 'json', ...window], { timeoutMs: 150_000 });
    assert.equal(reportWindow.code, singleWindow.code, reportWindow.stderr);
    const expectedWindow = JSON.parse(singleWindow.stdout) as DiffReport;
    assert.equal(expectedWindow.totals.pairs, 900);
    assert.deepEqual(withoutTime(JSON.parse(reportWindow.stdout) as DiffReport), withoutTime(expectedWindow));

    // Each judged pair is one committed verdict, whatever the SIGKILL left open.
    const verdicts = await committedVerdicts(topics.verdicts);
    const ids = verdicts.map((v) => v.id);
    assert.equal(new Set(ids).size, ids.length, 'a pair was written twice to the verdicts topic');
    // Pairs not judged as verdicts yet (captures never answered, shadow results still waiting for a reference) are judged by the report.
    assert.equal(ids.length, expected.totals.pairs - (await buildGroupReport({ source: { brokers, topicPrefix: prefix }, group })).pendingPairs);
  } finally {
    for (const worker of workers) worker.child.kill('SIGKILL');
    await captures.close();
    await results.close();
  }
});

test("the Prometheus metrics of every worker of a group add up, by route, to one diff's counts", { timeout: 120_000 }, async () => {
  const prefix = `${randomName('scale-metrics')}.`;
  const group = randomName('diff-group');
  const captures = await openLog<Capture>(captureKind, { brokers, topicPrefix: prefix, partitions: 4 });
  const results = await openLog<Result>(resultKind, { brokers, topicPrefix: prefix, partitions: 4 });
  // Every capture answered and no reference to wait for: each pair is then a committed verdict, which is what workers count.
  const { captures: c, results: r } = scaleOutRecords(startMs, 0, 800, { unanswered: false, references: false });
  const workers: WorkerProcess[] = [];
  try {
    await captures.append(c);
    await results.append(r);
    workers.push(startWorker(prefix, group, ['--metrics-listen', '127.0.0.1:0']), startWorker(prefix, group, ['--metrics-listen', '127.0.0.1:0']));
    const single = await runCli(['diff', '--brokers', brokers.join(','), '--topic-prefix', prefix, '--format', 'json'], { timeoutMs: 60_000 });
    const expected = JSON.parse(single.stdout) as DiffReport;
    await waitFor(
      async () => (await buildGroupReport({ source: { brokers, topicPrefix: prefix }, group }).catch(() => undefined))?.report.totals.pairs === expected.totals.pairs && workers.every((w) => /owns partitions \d/.test(w.stderr())),
      'both workers to own partitions and commit every pair',
      60_000,
    );
    const wanted = routeCounts(expected);
    assert.equal(wanted.size, 2);
    assert.deepEqual(await scrapedPairsByRoute(workers), wanted);
    for (const worker of workers) worker.child.kill('SIGTERM');
    for (const worker of workers) assert.equal(await worker.exited, 0, worker.stderr());
  } finally {
    for (const worker of workers) worker.child.kill('SIGKILL');
    await captures.close();
    await results.close();
  }
});

test('diff --group refuses topics with different partition counts, and a group run it cannot do, in one line with exit 2', { timeout: 60_000 }, async () => {
  const prefix = `${randomName('scale-bad')}.`;
  const captures = await openLog<Capture>(captureKind, { brokers, topicPrefix: prefix, partitions: 3 });
  const results = await openLog<Result>(resultKind, { brokers, topicPrefix: prefix, partitions: 2 });
  await Promise.all([captures.close(), results.close()]);
  const group = randomName('diff-group');
  const kafka = ['--brokers', brokers.join(','), '--topic-prefix', prefix];

  const unequal = await runCli(['diff', '--follow', '--group', group, ...kafka]);
  assert.equal(unequal.code, 2);
  assert.match(unequal.stderr, /same partition count.*captures has 3, .*results has 2/);
  assert.equal(unequal.stderr.trim().split('\n').length, 1, unequal.stderr);

  const noFollow = await runCli(['diff', '--group', group, ...kafka]);
  assert.equal(noFollow.code, 2);
  assert.match(noFollow.stderr, /--group needs --follow/);

  const noGroup = await runCli(['report', '--group', group, ...kafka]);
  assert.equal(noGroup.code, 2);
  assert.match(noGroup.stderr, new RegExp(`no state of diff group ${group}`));
});

test('a verdict record names where answers differ, never a value, the URL or its query', () => {
  const verdict = verdictOf(
    {
      id: 'r1',
      captureId: 'r1',
      method: 'GET',
      url: '/users/1?api_key=sk_live_query_secret',
      route: 'GET /users/{id}',
      verdict: 'mismatch',
      differences: [{ kind: 'body', path: '$.token', change: 'value-changed', severity: 'value' }],
      redactedFields: 1,
      latency: { basis: 'live', stableMs: 1.5, shadowMs: 2 },
    },
    1_764_000_000_000,
  );
  const bytes = verdictCodec.encode(verdict);
  assert.deepEqual(JSON.parse(JSON.stringify(verdictCodec.decode(bytes))), verdict);
  assert.equal(bytes.includes('sk_live'), false);
  assert.equal(bytes.includes('/users/1'), false);
  assert.equal(verdict.stableMs, 1.5);
  assert.equal(verdict.differences[0]!.path, '$.token');
});

test('with --schema-registry, a diff worker writes verdicts in the registry wire format, under <topic>-value, as Kafka Connect reads them', { timeout: 60_000 }, async () => {
  const registry = await startFakeSchemaRegistry();
  const prefix = `${randomName('scale-sr')}.`;
  const group = randomName('diff-group');
  const captures = await openLog<Capture>(captureKind, { brokers, topicPrefix: prefix, partitions: 2 });
  const results = await openLog<Result>(resultKind, { brokers, topicPrefix: prefix, partitions: 2 });
  const { captures: c, results: r } = scaleOutRecords(startMs, 0, 20);
  let worker: WorkerProcess | undefined;
  try {
    await captures.append(c);
    await results.append(r);
    worker = startWorker(prefix, group, ['--schema-registry', registry.url]);
    const topic = scaleOutTopics(prefix).verdicts;
    await waitFor(() => /owns partitions \d/.test(worker!.stderr()), 'the worker to own its partitions', 30_000);
    const messages = await rawMessages(topic, 1);
    const { schemaId, body } = decodeFramed(messages[0]!.value!);
    assert.equal(registry.schemas[schemaId - 1], JSON.stringify(verdictCodec.type.schema()));
    assert.ok(registry.requests.includes(`POST /subjects/${encodeURIComponent(topic)}-value/versions`));
    assert.equal(verdictCodec.decode(body).route.startsWith('GET /'), true);
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.stderr());
  } finally {
    worker?.child.kill('SIGKILL');
    await captures.close();
    await results.close();
    await registry.close();
  }
});
