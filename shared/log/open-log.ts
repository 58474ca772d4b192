import { usageError } from '../errors.js';
import { openFileLog } from './file-log.js';
import { openKafkaLog } from './kafka-log.js';
import type { KafkaCompression } from './kafka-produce-protocol.js';
import type { RecordKind, RecordLog } from './record-log.js';

export interface LogOptions {
  /** Kafka bootstrap brokers; when set, Kafka is used. */
  brokers?: string[];
  /** Folder of the embedded Avro file log; the default when no brokers are given. */
  store?: string;
  /** Prefix of topic names: `${prefix}captures`, `${prefix}results`. */
  topicPrefix?: string;
  /** Partitions for topics created by shadowtap. */
  partitions?: number;
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

/** Opens the captures or results log on Kafka or on the embedded file log. */
export async function openLog<T>(kind: RecordKind<T>, options: LogOptions): Promise<RecordLog<T>> {
  if (options.brokers && options.brokers.length > 0) {
    if (options.brokers.some((b) => !/^[^\s:/]+:\d+$/.test(b))) {
      throw usageError(`--brokers must be host:port[,host:port...]; got "${options.brokers.join(',')}"`);
    }
    return openKafkaLog(kind, {
      brokers: options.brokers,
      topicPrefix: options.topicPrefix ?? defaultLogOptions.topicPrefix,
      partitions: options.partitions ?? defaultLogOptions.partitions,
      clientId: options.clientId ?? defaultLogOptions.clientId,
      compression: options.compression,
      schemaRegistry: options.schemaRegistry,
    });
  }
  return openFileLog(kind, { dir: options.store ?? defaultLogOptions.store, existing: options.existing });
}
