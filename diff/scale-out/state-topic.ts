import type { Admin, KafkaMessage } from 'kafkajs';
import { ShadowtapError } from '../../shared/errors.js';
import { kafkaReadLimits } from '../../shared/log/kafka-read-limits.js';
import { readPartitions } from '../../shared/log/kafka-read-partitions.js';
import type { RecordDecoder } from '../../shared/log/kafka-record-decoder.js';
import type { Cluster } from '../../shared/log/kafkajs-cluster.js';
import type { LogEntry } from '../../shared/log/record-log.js';
import type { PartitionSnapshot } from './partition-state.js';

/** Topic names of a group of diff workers, beside the captures and results topics. */
export function scaleOutTopics(topicPrefix: string) {
  return {
    captures: `${topicPrefix}captures`,
    results: `${topicPrefix}results`,
    /** Compacted: the last snapshot of each group's partition, keyed `<group>/<partition>`. */
    state: `${topicPrefix}diff-state`,
    verdicts: `${topicPrefix}verdicts`,
  };
}

/** A snapshot holds a join window of offsets and ids and a bounded summary: more than Kafka's 1 MB default. */
const stateMessageBytes = 32 * 1024 * 1024;

export const stateKey = (group: string, partition: number) => `${group}/${partition}`;

/** Creates the state and verdicts topics when missing, with the partition count of the topics read. */
export async function ensureScaleOutTopics(admin: Admin, topicPrefix: string, partitions: number, replicationFactor: number): Promise<void> {
  const topics = scaleOutTopics(topicPrefix);
  const existing = new Set(await admin.listTopics());
  const wanted = [
    {
      topic: topics.state,
      numPartitions: partitions,
      replicationFactor,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'max.message.bytes', value: String(stateMessageBytes) },
      ],
    },
    { topic: topics.verdicts, numPartitions: partitions, replicationFactor },
  ].filter(({ topic }) => !existing.has(topic));
  if (wanted.length === 0) return;
  try {
    await admin.createTopics({ topics: wanted, waitForLeaders: true });
  } catch (error) {
    // Another worker of the group created them first.
    if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
  }
}

/** The state partition holding a group partition's snapshots: the same number when the state topic has as many partitions. */
export const statePartitionOf = (partition: number, statePartitions: number) => partition % statePartitions;

const snapshotDecoder =
  (keyPrefix: string): RecordDecoder<{ key: string; snapshot: PartitionSnapshot | null }> =>
  (message) => {
    const key = (message as KafkaMessage).key?.toString() ?? '';
    if (!key.startsWith(keyPrefix)) return { key, snapshot: null };
    try {
      return { key, snapshot: message.value ? (JSON.parse(message.value.toString()) as PartitionSnapshot) : null };
    } catch (error) {
      return new ShadowtapError('ST_BAD_RECORD', `state record ${key} is not a snapshot: ${(error as Error).message}`);
    }
  };

/**
 * The last committed snapshot of every key starting with `keyPrefix` in the given state
 * partitions, read up to their end now (read_committed: an aborted snapshot is never seen).
 */
export async function readSnapshots(
  cluster: Cluster,
  admin: Admin,
  topic: string,
  partitions: number[],
  keyPrefix: string,
  failure: (error: unknown) => Error,
): Promise<Map<string, PartitionSnapshot>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const ranges = new Map(
    offsets.filter(({ partition }) => partitions.includes(partition)).map(({ partition, low, high }) => [partition, { start: Number(low), end: Number(high) }]),
  );
  const latest = new Map<string, PartitionSnapshot>();
  const entries: AsyncIterable<LogEntry<{ key: string; snapshot: PartitionSnapshot | null }>> = readPartitions(
    {
      cluster,
      topic,
      decode: snapshotDecoder(keyPrefix),
      deadLetter: async () => undefined,
      earliest: async (partition) => Number((await admin.fetchTopicOffsets(topic)).find((p) => p.partition === partition)?.low ?? 0),
      ranges,
      limits: kafkaReadLimits,
      failure,
    },
    {},
  );
  for await (const { value } of entries) {
    if (!value.key.startsWith(keyPrefix)) continue;
    // A tombstone (null value) ends a key's history.
    if (value.snapshot) latest.set(value.key, value.snapshot);
    else latest.delete(value.key);
  }
  return latest;
}
