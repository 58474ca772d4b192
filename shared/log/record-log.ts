import type { Codec } from '../records/codec.js';
import { captureCodec, resultCodec } from '../records/codec.js';
import type { Capture, Result } from '../records/types.js';

/** Where a record sits in a log: a Kafka partition/offset, or partition 0 and the record index in the file log. */
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
  signal?: AbortSignal;
  /** Told about each record that could not be decoded; it has already been moved to the dead-letter log. */
  onDeadLetter?: (position: Position, error: Error) => void;
  /** Told in one line about each damaged block or cut tail of the log (once per block), for the user. */
  onWarning?: (message: string) => void;
}

/**
 * The one seam between stages: a log of records of one kind (captures or results).
 * Kafka and the embedded Avro file log both implement it.
 */
export interface RecordLog<T> {
  /** Kafka topic or folder, for messages and Result.source. */
  readonly name: string;
  append(records: T[]): Promise<void>;
  read(options?: ReadOptions): AsyncIterable<LogEntry<T>>;
  /** Records that everything up to and including each position is done for `group`. */
  commit(group: string, positions: Position[]): Promise<void>;
  close(): Promise<void>;
}

/** What a log needs to know about a record kind. */
export interface RecordKind<T> {
  /** Suffix of the topic or folder: 'captures' or 'results'. */
  name: 'captures' | 'results';
  codec: Codec<T>;
  key(record: T): string;
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
