import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { PartitionAssigners, type Admin, type Consumer, type Kafka, type KafkaMessage } from 'kafkajs';
import { ShadowtapError, usageError } from '../errors.js';
import type { RegistryCodec } from '../records/schema-registry.js';
import { EntryQueue } from './entry-queue.js';
import { isCoordinatorStarting, isTransient } from './kafka-errors.js';
import { subscribedRoundRobin } from './kafka-assigner.js';
import type { KafkaReadLimits } from './kafka-read-limits.js';
import { readPartitions } from './kafka-read-partitions.js';
import { recordDecoder, recordWindow } from './kafka-record-decoder.js';
import type { Cluster } from './kafkajs-cluster.js';
import type { LogEntry, ReadOptions, RecordKind } from './record-log.js';

export interface KafkaReadContext<T> {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  kind: RecordKind<T>;
  /** Moves an undecodable record to the dead-letter topic. */
  deadLetter(message: KafkaMessage, partition: number, error: Error): Promise<void>;
  /** Registers a live read so `commit` can reach its consumer and `close` can end it; returns its unregister function, given the consumer's leaving. */
  track(group: string, consumer: Consumer, end: () => void): (left: Promise<void>) => Promise<void>;
  /** Turns a kafkajs failure into a ShadowtapError naming the action. */
  failure(action: string, error: unknown): ShadowtapError;
  /** Reads framed records written by other producers, with their registered schema. */
  registry?: RegistryCodec<T>;
  /** The cluster that bounded reads fetch from, connected. */
  cluster(): Promise<Cluster>;
  limits: KafkaReadLimits;
}

/**
 * One read of a topic. Start per partition: the group's committed offset, else the first offset
 * whose Kafka timestamp is at or past `fromMs`, else the beginning (for `follow` with
 * `startAtEnd`, the end as the read began). Kafka timestamps are append times and a record is
 * appended after it is captured, so that start misses nothing of the window; records are then
 * chosen by their own time (`kind.timestampMs`), which an imported recording keeps from long
 * before its append. Without `follow`, a bounded read of every partition, fetched directly (no
 * group session: its commits go to the group from outside), to the end present when the read
 * began: a record of the window may have been appended at any time since, so no earlier record
 * says where to stop. With `follow`, a consumer group member (a throwaway group when none is
 * given) that reads the partitions the group assigns it; with `follow` and `solo`, every partition
 * fetched directly as a bounded read is, without an end; with `toMs`, a followed partition ends
 * once past the end present when the read began and at a record appended `liveAppendLagMs` after
 * `toMs`.
 */
/**
 * How long after its capture a live record may be appended (agent queue, a short spool): a
 * followed window's partition ends at a record appended this long past `toMs`. Older records
 * (imports, a spool drained after a long outage) are found by reading to the end present when
 * the read began.
 */
const liveAppendLagMs = 60_000;
/** Attempts of a read's start queries through a leader change before the read fails. */
const startAttempts = 4;

