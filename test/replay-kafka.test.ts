import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { runDiff } from '../index.js';
import { runReplay } from '../replay/replay-worker.js';
import { openLog } from '../index.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { packageRoot } from '../shared/package-root.js';
import { kafkaBrokers, randomName } from './helpers/kafka-env.js';
import { waitFor } from './helpers/wait-for.js';
import { makeCapture, startServer } from './helpers/replay-helpers.js';

function kafkaLog() {
  return { brokers: kafkaBrokers(), topicPrefix: `${randomName('replay')}.`, partitions: 3 };
}

/** Per-id count of what reached a test server (replayed requests carry x-request-id). */
function countIds(seen: { url: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of seen) {
    const id = new URL(request.url, 'http://x').searchParams.get('id')!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

test('a window by time across three partitions sends exactly the captures inside it', async () => {
  const log = kafkaLog();
  const captures = await openLog(captureKind, log);
  const results = await openLog(resultKind, log);
  const shadow = await startServer();
  try {
    const base = Date.now() - 60_000;
    await captures.append(Array.from({ length: 90 }, (_, i) => makeCapture(`w${i}`, base + i * 100, { path: '/w', query: `id=w${i}` })));
    const summary = await runReplay({ source: captures, results, target: shadow.url, fromMs: base + 2_000, toMs: base + 5_000, group: randomName('g') });
    const expected = Array.from({ length: 30 }, (_, i) => `w${i + 20}`);
    assert.deepEqual([...countIds(shadow.seen).keys()].sort(), expected.sort());
    assert.equal(summary.read, 30);
  } finally {
    await captures.close();
    await results.close();
    await shadow.close();
  }
});

test('a bounded window commits its offsets: a run stopped midway resumes where it stopped, and a finished window finds everything committed', async () => {
  const log = kafkaLog();
  const group = randomName('window');
  const captures = await openLog(captureKind, log);
  const results = await openLog(resultKind, log);
  const shadow = await startServer();
  const admin = new Kafka({ brokers: log.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const base = Date.now() - 60_000;
    const ids = Array.from({ length: 300 }, (_, i) => `b${i}`);
    await captures.append(ids.map((id, i) => makeCapture(id, base + i, { path: '/b', query: `id=${id}` })));
    const window = { source: captures, results, target: shadow.url, fromMs: base, toMs: base + ids.length, group, concurrency: 4 };

    // Stopped after some were sent: what was sent is written and committed before the run returns.
    const stop = new AbortController();
    const first = await runReplay({ ...window, signal: stop.signal, onResult: () => shadow.seen.length >= 100 && stop.abort() });
    assert.ok(first.read < ids.length, `stopped before the end (${first.read} read)`);
    const second = await runReplay(window);
    const counts = countIds(shadow.seen);
    for (const id of ids) assert.equal(counts.get(id), 1, `capture ${id} sent once over the two runs`);

    // Every partition committed up to its end: a third run of the same window has nothing left.
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [captures.name] });
    const ends = await admin.fetchTopicOffsets(captures.name);
    assert.deepEqual(
      committed!.partitions.map(({ partition, offset }) => [partition, offset]).sort(),
      ends.map(({ partition, high }) => [partition, high]).sort(),
    );
    const third = await runReplay(window);
    assert.equal(third.read, 0);
    assert.equal(first.sent + second.sent, ids.length);
  } finally {
    await admin.disconnect();
    await captures.close();
    await results.close();
    await shadow.close();
  }
});

test('three workers in one group split the partitions: no capture sent twice, none missed', async () => {
  const log = kafkaLog();
  const group = randomName('three');
  const captures = await openLog(captureKind, log);
  const results = await openLog(resultKind, log);
  const shadow = await startServer();
  const stop = new AbortController();
  const admin = new Kafka({ brokers: log.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const workers = [1, 2, 3].map(async () => {
      const source = await openLog(captureKind, log);
      const sink = await openLog(resultKind, log);
      try {
        return await runReplay({ source, results: sink, target: shadow.url, follow: true, group, signal: stop.signal });
      } finally {
        await source.close();
        await sink.close();
      }
    });
    // Live mirroring: the group settles first, then traffic arrives.
    await waitFor(
      async () => {
        const { groups } = await admin.describeGroups([group]);
        const members = groups[0]?.members ?? [];
        return groups[0]?.state === 'Stable' && members.length === 3 && members.every((m) => m.memberAssignment.length > 0);
      },
      'three stable members',
      60_000,
    );
    // A new group starts at the end of the log: traffic from now on, warm-up first.
    await captures.append([makeCapture('warm-up', Date.now(), { path: '/warm', query: 'id=warm-up' })]);
    await waitFor(() => shadow.seen.length >= 1, 'the warm-up capture', 30_000);
    const ids = Array.from({ length: 300 }, (_, i) => `c${i}`);
    await captures.append(ids.map((id) => makeCapture(id, Date.now(), { path: '/c', query: `id=${id}` })));
    await waitFor(() => countIds(shadow.seen).size >= 301, 'every capture to reach the shadow', 60_000);
    stop.abort();
    const summaries = await Promise.all(workers);
    const counts = countIds(shadow.seen);
    for (const id of ids) assert.equal(counts.get(id), 1, `capture ${id} sent once`);
    assert.equal(shadow.seen.length, 301);
    assert.ok(summaries.filter((s) => s.read > 0).length >= 2, `work was split: ${summaries.map((s) => s.read).join(', ')}`);
  } finally {
    stop.abort();
    await admin.disconnect();
    await captures.close();
    await results.close();
    await shadow.close();
  }
});

for (const mode of ['member', 'solo'] as const) {
  test(`a ${mode} follow worker SIGKILLed mid-run and restarted leaves every capture with a Result, and the diff counts each once`, async () => {
    const log = kafkaLog();
    const group = randomName('killed');
    const captures = await openLog(captureKind, log);
    const results = await openLog(resultKind, log);
    const shadow = await startServer((_req, res) => setTimeout(() => res.end('ok'), 2));
    const startMs = Date.now() - 1_000;
    const ids = Array.from({ length: 400 }, (_, i) => `k${i}`);
    await captures.append(ids.map((id, i) => makeCapture(id, startMs + i, { path: '/k', query: `id=${id}` })));
    const worker = () =>
      spawn(
        process.execPath,
        [join(packageRoot(), 'dist', 'cli', 'main.js'), 'replay', '--brokers', log.brokers.join(','), '--topic-prefix', log.topicPrefix, '--target', shadow.url, '--follow', '--from', String(startMs), '--group', group, '--concurrency', '8', ...(mode === 'solo' ? ['--solo'] : [])],
        { stdio: 'ignore' },
      );
    try {
      const first = worker();
      await waitFor(() => shadow.seen.length >= 120, 'the first worker to send some', 60_000);
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      const sentBeforeKill = shadow.seen.length;
      assert.ok(sentBeforeKill < ids.length, 'killed before it finished');
      const second = worker();
      const exited = new Promise((resolve) => second.once('exit', resolve));
      const resultIds = new Set<string>();
      const reading = new AbortController();
      const collecting = (async () => {
        for await (const entry of results.read({ follow: true, signal: reading.signal })) {
          assert.equal(entry.value.replayMode, 'follow', 'live mirroring says so in each Result');
          resultIds.add(entry.value.captureId);
        }
      })();
      await waitFor(() => ids.every((id) => resultIds.has(id)), 'a Result for every capture', 90_000);
      reading.abort();
      await collecting;
      second.kill('SIGTERM');
      await exited;

      const report = await runDiff({ captures, results, fromMs: startMs });
      assert.equal(report.totals.pairs, ids.length, 'each request id counted once');
      assert.equal(report.totals.missing, 0);
    } finally {
      await captures.close();
      await results.close();
      await shadow.close();
    }
  });
}

test('live mirroring with a new group on Kafka starts at the end of the topic: history is not replayed, new captures are', async () => {
  const log = kafkaLog();
  const captures = await openLog(captureKind, log);
  const results = await openLog(resultKind, log);
  const shadow = await startServer();
  const stop = new AbortController();
  try {
    await captures.append(Array.from({ length: 30 }, (_, i) => makeCapture(`old${i}`, Date.now() - 60_000 + i, { path: '/o', query: `id=old${i}` })));
    const replaying = runReplay({ source: captures, results, target: shadow.url, follow: true, group: randomName('fresh'), signal: stop.signal });
    let n = 0;
    await waitFor(
      async () => {
        await captures.append([makeCapture(`new${n}`, Date.now(), { path: '/n', query: `id=new${n++}` })]);
        return [...countIds(shadow.seen).keys()].some((id) => id.startsWith('new'));
      },
      'a new capture at the shadow',
      60_000,
    );
    stop.abort();
    await replaying;
    assert.deepEqual([...countIds(shadow.seen).keys()].filter((id) => id.startsWith('old')), []);
  } finally {
    stop.abort();
    await captures.close();
    await results.close();
    await shadow.close();
  }
});
