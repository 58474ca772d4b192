import type { KafkaMessage } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShadowtapError } from '../errors.js';
import { EntryQueue } from './entry-queue.js';
import { isTransient } from './kafka-errors.js';
import type { KafkaReadLimits } from './kafka-read-limits.js';
import { everyRecord, type RecordDecoder, type RecordWindow } from './kafka-record-decoder.js';
import { batchRecords, leanFetch, RecordCursor, recordBatches, type FetchedRecords, type RecordBatch } from './kafka-fetch-decoder.js';
import { readCommitted, type Cluster, type ClusterBroker } from './kafkajs-cluster.js';
import type { LogEntry, ReadOptions } from './record-log.js';

/** A fetch for a partition whose records are all there already returns at once; this only bounds a wait on an open transaction. */
const fetchWaitMs = 500;
/**
 * A followed partition's fetch waits this long for a new record. Each partition has its own fetch
 * and a broker answers one request of a connection at a time, so idle partitions' waits queue up:
 * a new record waits at most this much per other partition of its broker, and so does a stop.
 */
const followFetchWaitMs = 100;
/**
 * A partition's first fetch asks for this much, and each next one for twice the last up to the
 * limit: the first records are decoded and sent while larger fetches follow, instead of after a
 * whole full-size fetch of every partition is decoded.
 */
const firstFetchBytes = 16 * 1024;
/** Attempts of one fetch through a leader change or a lost connection before the read fails. */
const fetchAttempts = 6;
const retryBackoffMs = (attempt: number) => Math.min(2000, 250 * 2 ** (attempt - 1));
/**
 * Records decoded together when the caller takes them. A run keeps the decoder's code and data in
 * the CPU's caches (one record decoded between each of the caller's sends cost 2-3 times the CPU
 * in the decoder), and its entries wait only while the run is taken, far less than between two
 * young-generation collections, so they are not promoted to the old generation.
 */
const decodeRunRecords = 64;

export interface PartitionRead<T> {
  cluster: Cluster;
  topic: string;
  decode: RecordDecoder<T>;
  /** Which records the read hands over, by their own time; all of them when absent. */
  window?: RecordWindow<T>;
  deadLetter(message: KafkaMessage, partition: number, error: Error): Promise<void>;
  /** The partition's earliest offset now, after records before `offset` were deleted. */
  earliest(partition: number): Promise<number>;
  /** Per partition: the first offset to read and the end, exclusive (Infinity: follow the partition as it grows). */
  ranges: Map<number, { start: number; end: number }>;
  /** Whether a followed partition ends at this record, given the time Kafka appended it. */
  endsAt?: (partition: number, offset: number, appendedMs: number) => boolean;
  limits: KafkaReadLimits;
  failure(error: unknown): Error;
}

/**
 * One record batch waiting in a read's queue as the broker sent it (a view of its fetch
 * response, decompressed if it was compressed): its records are decoded only when the caller
 * takes them, so a queued record costs its bytes and no objects, and what the caller holds is
 * allocated just before it is used (objects that wait in a queue outlive young-generation
 * collections and fill the old generation until a full one).
 */
interface QueuedBatch {
  partition: number;
  batch: RecordBatch;
  /** The batch's records section; undefined when the batch cannot be read (`damage` says why). */
  records: Buffer | undefined;
  damage?: string;
  /** Records before `from` or at or past `end` are read past. */
  from: number;
  end: number;
}

/**
 * A read of given partitions, fetched straight from their leaders: no consumer group, so nothing
 * waits for a join or a rebalance, and a bounded read ends as soon as its last record is handed
 * over (a followed one, at `endsAt` or when the read is stopped). Each partition keeps one fetch
 * on the wire while the previous one is queued;
 * the queue (record batches, by bytes and records) bounds the rest. A partition stops at its end
 * offset; only records whose own time is in the window are handed over (a record appended long
 * after it was captured, as an import is, can sit anywhere before the end).
 */
