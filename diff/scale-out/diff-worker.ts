import { Kafka, logLevel, type Admin, type Consumer, type Message } from 'kafkajs';
import { ShadowtapError, logUnreachable, usageError } from '../../shared/errors.js';
import { coPartitionAssigner, coPartitionProblem } from '../../shared/log/co-partition-assigner.js';
import { isTransient, reasonOf } from '../../shared/log/kafka-errors.js';
import { kafkaReadLimits } from '../../shared/log/kafka-read-limits.js';
import { readPartitions } from '../../shared/log/kafka-read-partitions.js';
import { recordDecoder, schemaHeader, schemaVersionHeader, wireFormatHeader } from '../../shared/log/kafka-record-decoder.js';
import { isFenced, TransactionalProducer } from '../../shared/log/kafka-transactional-producer.js';
import { createCluster, type Cluster } from '../../shared/log/kafkajs-cluster.js';
import { captureKind, resultKind, type LogEntry, type RecordKind } from '../../shared/log/record-log.js';
import { encodeFramed, RegistryCodec, SchemaRegistryClient, valueSubject } from '../../shared/records/schema-registry.js';
import type { Capture, Result } from '../../shared/records/types.js';
import { compileRules, type RuleOptions } from '../compare-pair.js';
import type { NoiseThresholds } from '../field-calibration.js';
import type { PairRecord } from '../pair-record.js';
import { parseRoutePattern } from '../route-template.js';
import { diffDefaults } from '../diff-defaults.js';
import { deadLetterMessage } from '../../shared/log/kafka-dead-letter.js';
import { originOf } from '../run-diff.js';
import { PartitionState, rereadRanges, type PairingContext, type PartitionSnapshot } from './partition-state.js';
import { ensureScaleOutTopics, readSnapshots, scaleOutTopics, stateKey, stateKeys, statePartitionOf } from './state-topic.js';
import { verdictCodec, verdictOf, type Verdict } from './verdict-record.js';

export interface DiffWorkerOptions extends RuleOptions {
  brokers: string[];
  topicPrefix: string;
  clientId: string;
  /** Consumer group of the workers; also names their state in the state topic. */
  group: string;
  /** Partitions of the captures and results topics when this worker creates them. */
  partitions: number;
  /** Confluent Schema Registry URL: verdicts are written in its wire format (what Kafka Connect's AvroConverter reads), framed records of other producers are read. */
  schemaRegistry?: string;
  /** Where a partition with no state yet starts: the offset of this time, else the beginning. */
  fromMs?: number;
  routes?: readonly string[];
  samplesPerRoute?: number;
  bucketMs?: number;
  /** Most captures (and, apart, most early results) held while pairing, shared out evenly over the partitions. */
  joinWindow?: number;
  baselineTarget?: string;
  noiseThresholds?: NoiseThresholds;
  /** Write each judged pair to the verdicts topic (default true); off, only state and offsets are committed (bench/diff-scale-out.ts measures the difference). */
  writeVerdicts?: boolean;
  /** How often each partition's state, verdicts and offsets are committed in one transaction. */
  commitIntervalMs?: number;
  signal: AbortSignal;
  /** Told the verdicts of each committed transaction, once: metrics count only what is committed. */
  onCommitted?(records: PairRecord[]): void;
  /** Told the partition numbers this worker owns after each rebalance, once their state is restored. */
  onAssigned?(partitions: number[]): void;
  onWarning?(message: string): void;
}

export const defaultCommitIntervalMs = 1000;
/** Longer than any commit: a transaction left open by a killed worker is aborted by the broker past this. */
const transactionTimeoutMs = 60_000;

/**
 * One diff worker of a consumer group. It reads the captures and results topics with a
 * co-partitioning assignor, so it owns the same partition numbers of both; for each it keeps a
 * join and a partial summary (PartitionState). Every commitIntervalMs, each partition that read
 * anything commits, in one Kafka transaction of its own transactional id: the verdicts judged
 * since the last commit (verdicts topic), its snapshot (compacted state topic) and the offsets
 * it covers (the group's offsets). A worker given a partition first takes its transactional id
 * (fencing the previous owner), then restores the last snapshot and goes on from its offsets:
 * nothing is counted twice or lost, whatever stopped the previous owner.
 */
