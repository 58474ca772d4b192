import type { Admin, KafkaMessage } from 'kafkajs';
import { ShadowtapError } from '../../shared/errors.js';
import { kafkaReadLimits } from '../../shared/log/kafka-read-limits.js';
import { readPartitions } from '../../shared/log/kafka-read-partitions.js';
import type { RecordDecoder } from '../../shared/log/kafka-record-decoder.js';
import type { Cluster } from '../../shared/log/kafkajs-cluster.js';
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
        // Each partition writes a snapshot a second: roll and compact often, so the topic stays about one snapshot a key.
        { name: 'segment.ms', value: String(10 * 60_000) },
        { name: 'min.cleanable.dirty.ratio', value: '0.1' },
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

/** The state keys of a group's partitions, by the state partition holding them. */
export function stateKeys(group: string, partitions: readonly number[], statePartitions: number): Map<number, string[]> {
  const keys = new Map<number, string[]>();
  for (const partition of partitions) {
    const at = statePartitionOf(partition, statePartitions);
    keys.set(at, [...(keys.get(at) ?? []), stateKey(group, partition)]);
  }
  return keys;
}

/** Decodes the snapshots of `wanted` keys; others (other groups') are passed over as `undefined`. */
const snapshotDecoder =
  (wanted: Set<string>): RecordDecoder<{ key: string; snapshot: PartitionSnapshot | null | undefined }> =>
  (message) => {
    const key = (message as KafkaMessage).key?.toString() ?? '';
    if (!wanted.has(key)) return { key, snapshot: undefined };
    try {
      return { key, snapshot: message.value ? (JSON.parse(message.value.toString()) as PartitionSnapshot) : null };
    } catch (error) {
      return new ShadowtapError('ST_BAD_RECORD', `state record ${key} is not a snapshot: ${(error as Error).message}`);
    }
  };

/**
 * The last committed snapshot of each of `keys` (by state partition), read backwards from the end
 * of each partition in growing windows: a partition's latest snapshot is among its last records,
 * and the log behind it (not compacted yet) can be long. read_committed: an aborted snapshot is
 * never seen.
 */
export async function readSnapshots(
  cluster: Cluster,
  admin: Admin,
  topic: string,
  keys: Map<number, string[]>,
  failure: (error: unknown) => Error,
): Promise<Map<string, PartitionSnapshot>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const latest = new Map<string, PartitionSnapshot>();
  // One partition after the other: kafkajs opens a broker's fetch connection on the first fetch,
  // and first fetches at once open sockets it never closes (see kafka-read-partitions.ts).
  for (const [partition, wanted] of keys) {
    const watermarks = offsets.find((o) => o.partition === partition);
    if (!watermarks) continue;
    const low = Number(watermarks.low);
    const end = Number(watermarks.high);
    const missing = new Set(wanted);
    for (let span = 16, start = end; missing.size > 0 && start > low; span *= 4) {
      const from = Math.max(low, end - span);
      const found = new Map<string, PartitionSnapshot | null>();
      const entries = readPartitions(
        {
          cluster,
          topic,
          decode: snapshotDecoder(missing),
          deadLetter: async () => undefined,
          earliest: async () => low,
          ranges: new Map([[partition, { start: from, end: start }]]),
          limits: kafkaReadLimits,
          failure,
        },
        {},
      );
      for await (const { value } of entries) if (value.snapshot !== undefined) found.set(value.key, value.snapshot);
      for (const [key, snapshot] of found) {
        missing.delete(key);
        // A tombstone (null value) ends a key's history.
        if (snapshot) latest.set(key, snapshot);
      }
      start = from;
    }
  }
  return latest;
}
