import { Kafka, logLevel, type Admin, type Consumer, type Message } from 'kafkajs';
import { ShadowtapError, logUnreachable, usageError } from '../../shared/errors.js';
import { coPartitionAssigner, coPartitionProblem } from '../../shared/log/co-partition-assigner.js';
import { deadLetterMessage } from '../../shared/log/kafka-dead-letter.js';
import { isTransient, reasonOf } from '../../shared/log/kafka-errors.js';
import { kafkaReadLimits } from '../../shared/log/kafka-read-limits.js';
import { readPartitions } from '../../shared/log/kafka-read-partitions.js';
import { recordDecoder, schemaHeader, schemaVersionHeader, wireFormatHeader } from '../../shared/log/kafka-record-decoder.js';
import { isFenced, TransactionalProducer } from '../../shared/log/kafka-transactional-producer.js';
import { createCluster, type Cluster } from '../../shared/log/kafkajs-cluster.js';
import { captureKind, resultKind, type LogEntry, type RecordKind } from '../../shared/log/record-log.js';
import { encodeFramed, RegistryCodec, SchemaRegistryClient, valueSubject } from '../../shared/records/schema-registry.js';
import type { Capture, Result } from '../../shared/records/types.js';
import type { GroupBackend, GroupHooks, PartitionStore } from './group-backend.js';
import type { PartitionSnapshot, PartitionState, PendingVerdict } from './partition-state.js';
import { ensureScaleOutTopics, readSnapshots, scaleOutTopics, stateKey, stateKeys, statePartitionOf } from './state-topic.js';
import { verdictCodec, verdictOf, type Verdict } from './verdict-record.js';

export interface KafkaGroupOptions {
  brokers: string[];
  topicPrefix: string;
  clientId: string;
  group: string;
  /** Partitions of the captures and results topics when this worker creates them. */
  partitions: number;
  /** Confluent Schema Registry URL: verdicts are written in its wire format (what Kafka Connect's AvroConverter reads), framed records of other producers are read. */
  schemaRegistry?: string;
  /** Where a partition with no state yet starts: the offset of this time, else the beginning. */
  fromMs?: number;
  /** Write each judged pair to the verdicts topic (default true); off, only state and offsets are committed (bench/diff-scale-out.ts measures the difference). */
  writeVerdicts?: boolean;
}

/** Longer than any commit: a transaction left open by a killed worker is aborted by the broker past this. */
const transactionTimeoutMs = 60_000;
/** Topics another worker is creating at the same moment exist before their partitions have leaders. */
const creationRaces = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Diff workers in a Kafka consumer group. A co-partitioning assignor gives each the same
 * partition numbers of the captures and results topics. Each partition commits in one Kafka
 * transaction of its own transactional id: its verdicts (verdicts topic), its snapshot
 * (compacted state topic) and the offsets it covers (the group's offsets); taking the id over
 * fences the previous owner.
 */
export async function openKafkaGroup(options: KafkaGroupOptions): Promise<GroupBackend> {
  const { brokers, group } = options;
  const where = brokers.join(',');
  const kafka = new Kafka({ clientId: options.clientId, brokers, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 3, initialRetryTime: 250, maxRetryTime: 2000 } });
  const failure = (action: string) => (error: unknown) => {
    if (error instanceof ShadowtapError) return error;
    const message = `cannot ${action} on Kafka at ${where}: ${reasonOf(error)}`;
    return isTransient(error) ? logUnreachable(`${message}. Check that the broker is running.`, error) : new ShadowtapError('ST_LOG_IO', message, { cause: error });
  };
  const admin = kafka.admin();
  const cluster = createCluster(kafka);
  try {
    const partitionCount = await preparedTopics(admin, cluster, options).catch((error) => {
      throw failure('prepare the topics of diff group ' + group)(error);
    });
    return await KafkaGroup.create(kafka, admin, cluster, partitionCount, options, failure);
  } catch (error) {
    await admin.disconnect().catch(() => undefined);
    await cluster.disconnect().catch(() => undefined);
    throw error;
  }
}

async function preparedTopics(admin: Admin, cluster: Cluster, options: KafkaGroupOptions): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await prepareTopics(admin, cluster, options);
    } catch (error) {
      const type = (error as { type?: string }).type ?? '';
      if (attempt >= 10 || !creationRaces.has(type)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** Checks the topics read are co-partitioned and creates what is missing; returns their partition count. */
async function prepareTopics(admin: Admin, cluster: Cluster, options: KafkaGroupOptions): Promise<number> {
  const topics = scaleOutTopics(options.topicPrefix);
  await admin.connect();
  const { brokers } = await admin.describeCluster();
  const replicationFactor = Math.min(3, brokers.length);
  const existing = new Set(await admin.listTopics());
  const missing = [topics.captures, topics.results, `${topics.captures}.dlq`, `${topics.results}.dlq`].filter((topic) => !existing.has(topic));
  if (missing.length > 0) {
    await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: options.partitions, replicationFactor })), waitForLeaders: true }).catch((error) => {
      if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
    });
  }
  const metadata = await admin.fetchTopicMetadata({ topics: [topics.captures, topics.results] });
  const counts = metadata.topics.map(({ name, partitions }) => ({ topic: name, partitions: partitions.length }));
  const problem = coPartitionProblem(counts);
  if (problem) throw usageError(problem);
  const partitions = counts[0]!.partitions;
  await ensureScaleOutTopics(admin, options.topicPrefix, partitions, replicationFactor);
  await cluster.connect();
  await cluster.addTargetTopic(topics.captures);
  await cluster.addTargetTopic(topics.results);
  await cluster.addTargetTopic(topics.state);
  return partitions;
}

