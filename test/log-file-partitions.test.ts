import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Partitioners } from 'kafkajs';
import { openFileLog } from '../shared/log/file-log.js';
import { partitionOf } from '../shared/log/key-partitioner.js';
import { captureKind, resultKind, type LogEntry } from '../shared/log/record-log.js';
import { sampleCapture, sampleResult } from './helpers/sample-records.js';
import { waitFor } from './helpers/wait-for.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempStore(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-partitions-'));
  dirs.push(dir);
  return dir;
}

async function collect<T>(iterable: AsyncIterable<LogEntry<T>>): Promise<LogEntry<T>[]> {
  const out: LogEntry<T>[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

const captures = (n: number) => Array.from({ length: n }, (_, i) => sampleCapture({ id: `req-${i}`, captureTime: (1_000_000 + i) * 1000 }));

test('a key goes to the partition Kafka\'s default partitioner (kafkajs, the Java client) picks', () => {
  const kafka = Partitioners.DefaultPartitioner();
  for (let n = 0; n < 2000; n++) {
    const key = n % 3 === 0 ? randomUUID() : `k${'é'.repeat(n % 7)}${n}`;
    for (const partitions of [1, 2, 3, 6, 12]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
      const expected = kafka({ topic: 't', partitionMetadata, message: { key, value: null } });
      assert.equal(partitionOf(key, partitions), expected, `key ${key}, ${partitions} partitions`);
    }
  }
});

test('a partitioned store: each capture and its result share a partition; offsets count per partition; all of it reads back', async () => {
  const store = await tempStore();
  const captureLog = await openFileLog(captureKind, { dir: store, partitions: 4 });
  const resultLog = await openFileLog(resultKind, { dir: store, partitions: 4 });
  const written = captures(60);
  await captureLog.append(written);
  await resultLog.append(written.map((c) => sampleResult({ id: `res-${c.id}`, captureId: c.id })));
  assert.equal(await captureLog.partitionCount!(), 4);
  const readCaptures = await collect(captureLog.read());
  const readResults = await collect(resultLog.read());
  assert.deepEqual(readCaptures.map((e) => e.value.id).sort(), written.map((c) => c.id).sort());
  const partitionOfCapture = new Map(readCaptures.map((e) => [e.value.id, e.position.partition]));
  for (const entry of readResults) assert.equal(entry.position.partition, partitionOfCapture.get(entry.value.captureId), `result of ${entry.value.captureId}`);
  for (const entry of readCaptures) assert.equal(entry.position.partition, partitionOf(entry.value.id, 4));
  for (let partition = 0; partition < 4; partition++) {
    const offsets = readCaptures.filter((e) => e.position.partition === partition).map((e) => e.position.offset);
    assert.ok(offsets.length > 0, `partition ${partition} holds records`);
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${partition} offsets are consecutive from 0`);
  }
  assert.deepEqual((await readdir(join(store, 'captures'))).filter((name) => name.startsWith('partition-')).sort(), ['partition-1', 'partition-2', 'partition-3']);
  await captureLog.close();
  await resultLog.close();
  const reopened = await openFileLog(captureKind, { dir: store, partitions: 2 });
  assert.equal(await reopened.partitionCount!(), 4, 'an existing store keeps the count it was created with');
  await reopened.close();
});

test('two workers reading disjoint partitions split the store, and each resumes after its own commits', async () => {
  const store = await tempStore();
  const log = await openFileLog(captureKind, { dir: store, partitions: 4 });
  await log.append(captures(40));
  const first = await collect(log.read({ partitions: [0, 1], group: 'g' }));
  const second = await collect(log.read({ partitions: [2, 3], group: 'g' }));
  assert.ok(first.every((e) => e.position.partition < 2) && second.every((e) => e.position.partition >= 2));
  assert.deepEqual([...first, ...second].map((e) => e.value.id).sort(), captures(40).map((c) => c.id).sort(), 'no record read by both, none by neither');
  // Worker one commits all it read, worker two only its first record: neither commit overwrites the other.
  await log.commit('g', first.map((e) => e.position));
  await log.commit('g', [second[0]!.position]);
  await log.append(captures(50).slice(40));
  const again = await collect(log.read({ group: 'g' }));
  const expected = [...second.slice(1).map((e) => e.value.id), ...captures(50).slice(40).map((c) => c.id)];
  assert.deepEqual(again.map((e) => e.value.id).sort(), expected.sort());
  await assert.rejects(collect(log.read({ partitions: [4] })), /partition 4 is not one of the 4 partitions/);
  await log.close();
});

test('a follow read of several partitions delivers records appended to any of them', async () => {
  const store = await tempStore();
  const writer = await openFileLog(captureKind, { dir: store, partitions: 3 });
  const reader = await openFileLog(captureKind, { dir: store, pollMs: 10 });
  const abort = new AbortController();
  const seen: string[] = [];
  const reading = (async () => {
    for await (const entry of reader.read({ follow: true, signal: abort.signal })) seen.push(entry.value.id);
  })();
  const written = captures(30);
  await writer.append(written);
  await waitFor(() => seen.length === 30, 'all 30 records followed');
  abort.abort();
  await reading;
  assert.deepEqual(seen.sort(), written.map((c) => c.id).sort());
  await writer.close();
  await reader.close();
});

test('a store of one partition keeps the single-folder layout older stores have', async () => {
  const store = await tempStore();
  const log = await openFileLog(captureKind, { dir: store });
  await log.append(captures(5));
  await log.commit('g', [{ partition: 0, offset: 2 }]);
  const names = await readdir(join(store, 'captures'));
  assert.ok(!names.some((name) => name.startsWith('partition-')));
  assert.deepEqual(await readdir(join(store, 'captures', 'groups')), ['g.json']);
  assert.deepEqual((await collect(log.read({ group: 'g' }))).map((e) => e.position), [3, 4].map((offset) => ({ partition: 0, offset })));
  await log.close();
});