export async function runDiffWorker(options: DiffWorkerOptions): Promise<void> {
  const { brokers, group, signal } = options;
  const where = brokers.join(',');
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 3, initialRetryTime: 250, maxRetryTime: 2000 },
  });
  const failure = (action: string) => (error: unknown) => {
    if (error instanceof ShadowtapError) return error;
    const message = `cannot ${action} on Kafka at ${where}: ${reasonOf(error)}`;
    return isTransient(error) ? logUnreachable(`${message}. Check that the broker is running.`, error) : new ShadowtapError('ST_LOG_IO', message, { cause: error });
  };

  const admin = kafka.admin();
  const cluster = createCluster(kafka);
  try {
    const partitions = await preparedTopics(admin, cluster, options).catch((error) => {
      throw failure('prepare the topics of diff group ' + group)(error);
    });
    if (signal.aborted) return;
    await consume(kafka, admin, cluster, partitions, options, failure);
  } finally {
    await admin.disconnect().catch(() => undefined);
    await cluster.disconnect().catch(() => undefined);
  }
}

/** Topics another worker is creating at the same moment exist before their partitions have leaders. */
const creationRaces = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

async function preparedTopics(admin: Admin, cluster: Cluster, options: DiffWorkerOptions): Promise<number> {
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
async function prepareTopics(admin: Admin, cluster: Cluster, options: DiffWorkerOptions): Promise<number> {
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

interface Owned {
  state: PartitionState;
  producer: TransactionalProducer;
}

async function consume(
  kafka: Kafka,
  admin: Admin,
  cluster: Cluster,
  partitionCount: number,
  options: DiffWorkerOptions,
  failure: (action: string) => (error: unknown) => Error,
): Promise<void> {
  const { group, signal } = options;
  const topics = scaleOutTopics(options.topicPrefix);
  // Shared out over the partitions, so a worker owning them all holds what one diff would.
  const joinWindow = Math.ceil((options.joinWindow ?? diffDefaults.joinWindow) / partitionCount);
  const baselineOrigin = options.baselineTarget === undefined ? undefined : originOf(options.baselineTarget);
  let warnedReference = false;
  const context: PairingContext = {
    rules: compileRules(options),
    patterns: (options.routes ?? []).map(parseRoutePattern),
    join: { joinWindow, follow: true, ...(baselineOrigin !== undefined && { isBaseline: (result: Result) => originOf(result.target) === baselineOrigin }) },
    limits: {
      ...(options.samplesPerRoute !== undefined && { samplesPerRoute: options.samplesPerRoute }),
      ...(options.bucketMs !== undefined && { bucketMs: options.bucketMs }),
    },
    settings: {
      ...(options.fromMs !== undefined && { fromMs: options.fromMs }),
      ...(options.baselineTarget !== undefined && { baselineTarget: options.baselineTarget }),
      ...(options.noiseThresholds !== undefined && { noiseThresholds: options.noiseThresholds }),
    },
    onReference() {
      if (warnedReference) return;
      warnedReference = true;
      options.onWarning?.('reference results (replay --reference) are counted as unmatched by diff workers of a group: run one diff process to pair them');
    },
  };
  const statePartitions = (await admin.fetchTopicMetadata({ topics: [topics.state] })).topics[0]!.partitions.length;
  const registry = options.schemaRegistry === undefined ? undefined : new SchemaRegistryClient({ url: options.schemaRegistry });
  const verdictSchemaId = registry
    ? await registry.register(valueSubject(topics.verdicts), verdictCodec.type).catch((error) => {
        throw logUnreachable(`cannot register the verdict schema at the schema registry ${options.schemaRegistry}: ${reasonOf(error)}. Check --schema-registry.`, error);
      })
    : undefined;
  const decoders = {
    captures: recordDecoder(topics.captures, captureKind, registry && new RegistryCodec(registry, topics.captures, captureKind.codec)),
    results: recordDecoder(topics.results, resultKind, registry && new RegistryCodec(registry, topics.results, resultKind.codec)),
  };
  const verdictHeaders = {
    [schemaHeader]: verdictCodec.name,
    [schemaVersionHeader]: String(verdictCodec.version),
    ...(verdictSchemaId !== undefined && { [wireFormatHeader]: 'confluent' }),
  };
  const encodeVerdict = (verdict: Verdict) => (verdictSchemaId === undefined ? verdictCodec.encode(verdict) : encodeFramed(verdictSchemaId, verdictCodec.encode(verdict)));
  const owned = new Map<number, Owned>();
  const deadLetters = new Map<number, Array<{ topic: string; messages: Message[] }>>();

  /** Reads again the records a snapshot's join buffer names. */
  const reread = async <T>(kind: RecordKind<T>, topic: string, partition: number, range: { start: number; end: number } | undefined) => {
    const found = new Map<number, LogEntry<T>>();
    if (!range) return found;
    const entries = readPartitions(
      {
        cluster,
        topic,
        decode: recordDecoder(topic, kind, registry && new RegistryCodec(registry, topic, kind.codec)),
        deadLetter: async () => undefined,
        earliest: async (p) => Number((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === p)?.low ?? 0),
        ranges: new Map([[partition, range]]),
        limits: kafkaReadLimits,
        failure: failure(`read topic ${topic}`),
      },
      {},
    );
    for await (const entry of entries) found.set(entry.position.offset, entry);
    return found;
  };

  /** Takes a partition over: fences its previous owner, restores its last snapshot, or starts it. */
  const take = async (partition: number): Promise<Owned> => {
    const producer = await TransactionalProducer.connect(kafka, `shadowtap-diff.${options.topicPrefix}${group}.${partition}`, transactionTimeoutMs);
    try {
      const key = stateKey(group, partition);
      const snapshot: PartitionSnapshot | undefined = (await readSnapshots(cluster, admin, topics.state, stateKeys(group, [partition], statePartitions), failure(`read topic ${topics.state}`))).get(key);
      if (snapshot) {
        const ranges = rereadRanges(snapshot);
        const captures = await reread(captureKind, topics.captures, partition, ranges.captures);
        const results = await reread(resultKind, topics.results, partition, ranges.results);
        const lost = snapshot.join.captures.length - captures.size + (snapshot.join.results.length - results.size);
        if (lost > 0) options.onWarning?.(`partition ${partition}: ${lost} buffered records are no longer in the log (retention): they are left out of the pairing`);
        return { producer, state: new PartitionState(partition, context, { snapshot, captures, results }) };
      }
      const state = new PartitionState(partition, context);
      const [captureStart, resultStart] = await Promise.all([startOffset(admin, topics.captures, partition, options.fromMs), startOffset(admin, topics.results, partition, options.fromMs)]);
      state.next.captures = captureStart;
      state.next.results = resultStart;
      return { producer, state };
    } catch (error) {
      await producer.close();
      throw error;
    }
  };

  const commitOne = async (partition: number, entry: Owned): Promise<void> => {
    const dead = deadLetters.get(partition) ?? [];
    if (!entry.state.dirty && dead.length === 0) return;
    deadLetters.delete(partition);
    const { snapshot, verdicts } = entry.state.snapshot();
    const verdictMessages: Message[] = (options.writeVerdicts === false ? [] : verdicts).map(({ record, timeMs }) => ({
      key: record.captureId,
      value: encodeVerdict(verdictOf(record, timeMs)),
      timestamp: String(timeMs),
      headers: verdictHeaders,
    }));
    await entry.producer.commit({
      messages: [
        ...(verdictMessages.length > 0 ? [{ topic: topics.verdicts, messages: verdictMessages }] : []),
        { topic: topics.state, messages: [{ key: stateKey(group, partition), value: JSON.stringify(snapshot), partition: statePartitionOf(partition, statePartitions) }] },
        ...dead,
      ],
      offsets: {
        group,
        topics: [
          { topic: topics.captures, partitions: [{ partition, offset: String(snapshot.next.captures) }] },
          { topic: topics.results, partitions: [{ partition, offset: String(snapshot.next.results) }] },
        ],
      },
    });
    options.onCommitted?.(verdicts.map((v) => v.record));
  };

  // Ownership changes and commits run one at a time; reading goes on beside them.
  let serial: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const next = serial.then(work);
    serial = next.catch(() => undefined);
    return next;
  };

  let fatal: Error | undefined;
  let stopWaiting: () => void = () => undefined;
  const fail = (error: unknown) => {
    fatal ??= failure(`run diff group ${group}`)(error);
    stopWaiting();
  };

  const consumer: Consumer = kafka.consumer({
    groupId: group,
    partitionAssigners: [coPartitionAssigner],
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 500,
    maxBytesPerPartition: kafkaReadLimits.partitionFetchBytes * 16,
    // A killed worker holds its partitions until its session expires: keep that short.
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 1000,
  });

  const seekTo = (partition: number, state: PartitionState) => {
    consumer.seek({ topic: topics.captures, partition, offset: String(state.next.captures) });
    consumer.seek({ topic: topics.results, partition, offset: String(state.next.results) });
  };

  /** Drops a partition this worker cannot commit for any more; if it still owns it, takes it again from its last snapshot. */
  const reload = async (partition: number, error: unknown) => {
    const entry = owned.get(partition);
    owned.delete(partition);
    deadLetters.delete(partition);
    await entry?.producer.close();
    if (isFenced(error) || !assignment.has(partition)) return;
    options.onWarning?.(`partition ${partition}: commit failed (${reasonOf(error)}); going on from its last snapshot`);
    const taken = await take(partition);
    owned.set(partition, taken);
    seekTo(partition, taken.state);
  };

  const commitAll = () =>
    inTurn(async () => {
      for (const [partition, entry] of owned) {
        try {
          await commitOne(partition, entry);
        } catch (error) {
          await reload(partition, error);
        }
      }
    });

  let assignment = new Set<number>();
  let generation = 0;
  let ready: Promise<void> = Promise.resolve();
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const partitions = payload.memberAssignment[topics.captures] ?? [];
    generation += 1;
    assignment = new Set(partitions);
    ready = inTurn(async () => {
      for (const [partition, entry] of owned) {
        if (assignment.has(partition)) continue;
        owned.delete(partition);
        deadLetters.delete(partition);
        await entry.producer.close();
      }
      for (const partition of partitions) {
        // Kept partitions go on from where this worker is; kafkajs re-fetches them from the committed offsets, so seek back.
        const entry = owned.get(partition) ?? (await take(partition));
        owned.set(partition, entry);
        seekTo(partition, entry.state);
      }
      options.onAssigned?.([...owned.keys()].sort((a, b) => a - b));
    }).catch(fail);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) fail(payload.error);
  });

  const timer = setInterval(() => void commitAll().catch(fail), options.commitIntervalMs ?? defaultCommitIntervalMs);
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.captures, topics.results], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const batchGeneration = generation;
        await ready;
        if (isStale() || batchGeneration !== generation) return;
        const { partition } = batch;
        const entry = owned.get(partition);
        if (!entry) return;
        const from = batch.topic === topics.captures ? 'captures' : 'results';
        let count = 0;
        for (const message of batch.messages) {
          if (!isRunning() || generation !== batchGeneration || owned.get(partition) !== entry) return;
          const offset = Number(message.offset);
          // Records before the state's next offset are in it already (a fetch from before a seek).
          if (offset < entry.state.next[from]) continue;
          const position = { partition, offset };
          const decoded = decoders[from](message, position);
          const value = decoded instanceof Promise ? await decoded : decoded;
          if (value instanceof ShadowtapError) {
            const list = deadLetters.get(partition) ?? [];
            list.push({ topic: `${batch.topic}.dlq`, messages: [deadLetterMessage(message, batch.topic, partition, value)] });
            deadLetters.set(partition, list);
            entry.state.skip(from, offset);
          } else if (from === 'captures') entry.state.addCapture({ value: value as Capture, position, timestampMs: Number(message.timestamp) });
          else entry.state.addResult({ value: value as Result, position, timestampMs: Number(message.timestamp) });
          resolveOffset(message.offset);
          if (++count % 200 === 0) await heartbeat();
        }
      },
    });
    await new Promise<void>((resolve) => {
      stopWaiting = resolve;
      if (signal.aborted || fatal) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } catch (error) {
    fail(error);
  } finally {
    clearInterval(timer);
    // The last reads are committed before the partitions are handed back.
    await consumer.stop().catch(() => undefined);
    if (!fatal) await commitAll().catch(fail);
    await inTurn(async () => {
      for (const entry of owned.values()) await entry.producer.close();
      owned.clear();
    });
    await consumer.disconnect().catch(() => undefined);
  }
  if (fatal) throw fatal;
}

/** Where a partition with no state starts: the first record at or after fromMs, else the beginning. */
async function startOffset(admin: Admin, topic: string, partition: number, fromMs: number | undefined): Promise<number> {
  const watermarks = (await admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition);
  if (fromMs === undefined) return Number(watermarks?.low ?? 0);
  const byTime = Number((await admin.fetchTopicOffsetsByTimestamp(topic, fromMs)).find((o) => o.partition === partition)?.offset ?? -1);
  // No record at or after fromMs yet: start at the end.
  return byTime >= 0 ? byTime : Number(watermarks?.high ?? 0);
}
