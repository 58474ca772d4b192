import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { ShadowtapError } from '../shared/errors.js';
import { openKafkaLog } from '../shared/log/kafka-log.js';
import { captureKind, type LogEntry, type Position, type RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { kafkaBrokers, randomName, rawMessages } from './helpers/kafka-env.js';
import { sampleCapture } from './helpers/sample-records.js';
import { waitFor as waitForCondition } from './helpers/wait-for.js';

const brokers = kafkaBrokers();
const kafka = new Kafka({ clientId: 'shadowtap-test', brokers, logLevel: logLevel.NOTHING });
const openLogs: RecordLog<Capture>[] = [];

after(async () => {
  await Promise.all(openLogs.map((log) => log.close()));
});

async function openCaptures(compression?: 'none' | 'gzip' | 'auto', topicPrefix = `${randomName('test')}.`): Promise<RecordLog<Capture>> {
  const log = await openKafkaLog(captureKind, { brokers, topicPrefix, partitions: 3, clientId: 'shadowtap-test', compression });
  openLogs.push(log);
  return log;
}

/** Captures with ids `<prefix>-0..n-1`, the i-th captured at `startMs + i * stepMs`. */
function captures(prefix: string, count: number, startMs = Date.now(), stepMs = 1): Capture[] {
  return Array.from({ length: count }, (_, i) => {
    const micros = (startMs + i * stepMs) * 1000;
    return sampleCapture({ id: `${prefix}-${i}`, captureTime: micros, timings: { start: micros, firstByte: null, end: null } });
  });
}

async function collect(iterable: AsyncIterable<LogEntry<Capture>>): Promise<LogEntry<Capture>[]> {
  const entries: LogEntry<Capture>[] = [];
  for await (const entry of iterable) entries.push(entry);
  return entries;
}

const ids = (entries: LogEntry<Capture>[]) => entries.map((entry) => entry.value.id).sort();
const idsOf = (records: Capture[]) => records.map((capture) => capture.id).sort();


/** Waits until `group` has settled with `members` members. */
async function groupStable(group: string, members: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(async () => {
      const { groups } = await admin.describeGroups([group]);
      return groups[0]?.state === 'Stable' && groups[0].members.length === members;
    }, `${members} readers to join group ${group}`);
  } finally {
    await admin.disconnect();
  }
}

