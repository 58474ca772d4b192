import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { captureKind, resultKind, type LogEntry, type Position, type RecordKind, type RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { sampleCapture, sampleResult } from './helpers/sample-records.js';
import { waitFor } from './helpers/wait-for.js';

/**
 * What every RecordLog backend must do, run by one test file per backend (file log, Kafka):
 * a new backend is done when a test file that calls `recordLogContract` with it passes.
 */
export interface LogBackend {
  name: string;
  /** A new, empty place (a store folder, a topic prefix) where logs of 3 partitions are created. */
  place(): Promise<LogPlace>;
}

export interface LogPlace {
  open<T>(kind: RecordKind<T>): Promise<RecordLog<T>>;
  /** Appends one record of `kind` that cannot be decoded, keyed `key`, behind the log's back. */
  appendUndecodable(kind: RecordKind<Capture>, key: string): Promise<void>;
  cleanup(): Promise<void>;
}

const partitions = 3;

async function collect<T>(iterable: AsyncIterable<LogEntry<T>>): Promise<LogEntry<T>[]> {
  const entries: LogEntry<T>[] = [];
  for await (const entry of iterable) entries.push(entry);
  return entries;
}

/** Captures `<prefix>-0..n-1`, the i-th captured at `startMs + i` ms. */
const captures = (prefix: string, count: number, startMs = Date.now()): Capture[] =>
  Array.from({ length: count }, (_, i) => {
    const micros = (startMs + i) * 1000;
    return sampleCapture({ id: `${prefix}-${i}`, captureTime: micros, timings: { start: micros, firstByte: null, end: null } });
  });

const ids = <T extends { id: string }>(entries: Array<LogEntry<T>>) => entries.map((e) => e.value.id).sort();
const idsOf = (records: Capture[]) => records.map((c) => c.id).sort();

/** Follows the log in the background until aborted; `seen` fills as entries come. */
function follow<T>(log: RecordLog<T>, options: { group: string; startAtEnd?: boolean }) {
  const abort = new AbortController();
  const seen: LogEntry<T>[] = [];
  const done = (async () => {
    for await (const entry of log.read({ ...options, follow: true, signal: abort.signal })) seen.push(entry);
  })();
  return {
    seen,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

export function recordLogContract(backend: LogBackend): void {
  describe(`RecordLog contract: ${backend.name}`, () => {
    const places: LogPlace[] = [];
    const logs: RecordLog<unknown>[] = [];
    after(async () => {
      await Promise.all(logs.map((log) => log.close().catch(() => undefined)));
      await Promise.all(places.map((place) => place.cleanup()));
    });
    const place = async () => {
      const created = await backend.place();
      places.push(created);
      return created;
    };
    const open = async <T>(where: LogPlace, kind: RecordKind<T>) => {
      const log = await where.open(kind);
      logs.push(log as RecordLog<unknown>);
      return log;
    };

    test('append then read: every record once, as written, positions unique, the record\'s own time as timestamp', async () => {
      const log = await open(await place(), captureKind);
      const written = captures('rt', 30);
      await log.append(written.slice(0, 10));
      await log.append(written.slice(10));
      const entries = await collect(log.read());
      assert.deepEqual(ids(entries), idsOf(written));
      const byId = new Map(written.map((c) => [c.id, c]));
      const plain = (value: unknown) => JSON.parse(JSON.stringify(value));
      for (const entry of entries) {
        assert.deepEqual(plain(entry.value), plain(byId.get(entry.value.id)));
        assert.equal(entry.timestampMs, Math.floor(entry.value.captureTime / 1000));
      }
      assert.equal(new Set(entries.map((e) => `${e.position.partition}/${e.position.offset}`)).size, entries.length);
      assert.equal(await log.partitionCount!(), partitions);
      assert.deepEqual(new Set(entries.map((e) => e.position.partition)), new Set([0, 1, 2]));
    });

    test('a capture and its results share a partition number', async () => {
      const where = await place();
      const captureLog = await open(where, captureKind);
      const resultLog = await open(where, resultKind);
      const written = captures('pair', 30);
      await captureLog.append(written);
      await resultLog.append(written.map((c) => sampleResult({ id: `res-${c.id}`, captureId: c.id })));
      const partitionOf = new Map((await collect(captureLog.read())).map((e) => [e.value.id, e.position.partition]));
      const results = await collect(resultLog.read());
      assert.equal(results.length, written.length);
      for (const entry of results) assert.equal(entry.position.partition, partitionOf.get(entry.value.captureId));
    });

    test('a read of some partitions returns exactly their records', async () => {
      const log = await open(await place(), captureKind);
      const written = captures('part', 30);
      await log.append(written);
      const all = await collect(log.read());
      const some = await collect(log.read({ partitions: [0, 2] }));
      assert.deepEqual(ids(some), ids(all.filter((e) => e.position.partition !== 1)));
    });

    test('a time window returns the records captured inside [from, to)', async () => {
      const log = await open(await place(), captureKind);
      const start = Date.now() - 60_000;
      const written = captures('win', 20, start);
      await log.append(written);
      const entries = await collect(log.read({ fromMs: start + 5, toMs: start + 12 }));
      assert.deepEqual(ids(entries), idsOf(written.slice(5, 12)));
    });

    test('a group resumes after what it committed, per partition', async () => {
      const log = await open(await place(), captureKind);
      const written = captures('grp', 30);
      await log.append(written);
      const group = `contract-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      const first = await collect(log.read({ group }));
      // Commit the first half of what each partition returned: the other half is read again.
      const byPartition = new Map<number, LogEntry<Capture>[]>();
      for (const entry of first) byPartition.set(entry.position.partition, [...(byPartition.get(entry.position.partition) ?? []), entry]);
      const committed: Position[] = [];
      const left: LogEntry<Capture>[] = [];
      for (const entries of byPartition.values()) {
        entries.sort((a, b) => a.position.offset - b.position.offset);
        const half = Math.floor(entries.length / 2);
        committed.push(...entries.slice(0, half).map((e) => e.position));
        left.push(...entries.slice(half));
      }
      await log.commit(group, committed);
      assert.deepEqual(ids(await collect(log.read({ group }))), ids(left));
      await log.commit(group, left.map((e) => e.position));
      const more = captures('grp-more', 6);
      await log.append(more);
      assert.deepEqual(ids(await collect(log.read({ group }))), idsOf(more));
    });

    test('a follow read delivers records appended while it runs, and ends on abort', { timeout: 120_000 }, async () => {
      const log = await open(await place(), captureKind);
      const before = captures('old', 5);
      await log.append(before);
      const reading = follow(log, { group: `contract-follow-${Math.random().toString(36).slice(2)}` });
      const later = captures('new', 10);
      await log.append(later);
      await waitFor(() => reading.seen.length >= 15, 'the records written before and during the read', 60_000);
      await reading.stop();
      assert.deepEqual(ids(reading.seen), idsOf([...before, ...later]));
    });

    test('startAtEnd: a new group following from the end gets only records appended after the read began', { timeout: 120_000 }, async () => {
      const log = await open(await place(), captureKind);
      await log.append(captures('history', 10));
      const reading = follow(log, { group: `contract-end-${Math.random().toString(36).slice(2)}`, startAtEnd: true });
      // Fresh records until one arrives: the read has begun by then.
      let n = 0;
      await waitFor(
        async () => {
          await log.append(captures(`fresh${n++}`, 1));
          return reading.seen.length > 0;
        },
        'a record appended after the read began',
        60_000,
      );
      await reading.stop();
      assert.ok(reading.seen.every((e) => e.value.id.startsWith('fresh')), `history was read: ${ids(reading.seen).join(', ')}`);
    });

    test('an undecodable record is told as a dead letter once and reading goes on', async () => {
      const where = await place();
      const written = captures('dl', 4);
      // Closed around the foreign write: a file log has one appender at a time.
      const first = await where.open(captureKind);
      await first.append(written.slice(0, 2));
      await first.close();
      await where.appendUndecodable(captureKind, 'poison');
      const log = await open(where, captureKind);
      await log.append(written.slice(2));
      const dead: Position[] = [];
      const entries = await collect(log.read({ onDeadLetter: (position) => dead.push(position) }));
      assert.deepEqual(ids(entries), idsOf(written));
      assert.equal(dead.length, 1);
      assert.ok(!entries.some((e) => e.position.partition === dead[0]!.partition && e.position.offset === dead[0]!.offset));
    });

    test('close waits for the appends in flight: all of them are read after reopening', async () => {
      const where = await place();
      const log = await where.open(captureKind);
      const written = captures('close', 20);
      const appended = Promise.all([log.append(written.slice(0, 10)), log.append(written.slice(10))]);
      await log.close();
      await appended;
      const reopened = await open(where, captureKind);
      assert.deepEqual(ids(await collect(reopened.read())), idsOf(written));
    });
  });
}
