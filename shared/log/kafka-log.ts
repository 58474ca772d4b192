import kafkajs, { Kafka, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import { ShadowtapError, logUnreachable, usageError } from '../errors.js';
import { checkTopicName } from './kafka-topic-name.js';
import { isTransient, reasonOf } from './kafka-errors.js';
import type { KafkaCompression } from './kafka-produce-protocol.js';
import { ProducerThread, type RecordWriter } from './kafka-producer-thread.js';
import { readKafka } from './kafka-read.js';
import { kafkaReadLimits, type KafkaReadLimits } from './kafka-read-limits.js';
import { schemaHeader, schemaVersionHeader, wireFormatHeader } from './kafka-record-decoder.js';
import { createCluster, type Cluster } from './kafkajs-cluster.js';
import { kafkaClientConfig, producerConfig } from './kafka-client-config.js';
import { encodeFramedInto, RegistryCodec, SchemaRegistryClient, valueSubject } from '../records/schema-registry.js';
import type { LogEntry, Position, RecordKind, RecordLog } from './record-log.js';
import { deadLetterMessage } from './kafka-dead-letter.js';

export interface KafkaLogOptions {
  brokers: string[];
  /** Topic names are `${topicPrefix}${kind.name}`. */
  topicPrefix: string;
  /** Partitions of topics this log creates; existing topics keep theirs. */
  partitions: number;
  clientId: string;
  /** Compression of appended batches; `auto` (the default) gzips only large batches. */
  compression?: KafkaCompression;
  /** Confluent Schema Registry URL: records are written in its wire format under the topic's `-value` subject. */
  schemaRegistry?: string;
  /** What a read may hold in memory (default kafkaReadLimits). */
  readLimits?: Partial<KafkaReadLimits>;
  /**
   * How long the topics must keep records (ms; -1 for ever): topics this log creates get it as
   * retention.ms, and an existing topic that keeps records for less is refused. Unset: topics
   * get the broker's default retention and nothing is checked.
   */
  retentionMs?: number;
}


/** Opening gives up after this long, so a wrong address fails fast instead of hanging. */
const openTimeoutMs = 10_000;
/** Group errors meaning a rebalance moved the partitions: their records will be read again by the new owner. */
const rebalanceErrors = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);

/**
 * The captures or results log on Kafka: one topic per record kind, keyed by request id (so a
 * capture and its results share a partition number when partition counts match), the Avro
 * schema version in a header, undecodable records moved to `${topic}.dlq`.
 */