export async function* readKafka<T>(context: KafkaReadContext<T>, options: ReadOptions = {}): AsyncGenerator<LogEntry<T>> {
  const { kafka, admin, topic, kind } = context;
  const { fromMs, toMs, follow = false, solo = false, group, signal, onDeadLetter, startAtEnd = false } = options;
  if (signal?.aborted) return;
  const groupId = group ?? `shadowtap-read-${randomUUID()}`;
  const direct = !follow || solo;

  // A direct read starts once these few round trips are back; a follow member joins its group meanwhile.
  const started = readStart(context, { fromMs, direct, solo: follow && solo, group });
  started.catch(() => undefined);
  const decode = recordDecoder(topic, kind, context.registry);
  const window = recordWindow(kind, fromMs, toMs);
  if (direct) {
    const { watermarks, fromOffsets, committed, cluster } = await started;
    const endPresent = new Map(watermarks.map(({ partition, high }) => [partition, Number(high)]));
    const ranges = new Map(
      watermarks.map(({ partition, low, high }) => {
        // Where a partition starts when nothing else says: its beginning, or with startAtEnd its end as the read began.
        const first = Number(startAtEnd && fromMs === undefined ? high : low);
        const start = committed?.get(partition) ?? fromOffsets?.get(partition) ?? first;
        return [partition, { start: Math.max(start, Number(low)), end: follow ? Infinity : Number(high) }];
      }),
    );
    if ([...ranges.values()].every(({ start, end }) => start >= end)) return;
    yield* readPartitions(
      {
        cluster: cluster!,
        topic,
        decode,
        window,
        deadLetter: context.deadLetter,
        ranges,
        // A followed window's partition ends at a record appended liveAppendLagMs past its end.
        endsAt:
          follow && toMs !== undefined
            ? (partition, offset, appendedMs) => offset >= (endPresent.get(partition) ?? 0) && appendedMs >= toMs + liveAppendLagMs
            : undefined,
        limits: context.limits,
        earliest: async (partition) => Number((await admin.fetchTopicOffsets(topic)).find((p) => p.partition === partition)?.low ?? 0),
        failure: (error) => context.failure(`read topic ${topic}`, error),
      },
      { signal, onDeadLetter },
    );
    return;
  }

  // A follow read joins its group before it hands over a record, on purpose. The group's
  // assignment is what splits partitions between follow workers, and it is only known once the
  // join completes: a member that read before it would send requests of partitions another
  // worker owns (twice to the shadow, two Results), and could not commit them (a commit needs
  // the member's generation). What the join costs is the broker's: `group.initial.rebalance.delay.ms`
  // (3 s by default) holds the first member of an empty group so that workers starting together
  // share one rebalance. Reading early is safe only with three things kafkajs 2.2 does not give:
  // - knowing this member is alone in the group at a moment any other worker's check would see
  //   it: only once the coordinator has registered it, and kafkajs runs JoinGroup inside
  //   consumer.run, exposing neither its member id nor when the coordinator took it (a
  //   DescribeGroup before that shows Empty to two workers starting together, and both would
  //   read partition 0);
  // - telling the members that get a partition the early reader had read where it stopped:
  //   kafkajs drops the assignment's userData before GROUP_JOIN, and the group refuses commits
  //   until the rebalance completes (REBALANCE_IN_PROGRESS), when the new owner already reads
  //   its committed offsets;
  // - keeping the early reader from committing a partition it no longer owns: Kafka's
  //   OffsetCommit checks the generation, not the assignment, so a late commit would move the
  //   new owner's committed offset back.
  // Static membership (group.instance.id) is not in kafkajs 2.2, and an empty group's first join
  // waits the delay with it too; the consumer protocol without the delay (KIP-848) is one kafkajs
  // does not speak. So the join stays on the path and nothing else does: the start offsets and
  // the committed ones are asked for while it goes on, records are fetched as soon as it ends,
  // and leaving is one LeaveGroup.
  const queue = new EntryQueue<LogEntry<T>>({ bytes: context.limits.queueBytes, entries: context.limits.queueEntries });
  const consumer = kafka.consumer({
    groupId,
    // kafkajs's round robin second: a group that still has members of an older shadowtap keeps working while they are replaced.
    partitionAssigners: [subscribedRoundRobin, PartitionAssigners.roundRobin],
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 1000,
    maxBytesPerPartition: context.limits.partitionFetchBytes,
    maxBytes: context.limits.groupFetchBytes,
    // A member that vanished (killed worker, broker restart) holds its partitions until its
    // session expires; keep that short. Fetching heartbeats even while the caller is slow.
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 1000,
  });
  const untrack = context.track(groupId, consumer, () => queue.close());
  const canEnd = toMs !== undefined;
  /** Per partition, its end as the read began; known before the first batch is handed over (batches wait for `ready`). */
  let endPresent = new Map<number, number>();
  const done = new Set<number>();
  let assigned: number[] | undefined;
  let starts = new Map<number, number>();
  /** Per partition, the offset after the last entry the caller took. */
  const delivered = new Map<number, number>();
  // Bumped by every group join; a batch of an earlier assignment is dropped and fetched again.
  let generation = 0;
  // Settles once the current assignment's start offsets are known; batches wait for it.
  let ready: Promise<void> = Promise.resolve();

  const endIfDone = () => {
    if (!canEnd || !assigned || assigned.length === 0) return;
    if (assigned.every((partition) => done.has(partition))) queue.close();
  };
  const markDone = (partition: number) => {
    done.add(partition);
    consumer.pause([{ topic, partitions: [partition] }]);
  };

  const prepareAssignment = async (partitions: number[]) => {
    const [{ watermarks, fromOffsets }, committed] = await Promise.all([started, group ? committedOffsets(admin, groupId, topic) : new Map<number, number>()]);
    endPresent = new Map(watermarks.map(({ partition, high }) => [partition, Number(high)]));
    // Where a partition starts when nothing else says: its beginning, or with startAtEnd its end as the read began.
    const defaults = new Map(watermarks.map(({ partition, low, high }) => [partition, Number(startAtEnd && fromMs === undefined ? high : low)]));
    starts = new Map();
    // Queued entries were dropped at the join, so every partition is judged again from its start.
    done.clear();
    for (const partition of partitions) {
      // Restart after what the caller took, so no record reaches it twice from this read.
      const start = Math.max(
        committed.get(partition) ?? fromOffsets?.get(partition) ?? defaults.get(partition) ?? 0,
        delivered.get(partition) ?? 0,
      );
      starts.set(partition, start);
      consumer.seek({ topic, partition, offset: String(start) });
      consumer.resume([{ topic, partitions: [partition] }]);
    }
    assigned = partitions;
    endIfDone();
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const partitions = payload.memberAssignment[topic] ?? [];
    generation += 1;
    // Entries not yet taken are fetched again from the new start offsets (or by the partition's new owner).
    queue.clear();
    ready = prepareAssignment(partitions).catch((error) => queue.fail(context.failure(`read topic ${topic}`, error)));
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) queue.fail(context.failure(`read topic ${topic}`, payload.error));
  });
  const onAbort = () => queue.close();
  signal?.addEventListener('abort', onAbort);

  try {
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const batchGeneration = generation;
          await ready;
          const partition = batch.partition;
          // A pending seek means this batch was fetched from an outdated position. Seeks happen
          // only in a new assignment, which bumps the generation, so once per batch is enough.
          if (isStale()) return;
          const current = () => generation === batchGeneration && isRunning() && !done.has(partition);
          // Offsets are resolved once, when the batch is left (kafkajs fetches on from there), not per message.
          let resolved: string | undefined;
          try {
            for (const message of batch.messages) {
              if (!current() || queue.closed) return;
              const offset = Number(message.offset);
              if (offset < (starts.get(partition) ?? 0)) continue;
              if (toMs !== undefined && offset >= (endPresent.get(partition) ?? 0) && Number(message.timestamp) >= toMs + liveAppendLagMs) {
                markDone(partition);
                break;
              }
              const position = { partition, offset };
              const peekedMs = window.peekMs(message);
              if (peekedMs === undefined || window.holds(peekedMs)) {
                const decoded = decode(message, position);
                const value = decoded instanceof Promise ? await decoded : decoded;
                if (value instanceof ShadowtapError) {
                  await context.deadLetter(message, partition, value);
                  onDeadLetter?.(position, value);
                } else {
                  const timestampMs = peekedMs ?? window.timeMs(value);
                  const entry = { value, position, timestampMs };
                  const size = message.value?.length ?? 0;
                  if (window.holds(timestampMs) && !queue.offer(entry, size) && !(await queue.put(entry, size, heartbeat, current))) return;
                }
              }
              resolved = message.offset;
            }
          } finally {
            if (resolved !== undefined) resolveOffset(resolved);
          }
          endIfDone();
        },
      });
    } catch (error) {
      throw context.failure(`read topic ${topic}`, error);
    }
    for (;;) {
      const entry = queue.poll() ?? (await queue.take());
      if (!entry) return;
      delivered.set(entry.position.partition, entry.position.offset + 1);
      yield entry;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    queue.close();
    await untrack(consumer.disconnect().catch(() => undefined));
  }
}

