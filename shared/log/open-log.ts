import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { usageError } from '../errors.js';
import { openFileLog } from './file-log.js';
import { openLogInBackground, type BackgroundLog } from './background-log.js';
import { checkTopicName } from './kafka-topic-name.js';
import type { KafkaCompression } from './kafka-produce-protocol.js';
import { captureKind, type RecordKind, type RecordLog } from './record-log.js';

export interface LogOptions {
  /** Kafka bootstrap brokers; when set, Kafka is used. */
  brokers?: string[];
  /** Folder of the embedded Avro file log; the default when no brokers are given. */
  store?: string;
  /** Prefix of topic names: `${prefix}captures`, `${prefix}results`. */
  topicPrefix?: string;
  /** Partitions for topics created by shadowtap. */
  partitions?: number;
  /**
   * Partitions of an embedded store this log creates (default 1: one machine reads it whole;
   * results default to their captures' count); more let several diff workers split one store.
   * An existing store keeps its count: given another one, opening it is refused.
   */
  storePartitions?: number;
  /** Kafka: how long topics must keep records, ms (-1 for ever); see KafkaLogOptions.retentionMs. */
  retentionMs?: number;
  /** Kafka client id, for broker logs and quotas. */
  clientId?: string;
  /** Compression of batches appended to Kafka: none, gzip, or auto (gzip for large batches; the default). */
  compression?: KafkaCompression;
  /** Confluent Schema Registry URL (Kafka only): records in its wire format. */
  schemaRegistry?: string;
  /** For readers: the embedded log must exist already (Kafka topics are checked when read). */
  existing?: boolean;
}

export const defaultLogOptions = {
  store: '.shadowtap/store',
  topicPrefix: 'shadowtap.',
  partitions: 3,
  clientId: 'shadowtap',
};

/** Throws the usage error of brokers or a topic prefix that no broker could accept. */
function checkKafkaOptions(kind: RecordKind<unknown>, brokers: string[], options: LogOptions): void {
  if (brokers.some((b) => !/^[^\s:/]+:\d+$/.test(b))) {
    throw usageError(`--brokers must be host:port[,host:port...]; got "${brokers.join(',')}"`);
  }
  const topicPrefix = options.topicPrefix ?? defaultLogOptions.topicPrefix;
  checkTopicName(`${topicPrefix}${kind.name}`, topicPrefix);
}

/**
 * Opens a log for an agent that must work before the log is reachable (capture): Kafka is
 * reached in the background (appends fail, and are retried by the record queue, until it is);
 * the file log, on this machine, is opened at once. Mistaken options fail here either way.
 */
export async function openLogForAppending<T>(kind: RecordKind<T>, options: LogOptions): Promise<RecordLog<T> | BackgroundLog<T>> {
  const brokers = options.brokers ?? [];
  if (brokers.length === 0) return openLog(kind, options);
  checkKafkaOptions(kind as RecordKind<unknown>, brokers, options);
  return openLogInBackground(`${options.topicPrefix ?? defaultLogOptions.topicPrefix}${kind.name}`, () => openLog(kind, options));
}

/** Opens the captures or results log on Kafka or on the embedded file log. */
export async function openLog<T>(kind: RecordKind<T>, options: LogOptions): Promise<RecordLog<T>> {
  if (options.brokers && options.brokers.length > 0) {
    checkKafkaOptions(kind as RecordKind<unknown>, options.brokers, options);
    // Loaded only for Kafka: kafkajs and the Kafka read/write paths are a tenth of a second of every start.
    const { openKafkaLog } = await import('./kafka-log.js');
    return openKafkaLog(kind, {
      brokers: options.brokers,
      topicPrefix: options.topicPrefix ?? defaultLogOptions.topicPrefix,
      partitions: options.partitions ?? defaultLogOptions.partitions,
      clientId: options.clientId ?? defaultLogOptions.clientId,
      compression: options.compression,
      schemaRegistry: options.schemaRegistry,
      retentionMs: options.retentionMs,
    });
  }
  const store = options.store ?? defaultLogOptions.store;
  // A store's results are created with its captures' partition count: a capture and its results share a partition number.
  const partitions = options.storePartitions ?? (kind.name === 'results' ? await capturePartitionsOf(store) : undefined);
  const log = await openFileLog(kind, { dir: store, existing: options.existing, partitions });
  const count = options.storePartitions === undefined ? undefined : await log.partitionCount!();
  if (count !== undefined && count !== options.storePartitions) {
    await log.close();
    throw usageError(`--store-partitions ${options.storePartitions}: the ${kind.name} of ${store} already have ${count} partition${count === 1 ? '' : 's'}; a store keeps its count: drop the flag, or use a new --store`);
  }
  return log;
}

/** The partition count of a store's captures, when it has any. */
async function capturePartitionsOf(store: string): Promise<number | undefined> {
  if (!existsSync(join(store, 'captures'))) return undefined;
  const captures = await openFileLog(captureKind, { dir: store });
  try {
    return await captures.partitionCount!();
  } finally {
    await captures.close();
  }
}