export async function openKafkaLog<T>(kind: RecordKind<T>, options: KafkaLogOptions): Promise<RecordLog<T>> {
  const { brokers, topicPrefix, partitions, clientId, compression = 'auto', schemaRegistry, retentionMs } = options;
  const readLimits = { ...kafkaReadLimits, ...options.readLimits };
  const topic = `${topicPrefix}${kind.name}`;
  const deadLetterTopic = `${topic}.dlq`;
  const where = brokers.join(',');
  checkTopicName(topic, topicPrefix);
  const kafka = new Kafka(kafkaClientConfig(brokers, clientId));

  const failure = (action: string, error: unknown): ShadowtapError => {
    if (error instanceof ShadowtapError) return error;
    const message = `cannot ${action} on Kafka at ${where}: ${reasonOf(error)}`;
    return isTransient(error)
      ? logUnreachable(`${message}. Check that the broker is running.`, error)
      : new ShadowtapError('ST_LOG_IO', message, { cause: error });
  };

  const admin = kafka.admin();
  let replicationFactor = 1;
  /** A topic's retention.ms (-1: for ever); undefined when the broker does not say. */
  const retentionOf = async (name: string): Promise<number | undefined> => {
    const { resources } = await admin.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] }], includeSynonyms: false });
    const value = resources[0]?.configEntries.find((entry) => entry.configName === 'retention.ms')?.configValue;
    return value === undefined || value === null ? undefined : Number(value);
  };
  const ensureTopic = async (name: string) => {
    if (!(await admin.listTopics()).includes(name)) {
      const configEntries = retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(retentionMs) }];
      await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions, replicationFactor, configEntries }], waitForLeaders: true }).catch(async (error: unknown) => {
        // A loaded broker can answer the leader wait before the new topic's metadata has spread:
        // the topic exists, so wait for its leaders again (bounded by the open timeout above).
        if ((error as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
        for (const until = Date.now() + openTimeoutMs; Date.now() < until; ) {
          const ready = await admin.fetchTopicMetadata({ topics: [name] }).then((m) => m.topics[0]?.partitions.every((p) => p.leader >= 0) === true, () => false);
          if (ready) return;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        throw error;
      });
      return;
    }
    if (retentionMs === undefined) return;
    const kept = await retentionOf(name);
    if (kept !== undefined && kept >= 0 && (retentionMs < 0 || kept < retentionMs)) {
      throw usageError(
        `topic ${name} keeps records for ${formatRetention(kept)}, less than --retention ${formatRetention(retentionMs)}: ` +
          `raise it (kafka-configs.sh --alter --entity-type topics --entity-name ${name} --add-config retention.ms=${retentionMs}) or give a shorter --retention`,
      );
    }
  };

  let timer: NodeJS.Timeout | undefined;
  let reached = false;
  try {
    await Promise.race([
      (async () => {
        await admin.connect();
        const cluster = await admin.describeCluster();
        reached = true;
        replicationFactor = Math.min(3, cluster.brokers.length);
        await ensureTopic(topic);
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${openTimeoutMs / 1000} s`)), openTimeoutMs);
      }),
    ]);
  } catch (error) {
    await admin.disconnect().catch(() => undefined);
    if (reached) throw failure(`create topic ${topic}`, error);
    throw logUnreachable(
      `cannot reach Kafka at ${where}: ${reasonOf(error)}. Check --brokers / KAFKA_BROKERS and that the broker is running.`,
      error,
    );
  } finally {
    clearTimeout(timer);
  }

  const registry = schemaRegistry
    ? await registerSchema(kind, topic, schemaRegistry).catch(async (error) => {
        // A log that failed to open must not keep the process alive through its admin connection.
        await admin.disconnect().catch(() => undefined);
        throw error;
      })
    : undefined;
  /**
   * The one line to tell a window read that starts before what the topic still holds: records
   * appended longer ago than its retention were deleted (a partition's low watermark moved), so
   * the window may miss some. (Records are stamped with their append time, so a recording
   * imported today is kept its full retention whatever its capture times.)
   */
  const retentionWarning = async (fromMs: number): Promise<string | undefined> => {
    try {
      const kept = await retentionOf(topic);
      if (kept === undefined || kept < 0 || fromMs >= Date.now() - kept) return undefined;
      const deleted = (await admin.fetchTopicOffsets(topic)).some(({ low }) => Number(low) > 0);
      if (!deleted) return undefined;
      return `${topic} keeps records for ${formatRetention(kept)} and has deleted older ones: the window from ${new Date(fromMs).toISOString()} may miss records appended before ${new Date(Date.now() - kept).toISOString()} (see --retention)`;
    } catch {
      // Only a warning: the read itself reports a broker that cannot be reached.
      return undefined;
    }
  };

  // Appends go through a producer thread; this producer only moves undecodable records aside.
  const appender = new ProducerThread({
    brokers,
    clientId,
    topic,
    headers: {
      [schemaHeader]: kind.codec.name,
      [schemaVersionHeader]: String(kind.codec.version),
      ...(registry && { [wireFormatHeader]: 'confluent' }),
    },
    compression,
  });
  let producer: Promise<Producer> | undefined;
  const connectedProducer = (): Promise<Producer> => {
    producer ??= (async () => {
      const created = kafka.producer(producerConfig);
      await created.connect();
      return created;
    })().catch((error) => {
      producer = undefined;
      throw error;
    });
    return producer;
  };

  let deadLetterReady: Promise<void> | undefined;
  const deadLetter = async (message: KafkaMessage, partition: number, error: Error) => {
    deadLetterReady ??= ensureTopic(deadLetterTopic).catch((cause) => {
      deadLetterReady = undefined;
      throw cause;
    });
    try {
      await deadLetterReady;
      await (await connectedProducer()).send({
        topic: deadLetterTopic,
        acks: -1,
        messages: [deadLetterMessage(message, topic, partition, error)],
      });
    } catch (cause) {
      throw failure(`write to dead-letter topic ${deadLetterTopic}`, cause);
    }
  };

  // Bounded reads fetch and commit through a cluster of their own, connected on first use.
  let cluster: Promise<Cluster> | undefined;
  const connectedCluster = (): Promise<Cluster> => {
    cluster ??= (async () => {
      const created = createCluster(kafka);
      await created.connect();
      await created.addTargetTopic(topic);
      return created;
    })().catch((error) => {
      cluster = undefined;
      throw error;
    });
    return cluster;
  };
  /**
   * Commits as a consumer outside the group (generation -1, no member id), as Kafka allows while
   * the group has no members: one request to the coordinator, no join.
   */
  const commitFromOutside = async (group: string, offsets: Array<{ partition: number; offset: string }>) => {
    const coordinator = await (await connectedCluster()).findGroupCoordinator({ groupId: group });
    await coordinator.offsetCommit({ groupId: group, groupGenerationId: -1, memberId: '', retentionTime: -1, topics: [{ topic, partitions: offsets }] });
  };

  const consumersByGroup = new Map<string, Set<Consumer>>();
  const endReads = new Set<() => void>();
  // Reads whose consumer is leaving its group: a commit right after a read ends must wait for
  // the group to be empty before it can set offsets from outside.
  const leaving = new Map<string, Set<Promise<void>>>();
  const track = (group: string, consumer: Consumer, end: () => void) => {
    const consumers = consumersByGroup.get(group) ?? new Set();
    consumersByGroup.set(group, consumers.add(consumer));
    endReads.add(end);
    return (left: Promise<void>) => {
      endReads.delete(end);
      consumers.delete(consumer);
      if (consumers.size === 0) consumersByGroup.delete(group);
      const pending = leaving.get(group) ?? new Set();
      leaving.set(group, pending.add(left));
      void left.then(() => pending.delete(left));
      return left;
    };
  };

  const writer: RecordWriter<T> = {
    key: kind.key,
    writeValue: registry
      ? (record, target, offset) => encodeFramedInto(registry.schemaId, kind.codec, record, target, offset)
      : kind.codec.encodeInto,
  };

  return {
    name: topic,

    async append(records: T[]): Promise<void> {
      if (records.length === 0) return;
      try {
        // Avro encoding stays here (the records are objects of this thread); the rest is the producer thread's.
        await appender.send(records, writer);
      } catch (error) {
        throw failure(`write to topic ${topic}`, error);
      }
    },

    read(readOptions = {}) {
      const entries = readKafka({ kafka, admin, topic, kind, deadLetter, track, failure, registry: registry?.codec, cluster: connectedCluster, limits: readLimits }, readOptions);
      const read = readOptions.partitions ? onlyPartitions(entries, readOptions.partitions) : entries;
      return readOptions.fromMs === undefined || !readOptions.onWarning ? read : warnedFirst(retentionWarning(readOptions.fromMs), readOptions.onWarning, read);
    },

    async partitionCount(): Promise<number> {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        return topics[0]!.partitions.length;
      } catch (error) {
        throw failure(`describe topic ${topic}`, error);
      }
    },

    async commit(group: string, positions: Position[]): Promise<void> {
      // Kafka's committed offset is the next one to read.
      const next = new Map<number, number>();
      for (const { partition, offset } of positions) next.set(partition, Math.max(next.get(partition) ?? -1, offset + 1));
      if (next.size === 0) return;
      const offsets = [...next].map(([partition, offset]) => ({ partition, offset: String(offset) }));
      const [member] = consumersByGroup.get(group) ?? [];
      try {
        if (member) await member.commitOffsets(offsets.map((offset) => ({ topic, ...offset })));
        else {
          await Promise.all(leaving.get(group) ?? []);
          await commitFromOutside(group, offsets);
        }
      } catch (error) {
        const kafkaError = error as { type?: string; cause?: { type?: string } };
        // A member's commit refused by a rebalance: the partition's new owner reads those records again.
        const refused = rebalanceErrors.has(kafkaError.type ?? kafkaError.cause?.type ?? '');
        if (member && refused) return;
        if (refused) {
          // A commit from outside is taken only while the group has no members: a worker joined it.
          throw new ShadowtapError(
            'ST_RUNTIME',
            `commit offsets of group ${group}: a worker joined the group, which now owns its partitions; this read (a window or a solo follow) stops so that no capture is sent twice: give it a group of its own (--group), or follow as a member without --solo`,
          );
        }
        throw failure(`commit offsets of group ${group}`, error);
      }
    },

    async close(): Promise<void> {
      for (const end of endReads) end();
      const consumers = [...consumersByGroup.values()].flatMap((set) => [...set]);
      await Promise.all(consumers.map((consumer) => consumer.disconnect().catch(() => undefined)));
      await appender.close();
      if (producer) await (await producer.catch(() => undefined))?.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      if (cluster) await (await cluster.catch(() => undefined))?.disconnect().catch(() => undefined);
    },
  };
}

/** Registers the record kind's current schema once, so every append only frames its bytes. */
async function registerSchema<T>(kind: RecordKind<T>, topic: string, url: string): Promise<{ schemaId: number; codec: RegistryCodec<T> }> {
  const client = new SchemaRegistryClient({ url });
  try {
    const schemaId = await client.register(valueSubject(topic), kind.codec.type);
    return { schemaId, codec: new RegistryCodec(client, topic, kind.codec) };
  } catch (error) {
    throw logUnreachable(`cannot register the ${kind.codec.name} schema at the schema registry ${url}: ${(error as Error).message}. Check --schema-registry.`, error);
  }
}

/** Tells `warn` the one line `check` finds (if any) before the entries come. */
async function* warnedFirst<T>(check: Promise<string | undefined>, warn: (message: string) => void, entries: AsyncIterable<LogEntry<T>>): AsyncGenerator<LogEntry<T>> {
  const warning = await check;
  if (warning) warn(warning);
  yield* entries;
}

const dayMs = 86_400_000;
/** "7d", "36h", "90m", "for ever". */
export function formatRetention(ms: number): string {
  if (ms < 0) return 'for ever';
  if (ms % dayMs === 0) return `${ms / dayMs}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

/** A read of some partitions: the Kafka reader covers the whole topic, the others' entries are passed over. */
async function* onlyPartitions<T>(entries: AsyncIterable<LogEntry<T>>, partitions: number[]): AsyncGenerator<LogEntry<T>> {
  const wanted = new Set(partitions);
  for await (const entry of entries) if (wanted.has(entry.position.partition)) yield entry;
}