interface ReadStart {
  /** Every partition's low and high watermarks as the read began. */
  watermarks: Awaited<ReturnType<Admin['fetchTopicOffsets']>>;
  /** Per partition, the first offset appended at or after `fromMs`. */
  fromOffsets: Map<number, number> | undefined;
  /** A direct read's group's committed offsets. */
  committed: Map<number, number> | undefined;
  /** A direct read's cluster, connected. */
  cluster: Cluster | undefined;
}

/** What a read starts from, asked side by side (a few round trips each), through a leader change. */
async function readStart<T>(context: KafkaReadContext<T>, options: Pick<ReadOptions, 'fromMs' | 'group'> & { direct: boolean; solo: boolean }): Promise<ReadStart> {
  const { admin, topic } = context;
  const { fromMs, direct, solo, group } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      const [watermarks, byTime, committed, cluster] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        fromMs === undefined ? undefined : admin.fetchTopicOffsetsByTimestamp(topic, fromMs),
        direct && group ? committedOffsets(admin, group, topic) : undefined,
        direct ? context.cluster() : undefined,
        solo && group ? refuseMembers(admin, group) : undefined,
      ]);
      const fromOffsets = byTime && new Map(byTime.map(({ partition, offset }) => [partition, Number(offset)]));
      return { watermarks, fromOffsets, committed, cluster };
    } catch (error) {
      if (error instanceof ShadowtapError) throw error;
      // A leader elected moments ago (a new topic, a restarted broker) is not in every answer yet: ask again.
      if (attempt >= startAttempts || !isTransient(error)) throw context.failure(`read topic ${topic}`, error);
      await delay(250 * attempt);
    }
  }
}

