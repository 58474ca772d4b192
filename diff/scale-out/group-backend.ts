import type { LogEntry, RecordKind } from '../../shared/log/record-log.js';
import type { PartitionSnapshot, PartitionState, PendingVerdict } from './partition-state.js';

/** A partition this worker owns, as its backend keeps it: its last snapshot, and where the next one goes. */
export interface PartitionStore {
  /** The last committed snapshot, when the partition has one. */
  readonly snapshot: PartitionSnapshot | undefined;
  /** Where a partition without a snapshot starts reading (the worker's --from, else the beginning). */
  startOffsets(): Promise<{ captures: number; results: number }>;
  /** Records [start, end) of the partition read again, by offset: what a snapshot's buffers name. */
  reread<T>(kind: RecordKind<T>, range: { start: number; end: number }): Promise<Map<number, LogEntry<T>>>;
  /** Commits the snapshot, the verdicts judged since the last one and the offsets the snapshot covers: all or nothing. */
  commit(snapshot: PartitionSnapshot, verdicts: PendingVerdict[]): Promise<void>;
  close(): Promise<void>;
}

/** What a backend calls back into the worker loop with. */
export interface GroupHooks {
  /** The partitions this worker owns now; resolves once their states are restored and feeding resumed. */
  assign(partitions: number[]): Promise<void>;
  /** The state of an owned partition, to feed records to; undefined once it is not owned. */
  state(partition: number): PartitionState | undefined;
  /** A failure that stops the worker. */
  fail(error: unknown): void;
}

/**
 * How a group of diff workers shares partitions and keeps their state: Kafka (a consumer group,
 * transactions over a compacted state topic) or the embedded file log (lease files, snapshot
 * files written and renamed). The worker loop (diff-worker.ts) is the same over both.
 */
export interface GroupBackend<S extends PartitionStore = PartitionStore> {
  /** Partitions of the captures and results logs (equal: they are co-partitioned). */
  readonly partitionCount: number;
  /** Takes a partition over: fences its previous owner, then reads its last snapshot. */
  open(partition: number): Promise<S>;
  /** Joins the group; from then on calls hooks.assign on every change of ownership, and feeds owned partitions. */
  start(hooks: GroupHooks): Promise<void>;
  /** Feeds a partition from its state's next offsets (taken, or taken again after a failed commit). */
  resume(partition: number, state: PartitionState): void;
  /** Stops feeding everything, before the last commit. */
  stop(): Promise<void>;
  /** Leaves the group, once the last commit is done. */
  close(): Promise<void>;
  /** Whether a commit failed because another worker took the partition over. */
  isFenced(error: unknown): boolean;
  /** Whether an error passes by itself (a partition of a topic just created has no leader yet): taking a partition over is tried again. */
  isTransient(error: unknown): boolean;
  /** The error a failure of `action` is reported as. */
  failure(action: string): (error: unknown) => Error;
}