export async function* readPartitions<T>(read: PartitionRead<T>, options: Pick<ReadOptions, 'signal' | 'onDeadLetter'>): AsyncGenerator<LogEntry<T>> {
  const { cluster, topic, decode, limits, window = everyRecord } = read;
  const { signal, onDeadLetter } = options;
  const queue = new EntryQueue<QueuedBatch>({ bytes: limits.queueBytes, entries: limits.queueEntries });
  // kafkajs opens a broker's fetch connection on the first fetch; two first fetches at once open
  // two sockets and close only one, which keeps the process alive. The first fetch goes alone.
  const firstFetch = new WeakMap<ClusterBroker, Promise<unknown>>();
  /** Followed partitions that reached their `endsAt` record: nothing more of them is fetched or handed over. */
  const ended = new Set<number>();

  const fetchFrom = async (partition: number, offset: number, maxBytes: number, maxWaitTime: number): Promise<FetchedRecords> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const leader = cluster.findTopicPartitionMetadata(topic).find(({ partitionId }) => partitionId === partition)?.leader;
        if (leader === undefined || leader < 0) throw Object.assign(new Error(`partition ${partition} has no leader`), { retriable: true });
        const broker = await cluster.findBroker({ nodeId: String(leader) });
        const first = firstFetch.get(broker);
        if (first) await first.catch(() => undefined);
        const request = leanFetch(broker, {
          replicaId: -1,
          isolationLevel: readCommitted,
          maxWaitTime,
          minBytes: 1,
          maxBytes,
          topics: [{ topic, partitions: [{ partition, fetchOffset: String(offset), maxBytes }] }],
        });
        if (!first) firstFetch.set(broker, request);
        const fetched = (await request).find((data) => data.partition === partition);
        return fetched ?? { partition, errorCode: 0, highWatermark: -1, abortedTransactions: [], records: Buffer.alloc(0) };
      } catch (error) {
        if ((error as Error).name === 'KafkaJSOffsetOutOfRange' || attempt >= fetchAttempts || !isTransient(error)) throw error;
        await sleep(retryBackoffMs(attempt));
        await cluster.refreshMetadata().catch(() => undefined);
      }
    }
  };

  /**
   * A batch that cannot be read (failed CRC32C, records that end early, bad compressed bytes) is
   * never passed over silently: its bytes go to the dead letters as one message at its first
   * offset, and the caller is told, as for a record that cannot be decoded.
   */
  const reportDamaged = async (partition: number, batch: RecordBatch, reason: string) => {
    const last = batch.nextOffset - 1;
    const error = new ShadowtapError(
      'ST_BAD_RECORD',
      `cannot read the record batch at ${topic} partition ${partition} offsets ${batch.firstOffset}-${last} (${batch.recordCount} records as its header says): ${reason}`,
    );
    const message = { offset: String(batch.firstOffset), timestamp: String(batch.firstTimestamp), key: null, value: Buffer.from(batch.bytes), headers: {}, attributes: 0 };
    await read.deadLetter(message as KafkaMessage, partition, error);
    onDeadLetter?.({ partition, offset: batch.firstOffset }, error);
  };

  /** Queues the batches of one fetch from `from` on; false once the partition or the read has ended. */
  const queueBatches = async (partition: number, batches: RecordBatch[], from: number, end: number): Promise<boolean> => {
    for (const batch of batches) {
      if (batch.nextOffset <= from) continue;
      if (batch.firstOffset >= end || queue.closed) return false;
      if (batch.skipped) continue;
      let records: Buffer | undefined;
      let damage = batch.damage;
      if (damage === undefined) {
        try {
          records = await batchRecords(batch);
        } catch (error) {
          if (error instanceof ShadowtapError) throw error;
          damage = (error as Error).message;
        }
      }
      const queued: QueuedBatch = { partition, batch, records, damage, from, end };
      const size = records?.length ?? 0;
      const count = records ? batch.recordCount : 1;
      if (!queue.offer(queued, size, count) && !(await queue.put(queued, size, async () => undefined, () => true, count))) return false;
    }
    return true;
  };

  /**
   * Decodes the next records of a taken batch into `into`, up to `decodeRunRecords`; false once
   * the batch has no more. A batch whose records end early goes to the dead letters whole (the
   * records before the damage are still handed over), an undecodable record alone.
   */
  const decodeRun = async (queued: QueuedBatch, cursor: RecordCursor, into: Array<LogEntry<T>>): Promise<boolean> => {
    const { partition, batch, from, end } = queued;
    try {
      while (into.length < decodeRunRecords) {
        if (!cursor.next() || cursor.offset >= end) return false;
        const offset = cursor.offset;
        if (read.endsAt?.(partition, offset, cursor.timestamp)) {
          ended.add(partition);
          return false;
        }
        if (offset < from) continue;
        const peekedMs = window.peekMs(cursor);
        if (peekedMs !== undefined && !window.holds(peekedMs)) continue;
        const position = { partition, offset };
        const decoded = decode(cursor, position);
        const value = decoded instanceof Promise ? await decoded : decoded;
        if (value instanceof ShadowtapError) {
          await read.deadLetter(cursor.message() as KafkaMessage, partition, value);
          onDeadLetter?.(position, value);
          continue;
        }
        const timestampMs = peekedMs ?? window.timeMs(value);
        if (window.holds(timestampMs)) into.push({ value, position, timestampMs });
      }
      return true;
    } catch (error) {
      if (error instanceof ShadowtapError) throw error;
      await reportDamaged(partition, batch, (error as Error).message);
      return false;
    }
  };

  const readPartition = async (partition: number, start: number, end: number) => {
    let offset = start;
    let fetchBytes = Math.min(firstFetchBytes, limits.partitionFetchBytes);
    let fetching: Promise<FetchedRecords> | undefined;
    const waitMs = end === Infinity ? followFetchWaitMs : fetchWaitMs;
    try {
      while (offset < end && !queue.closed && !ended.has(partition)) {
        let fetched: FetchedRecords;
        try {
          fetched = await (fetching ?? fetchFrom(partition, offset, fetchBytes, waitMs));
        } catch (error) {
          if ((error as Error).name !== 'KafkaJSOffsetOutOfRange') throw error;
          // Retention deleted the records from here on: go on from the oldest one left.
          fetching = undefined;
          offset = Math.max(offset, await read.earliest(partition));
          continue;
        }
        const batches = recordBatches(fetched);
        // Past every whole batch fetched, whatever of it was compacted away, aborted or a transaction marker.
        const next = batches.reduce((after, batch) => Math.max(after, batch.nextOffset), offset);
        // Nothing at or past `offset`, and a bounded partition ends there: records were removed since the
        // read began. A followed one fetches again (the broker holds an empty fetch up to followFetchWaitMs).
        if (batches.length === 0 && fetched.highWatermark >= 0 && fetched.highWatermark <= offset && end !== Infinity) return;
        fetchBytes = Math.min(fetchBytes * 2, limits.partitionFetchBytes);
        fetching = next < end && !queue.closed ? fetchFrom(partition, next, fetchBytes, waitMs) : undefined;
        // A prefetch that fails while this one is queued is seen when it is awaited.
        fetching?.catch(() => undefined);
        if (!(await queueBatches(partition, batches, offset, end))) return;
        offset = next;
      }
    } finally {
      // A prefetch still on the wire is waited for (its wait is bounded), so nothing of the read outlives it.
      await fetching?.catch(() => undefined);
    }
  };

  const onAbort = () => queue.close();
  signal?.addEventListener('abort', onAbort);
  const loops = [...read.ranges]
    .filter(([, { start, end }]) => start < end)
    .map(([partition, { start, end }]) => readPartition(partition, start, end).catch((error: unknown) => queue.fail(read.failure(error))));
  void Promise.all(loops).then(() => queue.close());
  try {
    const run: Array<LogEntry<T>> = [];
    for (;;) {
      const queued = queue.poll() ?? (await queue.take());
      if (!queued) return;
      if (ended.has(queued.partition)) continue;
      if (queued.records === undefined) {
        await reportDamaged(queued.partition, queued.batch, queued.damage!);
        continue;
      }
      const cursor = new RecordCursor(queued.batch, queued.records);
      for (let more = true; more; ) {
        run.length = 0;
        more = await decodeRun(queued, cursor, run);
        for (const entry of run) {
          if (signal?.aborted) return;
          yield entry;
        }
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    queue.close();
    // A fetch still on the wire ends within its wait; nothing of this read outlives it.
    await Promise.all(loops);
  }
}