/**
 * A solo follow reads every partition and commits from outside its group, which Kafka takes only
 * while the group has no members; members (follow workers) own its partitions, and a solo read
 * of them would send their captures a second time.
 */
async function refuseMembers(admin: Admin, group: string): Promise<void> {
  const { groups } = await whenCoordinatorReady(() => admin.describeGroups([group]));
  const members = groups[0]?.members.length ?? 0;
  if (members > 0) {
    throw usageError(
      `consumer group "${group}" has ${members} member${members === 1 ? '' : 's'} (follow workers): they own its partitions, and a solo follow reads every partition itself; stop them, or follow as a member of the group (without --solo)`,
    );
  }
}

/** How long a window read waits for a group coordinator that is starting, and how often it asks again. */
const coordinatorWaitMs = 60_000;
const coordinatorRetryMs = 500;

/** The offsets `group` committed on `topic`, by partition (none for a partition it never committed). */
async function committedOffsets(admin: Admin, group: string, topic: string): Promise<Map<number, number>> {
  const [offsets] = await whenCoordinatorReady(() => admin.fetchOffsets({ groupId: group, topics: [topic] }));
  const committed = new Map<number, number>();
  for (const { partition, offset } of offsets?.partitions ?? []) {
    if (Number(offset) >= 0) committed.set(partition, Number(offset));
  }
  return committed;
}

/**
 * Asks a group request until its coordinator answers: a fresh broker creates and loads its
 * offsets topic at the first group request, and a restarted one reloads it; for seconds, longer
 * than kafkajs's retries, every group request is refused.
 */
async function whenCoordinatorReady<R>(ask: () => Promise<R>): Promise<R> {
  const deadline = Date.now() + coordinatorWaitMs;
  for (;;) {
    try {
      return await ask();
    } catch (error) {
      if (!isCoordinatorStarting(error) || Date.now() > deadline) throw error;
      await delay(coordinatorRetryMs);
    }
  }
}