describe('Kafka record log', () => {
  test('a solo follow reads every partition without joining its group, commits from outside and is resumed by the next run', async () => {
    const log = await openCaptures();
    const group = randomName('group');
    await log.append(captures('history', 6));
    const abort = new AbortController();
    const seen: LogEntry<Capture>[] = [];
    const reading = (async () => {
      for await (const entry of log.read({ group, follow: true, solo: true, startAtEnd: true, signal: abort.signal })) {
        seen.push(entry);
        await log.commit(group, [entry.position]);
      }
    })();
    // Fresh records until one arrives: the read has begun by then.
    let n = 0;
    await waitFor(async () => {
      await log.append(captures(`fresh${n++}`, 1));
      return seen.length > 0;
    }, 'a record appended after the solo read began');
    const written = captures('live', 30);
    await log.append(written);
    await waitFor(() => seen.some((e) => e.value.id === 'live-29') && written.every((c) => seen.some((e) => e.value.id === c.id)), 'every live record');
    const admin = kafka.admin();
    await admin.connect();
    const { groups } = await admin.describeGroups([group]);
    await admin.disconnect();
    abort.abort();
    await reading;

    assert.equal(groups[0]?.members.length ?? 0, 0, 'the solo read joined its group');
    assert.ok(!seen.some((e) => e.value.id.startsWith('history')), `history was read: ${ids(seen).join(', ')}`);
    assert.equal(new Set(ids(seen)).size, seen.length, 'a record came twice');
    assert.equal(new Set(seen.map((e) => e.position.partition)).size, 3, 'every partition is read');
    const after = captures('after', 5);
    await log.append(after);
    const resumed = await collect(log.read({ group }));
    assert.deepEqual(ids(resumed), idsOf(after));
  });

  test('a solo follow is refused while its group has members, and stops at its next commit once one joins', async () => {
    const topicPrefix = `${randomName('test')}.`;
    const log = await openCaptures(undefined, topicPrefix);
    // Another worker: the same topic through a client of its own.
    const elsewhere = await openCaptures(undefined, topicPrefix);
    const group = randomName('group');
    const abort = new AbortController();
    const member = (async () => {
      for await (const entry of elsewhere.read({ group, follow: true, signal: abort.signal })) void entry;
    })();
    await groupStable(group, 1);
    await assert.rejects(
      collect(log.read({ group, follow: true, solo: true })),
      (error: unknown) => error instanceof ShadowtapError && error.code === 'ST_USAGE' && /has 1 member .*without --solo/.test(error.message),
    );
    abort.abort();
    await member;

    const other = randomName('group');
    const soloAbort = new AbortController();
    const seen: LogEntry<Capture>[] = [];
    const solo = (async () => {
      for await (const entry of log.read({ group: other, follow: true, solo: true, signal: soloAbort.signal })) seen.push(entry);
    })();
    const joinAbort = new AbortController();
    const joined = (async () => {
      for await (const entry of elsewhere.read({ group: other, follow: true, signal: joinAbort.signal })) void entry;
    })();
    await groupStable(other, 1);
    await log.append(captures('both', 3));
    await waitFor(() => seen.length > 0, 'a record read by the solo follow');
    await assert.rejects(
      log.commit(other, [seen[0]!.position]),
      (error: unknown) => error instanceof ShadowtapError && error.code === 'ST_RUNTIME' && /a worker joined the group/.test(error.message),
    );
    soloAbort.abort();
    joinAbort.abort();
    await Promise.all([solo, joined]);
  });

  // auto leaves batches this small uncompressed; gzip compresses every batch.
  for (const compression of ['auto', 'gzip'] as const) {
    test(`records come back as written, from every partition (compression ${compression})`, async () => {
      const log = await openCaptures(compression);
      const written = captures('rt', 20);
      await log.append(written.slice(0, 12));
      await log.append(written.slice(12));

      const entries = await collect(log.read());

      assert.deepEqual(ids(entries), idsOf(written));
      // Avro decodes into record classes; compare the data only.
      const plain = (value: unknown) => JSON.parse(JSON.stringify(value));
      const byId = new Map(written.map((capture) => [capture.id, capture]));
      for (const entry of entries) {
        assert.deepEqual(plain(entry.value), plain(byId.get(entry.value.id)));
        assert.equal(entry.timestampMs, Math.floor(entry.value.captureTime / 1000));
      }
      assert.deepEqual(new Set(entries.map((entry) => entry.position.partition)), new Set([0, 1, 2]));
      // A plain kafkajs consumer reads the same records.
      const raw = await rawMessages(log.name, written.length);
      assert.deepEqual(raw.map((m) => captureKind.codec.decode(m.value!).id).sort(), idsOf(written));
    });
  }

  test('messages are keyed by request id and name their schema and version in headers', async () => {
    const log = await openCaptures();
    const written = captures('hdr', 3, Date.now() - 60_000);
    const appendedFrom = Date.now();
    await log.append(written);
    const appendedTo = Date.now();

    const messages = await rawMessages(log.name, 3);

    assert.deepEqual(messages.map((m) => m.key?.toString()).sort(), idsOf(written));
    for (const message of messages) {
      assert.equal(message.headers?.['shadowtap-schema']?.toString(), captureKind.codec.name);
      assert.equal(message.headers?.['shadowtap-schema-version']?.toString(), String(captureKind.codec.version));
      // The Kafka timestamp is the append time (retention counts from it), not the capture time inside the record.
      assert.ok(Number(message.timestamp) >= appendedFrom && Number(message.timestamp) <= appendedTo, `timestamp ${message.timestamp}`);
    }
  });

  test('a time window returns only records inside [from, to) and ends on every partition', async () => {
    const log = await openCaptures();
    const startMs = Date.UTC(2025, 0, 1);
    const written = captures('win', 30, startMs, 1000);
    await log.append(written);

    const entries = await collect(log.read({ fromMs: startMs + 10_000, toMs: startMs + 20_000 }));

    assert.deepEqual(ids(entries), idsOf(written.slice(10, 20)));
    assert.equal(new Set(entries.map((entry) => entry.position.partition)).size, 3);
  });

  test('a group resumes after the positions it committed', async () => {
    const log = await openCaptures();
    const group = randomName('group');
    const written = captures('resume', 9);
    await log.append(written);

    const first: LogEntry<Capture>[] = [];
    for await (const entry of log.read({ group })) {
      first.push(entry);
      await log.commit(group, [entry.position]);
      if (first.length === 4) break;
    }
    const second = await collect(log.read({ group }));

    assert.equal(first.length, 4);
    assert.deepEqual(ids(second), idsOf(written.filter((capture) => !ids(first).includes(capture.id))));
  });

  test('a commit after the read has ended still moves the group', async () => {
    const log = await openCaptures();
    const group = randomName('group');
    await log.append(captures('late', 5));

    const entries = await collect(log.read({ group }));
    await log.commit(group, entries.map((entry) => entry.position));

    assert.equal(entries.length, 5);
    assert.deepEqual(await collect(log.read({ group })), []);
  });

  test('two readers in one group split the partitions without duplicates', async () => {
    const log = await openCaptures();
    const group = randomName('group');
    const abort = new AbortController();
    const received: [LogEntry<Capture>[], LogEntry<Capture>[]] = [[], []];
    const readers = received.map(async (entries) => {
      for await (const entry of log.read({ group, follow: true, signal: abort.signal })) {
        entries.push(entry);
        await log.commit(group, [entry.position]);
      }
    });
    await groupStable(group, 2);
    const written = captures('split', 30);
    await log.append(written);
    await waitFor(() => received[0].length + received[1].length >= written.length, 'all records');
    abort.abort();
    await Promise.all(readers);

    const all = [...received[0], ...received[1]];
    assert.deepEqual(ids(all), idsOf(written));
    const partitionsOf = (entries: LogEntry<Capture>[]) => new Set(entries.map((entry) => entry.position.partition));
    const [a, b] = received.map(partitionsOf) as [Set<number>, Set<number>];
    assert.ok(a.size > 0 && b.size > 0, `both readers got records: ${[...a]} / ${[...b]}`);
    assert.deepEqual([...a].filter((partition) => b.has(partition)), []);
  });

  test('readers of two different topics sharing a group name each get every partition of their own topic', async () => {
    // The default group name is shared by every replay; kafkajs's own assigner would hand one
    // reader's partitions to the other and leave it with none of its own.
    const logs = [await openCaptures(), await openCaptures()];
    const group = randomName('shared');
    const abort = new AbortController();
    const received: [LogEntry<Capture>[], LogEntry<Capture>[]] = [[], []];
    const readers = logs.map(async (log, i) => {
      for await (const entry of log.read({ group, follow: true, signal: abort.signal })) received[i]!.push(entry);
    });
    await groupStable(group, 2);
    const written = [captures('left', 30), captures('right', 30)];
    await Promise.all(logs.map((log, i) => log.append(written[i]!)));
    await waitFor(() => received[0].length >= 30 && received[1].length >= 30, 'every record of both topics');
    abort.abort();
    await Promise.all(readers);
    assert.deepEqual(ids(received[0]), idsOf(written[0]!));
    assert.deepEqual(ids(received[1]), idsOf(written[1]!));
  });

  test('a reader joins a group whose other member uses kafkajs’s default assigner (an older shadowtap) and they split the partitions', async () => {
    const log = await openCaptures();
    const group = randomName('mixed');
    const older = kafka.consumer({ groupId: group, maxWaitTimeInMs: 200 });
    const olderIds: string[] = [];
    await older.connect();
    try {
      await older.subscribe({ topics: [log.name], fromBeginning: true });
      await older.run({ eachMessage: async ({ message }) => void olderIds.push(message.key!.toString()) });
      const abort = new AbortController();
      const received: LogEntry<Capture>[] = [];
      const reader = (async () => {
        for await (const entry of log.read({ group, follow: true, signal: abort.signal })) received.push(entry);
      })();
      await groupStable(group, 2);
      const written = captures('mixed', 30);
      await log.append(written);
      await waitFor(() => received.length + olderIds.length >= written.length, 'all records between the two members');
      abort.abort();
      await reader;
      assert.ok(received.length > 0, 'the new reader got partitions of its own');
      assert.deepEqual([...ids(received), ...olderIds].sort(), idsOf(written));
    } finally {
      await older.disconnect();
    }
  });

  test('a read larger than the hand-over queue delivers every record once, in offset order per partition', async () => {
    const log = await openCaptures();
    const group = randomName('group');
    // Many times the queue's entries: the fetch loop blocks on the slow reader and resumes.
    const written = captures('big', 12_000);
    for (let i = 0; i < written.length; i += 2000) await log.append(written.slice(i, i + 2000));

    const entries: LogEntry<Capture>[] = [];
    for await (const entry of log.read({ group })) {
      entries.push(entry);
      if (entries.length % 250 === 0) await log.commit(group, [entry.position]);
    }

    assert.deepEqual(ids(entries), idsOf(written));
    for (const partition of [0, 1, 2]) {
      const offsets = entries.filter((entry) => entry.position.partition === partition).map((entry) => entry.position.offset);
      assert.deepEqual(offsets, offsets.map((_, i) => i));
    }
  });

  test('a window read with fetches far smaller than the window delivers every record once, in offset order per partition', async () => {
    const log = await openKafkaLog(captureKind, {
      brokers,
      topicPrefix: `${randomName('test')}.`,
      partitions: 3,
      clientId: 'shadowtap-test',
      readLimits: { partitionFetchBytes: 4096, queueEntries: 50 },
    });
    openLogs.push(log);
    const written = captures('small', 1500);
    for (let i = 0; i < written.length; i += 100) await log.append(written.slice(i, i + 100));

    const entries = await collect(log.read());

    assert.deepEqual(ids(entries), idsOf(written));
    for (const partition of [0, 1, 2]) {
      const offsets = entries.filter((entry) => entry.position.partition === partition).map((entry) => entry.position.offset);
      assert.deepEqual(offsets, offsets.map((_, i) => i));
    }
  });

  test('an undecodable record goes to the dead-letter topic and reading goes on', async () => {
    const log = await openCaptures();
    const written = captures('dlq', 4);
    await log.append(written.slice(0, 2));
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: log.name, messages: [{ key: 'poison', value: Buffer.from('not an avro capture') }] });
    } finally {
      await producer.disconnect();
    }
    await log.append(written.slice(2));

    const deadLetters: Array<{ position: Position; error: Error }> = [];
    const entries = await collect(log.read({ onDeadLetter: (position, error) => deadLetters.push({ position, error }) }));

    assert.deepEqual(ids(entries), idsOf(written));
    assert.equal(deadLetters.length, 1);
    const [{ position, error }] = deadLetters as [{ position: Position; error: Error }];
    assert.equal((error as ShadowtapError).code, 'ST_BAD_RECORD');
    const [moved] = await rawMessages(`${log.name}.dlq`, 1);
    assert.equal(moved?.key?.toString(), 'poison');
    assert.equal(moved?.value?.toString(), 'not an avro capture');
    assert.equal(moved?.headers?.['shadowtap-dlq-topic']?.toString(), log.name);
    assert.equal(moved?.headers?.['shadowtap-dlq-partition']?.toString(), String(position.partition));
    assert.equal(moved?.headers?.['shadowtap-dlq-offset']?.toString(), String(position.offset));
    assert.match(moved?.headers?.['shadowtap-dlq-error']?.toString() ?? '', /cannot decode/);
  });

  test('opening fails fast with ST_LOG_UNREACHABLE when nothing listens at the address', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const address = `127.0.0.1:${port}`;

    await assert.rejects(
      openKafkaLog(captureKind, { brokers: [address], topicPrefix: 'unreachable.', partitions: 3, clientId: 'shadowtap-test' }),
      (error: unknown) => {
        assert.ok(error instanceof ShadowtapError);
        assert.equal(error.code, 'ST_LOG_UNREACHABLE');
        assert.ok(error.message.includes(address), error.message);
        // Refused at once, not cut off by the 10 s guard.
        assert.match(error.message, /ECONNREFUSED/);
        return true;
      },
    );
  });

  test('a topic prefix Kafka cannot use is refused as a usage error naming the flag', async () => {
    await assert.rejects(
      openKafkaLog(captureKind, { brokers, topicPrefix: 'my prefix/', partitions: 3, clientId: 'shadowtap-test' }),
      (error: unknown) => {
        assert.ok(error instanceof ShadowtapError);
        assert.equal(error.code, 'ST_USAGE');
        assert.match(error.message, /--topic-prefix/);
        return true;
      },
    );
  });
});

/** Kafka reacts in seconds, not milliseconds: a longer default wait. */
function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  return waitForCondition(condition, what, 30_000);
}
