import { randomUUID } from 'node:crypto';
import { PartitionAssigners, type Admin, type Consumer, type IHeaders, type Kafka, type KafkaMessage } from 'kafkajs';
import { ShadowtapError } from '../errors.js';
import { decodeFramed, type RegistryCodec } from '../records/schema-registry.js';
import { subscribedRoundRobin } from './kafka-assigner.js';
import type { LogEntry, Position, ReadOptions, RecordKind } from './record-log.js';

export const schemaHeader = 'shadowtap-schema';
export const schemaVersionHeader = 'shadowtap-schema-version';
/** `confluent` when the value is in the Schema Registry wire format: magic byte 0, schema id, Avro body. */
export const wireFormatHeader = 'shadowtap-wire-format';

/**
 * How much a read hands over before the consumer stops fetching for a slow caller: encoded bytes,
 * and a count for small records (a decoded entry weighs several times its encoded bytes). Large
 * enough to hold a whole fetch, so the caller works on one while the next is on the wire.
 */
const queueLimits = { bytes: 16 * 1024 * 1024, entries: 10_000 };
/** A fetch loop blocked on a full queue resumes once it has drained to this share. */
const resumeShare = 0.5;
/** How often a fetch loop blocked on a slow caller still heartbeats, so the group keeps it. */
const heartbeatWhileWaitingMs = 1000;

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
}

/**
 * Decoded entries handed from the consumer's fetch loop to the iterator. Bounded by bytes and
 * count: while it is full, the fetch loop waits, so a slow caller pauses fetching instead of
 * filling memory. A blocked fetch loop is woken only once the queue has drained to half, not
 * after every entry taken, so a full queue costs no wake-up per entry.
 */
class EntryQueue<E> {
  private items: Array<E | undefined> = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  private ended = false;
  private error: Error | undefined;
  private takers: Array<() => void> = [];
  private putters: Array<() => void> = [];

  constructor(private readonly limits: { bytes: number; entries: number }) {}

  get closed(): boolean {
    return this.ended;
  }

  private get length(): number {
    return this.items.length - this.head;
  }

  /** One entry always fits, however large. */
  private get full(): boolean {
    return this.length > 0 && (this.bytes >= this.limits.bytes || this.length >= this.limits.entries);
  }

  /** Adds an entry when there is room now; false (nothing added) when full or closed. */
  offer(entry: E, size: number): boolean {
    if (this.ended || this.full) return false;
    this.items.push(entry);
    this.sizes.push(size);
    this.bytes += size;
    if (this.takers.length > 0) wakeAll(this.takers.splice(0));
    return true;
  }

  /**
   * Adds an entry, waiting while full; `whileWaiting` runs every second of waiting. False, and
   * nothing added, once the queue is closed or `stillWanted` says the entry is outdated.
   */
  async put(entry: E, size: number, whileWaiting: () => Promise<void>, stillWanted: () => boolean): Promise<boolean> {
    while (!this.ended && stillWanted() && this.full) {
      await this.changed(this.putters, heartbeatWhileWaitingMs);
      if (!this.ended && stillWanted() && this.full) await whileWaiting();
    }
    if (!stillWanted()) return false;
    return this.offer(entry, size);
  }