/** One partition's transactional producer, its last snapshot and the dead letters met since its last commit. */
class KafkaPartitionStore implements PartitionStore {
  readonly deadLetters: Array<{ topic: string; messages: Message[] }> = [];

  constructor(
    private readonly owner: KafkaGroup,
    private readonly partition: number,
    private readonly producer: TransactionalProducer,
    readonly snapshot: PartitionSnapshot | undefined,
  ) {}

  startOffsets() {
    return this.owner.startOffsets(this.partition);
  }

  reread<T>(kind: RecordKind<T>, range: { start: number; end: number }) {
    return this.owner.reread(kind, this.partition, range);
  }

  async commit(snapshot: PartitionSnapshot, verdicts: PendingVerdict[]): Promise<void> {
    const dead = this.deadLetters.splice(0);
    await this.producer.commit(this.owner.transaction(this.partition, snapshot, verdicts, dead));
  }

  close(): Promise<void> {
    this.owner.forget(this.partition, this);
    return this.producer.close();
  }
}

class KafkaGroup implements GroupBackend<KafkaPartitionStore> {
  private readonly topics: ReturnType<typeof scaleOutTopics>;
  private readonly stores = new Map<number, KafkaPartitionStore>();
  private consumer: Consumer | undefined;
  private generation = 0;
  private ready: Promise<void> = Promise.resolve();

