/** What the main thread and the producer thread say to each other (structured-clone messages). */

export interface ProducerThreadConfig {
  brokers: string[];
  clientId: string;
  topic: string;
  /** Record headers every message carries (schema name and version). */
  headers: Record<string, string>;
  compression: KafkaCompression;
}

/**
 * none: batches go as they are. gzip: every batch is gzipped (level 1, see kafkajs-lean-produce.ts).
 * auto: only batches of at least `compressMinBytes` are gzipped, so a quiet agent stays cheap
 * and a busy one saves network and broker disk. gzip runs on libuv's thread pool; measured with
 * 1 KB JSON captures it cost ~3 µs per record and saved ~15 % of the broker's CPU.
 */
export type KafkaCompression = 'none' | 'gzip' | 'auto';

/**
 * Batches this large are gzipped in `auto` mode. Smaller ones are what a lightly loaded agent
 * sends: a record or two, where gzip would cost a call per batch and gain little.
 */
export const compressMinBytes = 16 * 1024;

/**
 * One batch, encoded: keys and Avro values back to back in `bytes`; record i's key is
 * bytes[bounds[2i], bounds[2i+1]) and its value bytes[bounds[2i+1], bounds[2i+2]).
 * The buffers are transferred, not copied.
 */
export interface SendRequest {
  type: 'send';
  id: number;
  bytes: ArrayBuffer;
  bounds: Uint32Array;
}

export interface CloseRequest {
  type: 'close';
}

export interface SendReply {
  id: number;
  /** Absent when the broker acknowledged the batch. */
  error?: { message: string; name: string; transient: boolean };
}