  /** The next entry if one is queued. */
  poll(): E | undefined {
    if (this.length === 0) return undefined;
    const entry = this.items[this.head];
    this.items[this.head] = undefined;
    this.bytes -= this.sizes[this.head]!;
    this.head++;
    if (this.length === 0) {
      this.items = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    if (this.putters.length > 0 && this.length <= this.limits.entries * resumeShare && this.bytes <= this.limits.bytes * resumeShare) {
      wakeAll(this.putters.splice(0));
    }
    return entry;
  }

  /** The next entry, waiting for one; undefined once the queue is closed and drained. */
  async take(): Promise<E | undefined> {
    for (;;) {
      const entry = this.poll();
      if (entry !== undefined) return entry;
      if (this.error) throw this.error;
      if (this.ended) return undefined;
      await this.changed(this.takers);
    }
  }

  /** Drops the entries not taken yet. */
  clear(): void {
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
    wakeAll(this.putters.splice(0));
  }

  /** No more entries will be added; the ones queued are still taken. */
  close(): void {
    this.ended = true;
    wakeAll(this.putters.splice(0));
    wakeAll(this.takers.splice(0));
  }

  fail(error: Error): void {
    this.error ??= error;
    this.close();
  }

  private changed(waiters: Array<() => void>, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(resolve, timeoutMs);
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function wakeAll(waiters: Array<() => void>): void {
  for (const wake of waiters) wake();
}

function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/**
 * One read of a topic as a consumer group member (a throwaway group when none is given).
 * Start per partition: the group's committed offset, else the offset for `fromMs`, else the
 * beginning (the end as the read began, with `startAtEnd`). Without `follow`, each partition ends at the high watermark seen when the read
 * began; with `toMs`, at its first record at or past it. The read ends when every partition
 * assigned to this member has ended.
 */
export async function* readKafka<T>(context: KafkaReadContext<T>, options: ReadOptions = {}): AsyncGenerator<LogEntry<T>> {
  const { kafka, admin, topic, kind } = context;
  const { fromMs, toMs, follow = false, group, signal, onDeadLetter, startAtEnd = false } = options;
  if (signal?.aborted) return;
  const groupId = group ?? `shadowtap-read-${randomUUID()}`;

  let watermarks: Awaited<ReturnType<Admin['fetchTopicOffsets']>>;
  let fromOffsets: Map<number, number> | undefined;
  try {
    watermarks = await admin.fetchTopicOffsets(topic);
    if (fromMs !== undefined) {
      const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, fromMs);
      fromOffsets = new Map(byTime.map(({ partition, offset }) => [partition, Number(offset)]));
    }
  } catch (error) {
    throw context.failure(`read topic ${topic}`, error);
  }
  // Where a partition starts when nothing else says: its beginning, or with startAtEnd its end as the read began.
  const defaults = new Map(watermarks.map(({ partition, low, high }) => [partition, Number(startAtEnd && fromMs === undefined ? high : low)]));
  const ends = follow ? undefined : new Map(watermarks.map(({ partition, high }) => [partition, Number(high)]));
  // Nothing to read and no group to ask: skip joining a group at all.
  if (ends && !group && [...ends].every(([partition, end]) => (fromOffsets?.get(partition) ?? defaults.get(partition)!) >= end)) {
    return;
  }

  const queue = new EntryQueue<LogEntry<T>>(queueLimits);
  const consumer = kafka.consumer({
    groupId,
    // kafkajs's round robin second: a group that still has members of an older shadowtap keeps working while they are replaced.
    partitionAssigners: [subscribedRoundRobin, PartitionAssigners.roundRobin],
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 1000,
    // A fetch of up to the queue's size: the caller works through one while the next arrives.
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxBytes: queueLimits.bytes,
    // A member that vanished (killed worker, broker restart) holds its partitions until its
    // session expires; keep that short. Fetching heartbeats even while the caller is slow.
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 1000,
  });
  const untrack = context.track(groupId, consumer, () => queue.close());
  const canEnd = ends !== undefined || toMs !== undefined;
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
    if (!canEnd || !assigned) return;
    if (follow && assigned.length === 0) return;
    if (assigned.every((partition) => done.has(partition))) queue.close();
  };
  const markDone = (partition: number) => {
    done.add(partition);
    consumer.pause([{ topic, partitions: [partition] }]);
  };

  const prepareAssignment = async (partitions: number[]) => {
    const committed = new Map<number, number>();
    if (group) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const { partition, offset } of offsets?.partitions ?? []) {
        if (Number(offset) >= 0) committed.set(partition, Number(offset));
      }
    }
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
      const end = ends?.get(partition);
      if (end !== undefined && start >= end) markDone(partition);
      else consumer.resume([{ topic, partitions: [partition] }]);
    }
    assigned = partitions;
    endIfDone();
  };

  const badRecord = (position: Position, error: unknown) =>
    new ShadowtapError(
      'ST_BAD_RECORD',
      `cannot decode the record at ${topic} partition ${position.partition} offset ${position.offset}: ${(error as Error).message}`,
      { cause: error },
    );
  const decode = (message: KafkaMessage, position: Position): T | ShadowtapError | Promise<T | ShadowtapError> => {
    const schema = headerText(message.headers, schemaHeader);
    const version = headerText(message.headers, schemaVersionHeader);
    try {
      if (!message.value) throw new Error('the record has no value');
      if (schema !== undefined && schema !== kind.codec.name) throw new Error(`it is a ${schema} record, not a ${kind.codec.name}`);
      let bytes = message.value;
      if (headerText(message.headers, wireFormatHeader) === 'confluent' || (version === undefined && context.registry && bytes[0] === 0)) {
        // shadowtap's own framed records name their schema version in a header, so no registry round trip is needed.
        if (version === undefined) {
          if (!context.registry) throw new Error('it is in the Schema Registry wire format without a shadowtap schema version; give --schema-registry to read it');
          return context.registry.decode(bytes).catch((error) => badRecord(position, error));
        }
        bytes = decodeFramed(bytes).body;
      }
      return kind.codec.decode(bytes, version === undefined ? undefined : Number(version));
    } catch (error) {
      return badRecord(position, error);
    }
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
          const end = ends?.get(partition);
          const current = () => generation === batchGeneration && isRunning() && !done.has(partition);
          // Offsets are resolved once, when the batch is left (kafkajs fetches on from there), not per message.
          let resolved: string | undefined;
          try {
            for (const message of batch.messages) {
              if (!current() || queue.closed) return;
              const offset = Number(message.offset);
              const timestampMs = Number(message.timestamp);
              if (offset < (starts.get(partition) ?? 0)) continue;
              if ((end !== undefined && offset >= end) || (toMs !== undefined && timestampMs >= toMs)) {
                markDone(partition);
                break;
              }
              const position = { partition, offset };
              if (fromMs === undefined || timestampMs >= fromMs) {
                const decoded = decode(message, position);
                const value = decoded instanceof Promise ? await decoded : decoded;
                if (value instanceof ShadowtapError) {
                  await context.deadLetter(message, partition, value);
                  onDeadLetter?.(position, value);
                } else {
                  const entry = { value, position, timestampMs };
                  const size = message.value?.length ?? 0;
                  if (!queue.offer(entry, size) && !(await queue.put(entry, size, heartbeat, current))) return;
                }
              }
              resolved = message.offset;
              if (end !== undefined && offset + 1 >= end) {
                markDone(partition);
                break;
              }
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