  private constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly cluster: Cluster,
    readonly partitionCount: number,
    private readonly options: KafkaGroupOptions,
    readonly failure: (action: string) => (error: unknown) => Error,
    private readonly statePartitions: number,
    private readonly registry: SchemaRegistryClient | undefined,
    private readonly verdictSchemaId: number | undefined,
  ) {
    this.topics = scaleOutTopics(options.topicPrefix);
  }

  static async create(kafka: Kafka, admin: Admin, cluster: Cluster, partitionCount: number, options: KafkaGroupOptions, failure: (action: string) => (error: unknown) => Error): Promise<KafkaGroup> {
    const topics = scaleOutTopics(options.topicPrefix);
    const statePartitions = (await admin.fetchTopicMetadata({ topics: [topics.state] })).topics[0]!.partitions.length;
    const registry = options.schemaRegistry === undefined ? undefined : new SchemaRegistryClient({ url: options.schemaRegistry });
    const verdictSchemaId = registry
      ? await registry.register(valueSubject(topics.verdicts), verdictCodec.type).catch((error) => {
          throw logUnreachable(`cannot register the verdict schema at the schema registry ${options.schemaRegistry}: ${reasonOf(error)}. Check --schema-registry.`, error);
        })
      : undefined;
    return new KafkaGroup(kafka, admin, cluster, partitionCount, options, failure, statePartitions, registry, verdictSchemaId);
  }

  isFenced(error: unknown): boolean {
    return isFenced(error);
  }

  isTransient(error: unknown): boolean {
    return isTransient(error);
  }

  forget(partition: number, store: KafkaPartitionStore): void {
    if (this.stores.get(partition) === store) this.stores.delete(partition);
  }

  private decoder<T>(topic: string, kind: RecordKind<T>) {
    return recordDecoder(topic, kind, this.registry && new RegistryCodec(this.registry, topic, kind.codec));
  }

  async open(partition: number): Promise<KafkaPartitionStore> {
    // The transactional id first: it fences the previous owner before its state is read.
    const producer = await TransactionalProducer.connect(this.kafka, `shadowtap-diff.${this.options.topicPrefix}${this.options.group}.${partition}`, transactionTimeoutMs);
    try {
      const key = stateKey(this.options.group, partition);
      const snapshots = await readSnapshots(this.cluster, this.admin, this.topics.state, stateKeys(this.options.group, [partition], this.statePartitions), this.failure(`read topic ${this.topics.state}`));
      const store = new KafkaPartitionStore(this, partition, producer, snapshots.get(key));
      this.stores.set(partition, store);
      return store;
    } catch (error) {
      await producer.close();
      throw error;
    }
  }

  /** Where a partition with no state starts: the first record at or after fromMs, else the beginning. */
  async startOffsets(partition: number): Promise<{ captures: number; results: number }> {
    const [captures, results] = await Promise.all([this.startOffset(this.topics.captures, partition), this.startOffset(this.topics.results, partition)]);
    return { captures, results };
  }

  private async startOffset(topic: string, partition: number): Promise<number> {
    const watermarks = (await this.admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition);
    if (this.options.fromMs === undefined) return Number(watermarks?.low ?? 0);
    const byTime = Number((await this.admin.fetchTopicOffsetsByTimestamp(topic, this.options.fromMs)).find((o) => o.partition === partition)?.offset ?? -1);
    // No record at or after fromMs yet: start at the end.
    return byTime >= 0 ? byTime : Number(watermarks?.high ?? 0);
  }

  async reread<T>(kind: RecordKind<T>, partition: number, range: { start: number; end: number }): Promise<Map<number, LogEntry<T>>> {
    const topic = kind.name === 'captures' ? this.topics.captures : this.topics.results;
    const found = new Map<number, LogEntry<T>>();
    const entries = readPartitions(
      {
        cluster: this.cluster,
        topic,
        decode: this.decoder(topic, kind),
        deadLetter: async () => undefined,
        earliest: async (p) => Number((await this.admin.fetchTopicOffsets(topic)).find((o) => o.partition === p)?.low ?? 0),
        ranges: new Map([[partition, range]]),
        limits: kafkaReadLimits,
        failure: this.failure(`read topic ${topic}`),
      },
      {},
    );
    for await (const entry of entries) found.set(entry.position.offset, entry);
    return found;
  }

  /** What one partition's commit writes: its verdicts, its snapshot, its dead letters and its offsets. */
  transaction(partition: number, snapshot: PartitionSnapshot, verdicts: PendingVerdict[], dead: Array<{ topic: string; messages: Message[] }>) {
    const headers = { [schemaHeader]: verdictCodec.name, [schemaVersionHeader]: String(verdictCodec.version), ...(this.verdictSchemaId !== undefined && { [wireFormatHeader]: 'confluent' }) };
    const encode = (verdict: Verdict) => (this.verdictSchemaId === undefined ? verdictCodec.encode(verdict) : encodeFramed(this.verdictSchemaId, verdictCodec.encode(verdict)));
    const messages: Message[] = (this.options.writeVerdicts === false ? [] : verdicts).map(({ record, timeMs }) => ({ key: record.captureId, value: encode(verdictOf(record, timeMs)), timestamp: String(timeMs), headers }));
    return {
      messages: [
        ...(messages.length > 0 ? [{ topic: this.topics.verdicts, messages }] : []),
        { topic: this.topics.state, messages: [{ key: stateKey(this.options.group, partition), value: JSON.stringify(snapshot), partition: statePartitionOf(partition, this.statePartitions) }] },
        ...dead,
      ],
      offsets: {
        group: this.options.group,
        topics: [
          { topic: this.topics.captures, partitions: [{ partition, offset: String(snapshot.next.captures) }] },
          { topic: this.topics.results, partitions: [{ partition, offset: String(snapshot.next.results) }] },
        ],
      },
    };
  }

  resume(partition: number, state: PartitionState): void {
    // kafkajs fetches a partition it is given from the committed offsets: seek to where the state is.
    this.consumer?.seek({ topic: this.topics.captures, partition, offset: String(state.next.captures) });
    this.consumer?.seek({ topic: this.topics.results, partition, offset: String(state.next.results) });
  }

  async start(hooks: GroupHooks): Promise<void> {
    const { topics } = this;
    const decoders = { captures: this.decoder(topics.captures, captureKind), results: this.decoder(topics.results, resultKind) };
    const consumer = this.kafka.consumer({
      groupId: this.options.group,
      partitionAssigners: [coPartitionAssigner],
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 500,
      maxBytesPerPartition: kafkaReadLimits.partitionFetchBytes * 16,
      // A killed worker holds its partitions until its session expires: keep that short.
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1000,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.generation += 1;
      this.ready = hooks.assign(payload.memberAssignment[topics.captures] ?? []).catch(hooks.fail);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) hooks.fail(payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.captures, topics.results], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const batchGeneration = this.generation;
        await this.ready;
        if (isStale() || batchGeneration !== this.generation) return;
        const { partition } = batch;
        const state = hooks.state(partition);
        const store = this.stores.get(partition);
        if (!state || !store) return;
        const from = batch.topic === topics.captures ? 'captures' : 'results';
        let count = 0;
        for (const message of batch.messages) {
          if (!isRunning() || this.generation !== batchGeneration || hooks.state(partition) !== state) return;
          const offset = Number(message.offset);
          // Records before the state's next offset are in it already (a fetch from before a seek).
          if (offset < state.next[from]) continue;
          const position = { partition, offset };
          const decoded = decoders[from](message, position);
          const value = decoded instanceof Promise ? await decoded : decoded;
          if (value instanceof ShadowtapError) {
            store.deadLetters.push({ topic: `${batch.topic}.dlq`, messages: [deadLetterMessage(message, batch.topic, partition, value)] });
            state.skip(from, offset);
          } else if (from === 'captures') state.addCapture({ value: value as Capture, position, timestampMs: Number(message.timestamp) });
          else state.addResult({ value: value as Result, position, timestampMs: Number(message.timestamp) });
          resolveOffset(message.offset);
          if (++count % 200 === 0) await heartbeat();
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    await this.cluster.disconnect().catch(() => undefined);
  }
}
