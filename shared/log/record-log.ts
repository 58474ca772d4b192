import type { Codec } from '../records/codec.js';
import { captureCodec, resultCodec } from '../records/codec.js';
import type { Capture, Result } from '../records/types.js';

/**
 * Where a record sits in a log: its partition, and its offset within that partition (Kafka's, or
 * the record's index in the file log's partition; offsets are consecutive in the file log).
 */
export interface Position {
  partition: number;
  offset: number;
}

export interface LogEntry<T> {
  value: T;
  position: Position;
  /** The record's own time in milliseconds (capture time, or a result's send time). */
  timestampMs: number;
}

export interface ReadOptions {
  /** Inclusive start of a time window, ms since the epoch. */
  fromMs?: number;
  /** Exclusive end of a time window, ms since the epoch; each partition stops past it. */
  toMs?: number;
  /** Keep tailing after the end instead of stopping at the end present when the read began. */
  follow?: boolean;
  /** Consumer group: the read resumes after the positions last committed for it. */
  group?: string;
  /**
   * With `follow`, on Kafka: read every partition directly instead of as a member of `group`, so
   * the first record comes without waiting for a join (a broker holds an empty group's first join
   * `group.initial.rebalance.delay.ms`, 3 s by default). For the group's only reader: refused while
   * the group has members, and a commit fails once one joins. The file log is always read so.
   */
  solo?: boolean;
  /**
   * Where nothing was committed for the group and no `fromMs` is given: start at the end of the
   * log as the read begins, reading only records appended afterwards (Kafka's
   * auto.offset.reset=latest). Live mirroring starts so, instead of flooding a new shadow with
   * all retained history.
   */
  startAtEnd?: boolean;
  /**
   * Only these partitions (default all). A capture and its results share a partition number on
   * both logs (records are placed by request id with Kafka's partitioner), so workers that each
   * read their own partitions of both logs split the pairs between them. A partition the log
   * does not have is refused. File log only: Kafka workers split partitions in a consumer group.
   */
  partitions?: number[];
  signal?: AbortSignal;
  /** Told about each record that could not be decoded; it has already been moved to the dead-letter log. */
  onDeadLetter?: (position: Position, error: Error) => void;
  /** Told in one line about each damaged block or cut tail of the log (once per block), for the user. */
  onWarning?: (message: string) => void;
}

/**
 * The one seam between stages: a log of records of one kind (captures or results).
 * Kafka and the embedded Avro file log both implement it, and pass the same contract
 * (test/record-log-contract.ts): a new backend is one that passes it too.
 */
export interface RecordLog<T> {
  /** Kafka topic or folder, for messages and Result.source. */
  readonly name: string;
  append(records: T[]): Promise<void>;
  read(options?: ReadOptions): AsyncIterable<LogEntry<T>>;
  /**
   * Records that everything up to and including each position is done for `group`, per partition
   * (the highest position of each partition counts; a partition not named keeps its commit).
   */
  commit(group: string, positions: Position[]): Promise<void>;
  /** How many partitions the log has (numbered 0 to count − 1); the file log and Kafka logs tell. */
  partitionCount?(): Promise<number>;
  close(): Promise<void>;
}

/** What a log needs to know about a record kind. */
export interface RecordKind<T> {
  /** Suffix of the topic or folder: 'captures' or 'results'. */
  name: 'captures' | 'results';
  codec: Codec<T>;
  key(record: T): string;
  /** The record's own time (capture time, or a result's send time): windows select by it. Kafka timestamps are append times instead, for retention. */
  timestampMs(record: T): number;
}

export const captureKind: RecordKind<Capture> = {
  name: 'captures',
  codec: captureCodec,
  key: (capture) => capture.id,
  timestampMs: (capture) => Math.floor(capture.captureTime / 1000),
};

export const resultKind: RecordKind<Result> = {
  name: 'results',
  codec: resultCodec,
  key: (result) => result.captureId,
  timestampMs: (result) => Math.floor((result.sentTime ?? result.scheduledTime) / 1000),
};
