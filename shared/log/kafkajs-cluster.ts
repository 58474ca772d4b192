import { createRequire } from 'node:module';
import type { IHeaders, Kafka } from 'kafkajs';

/**
 * kafkajs 2.2's own cluster (connections, metadata, request versions, SASL/SSL as configured on
 * the Kafka client), for the two things its public API only does through a consumer group
 * session: fetching given partitions, and committing a group's offsets while no member holds
 * them. kafkajs has no `assign()`, and its admin `setOffsets` joins the group and polls for 5 s.
 */
const require = createRequire(import.meta.url);

export interface FetchedMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
  isControlRecord?: boolean;
  batchContext?: { firstOffset: string; lastOffsetDelta: number };
}

export interface FetchedPartition {
  partition: number;
  highWatermark: string;
  abortedTransactions?: Array<{ producerId: string; firstOffset: string }>;
  messages: FetchedMessage[];
}

export interface ClusterBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: FetchedPartition[] }> }>;
  offsetCommit(request: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    retentionTime?: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
  }): Promise<unknown>;
}

export interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader: number }>;
  findBroker(args: { nodeId: string }): Promise<ClusterBroker>;
  findGroupCoordinator(args: { groupId: string }): Promise<ClusterBroker>;
}

/** kafkajs's batch of one partition's fetched messages: drops those before the fetched offset, control records and aborted transactions. */
export interface FetchedBatch {
  /** Every message at or past the fetched offset, control records included: where the next fetch starts. */
  messagesWithinOffset: FetchedMessage[];
  /** The records to hand over. */
  messages: FetchedMessage[];
}

export const readCommitted: number = require('kafkajs/src/protocol/isolationLevel.js').READ_COMMITTED;
const Batch = require('kafkajs/src/consumer/batch.js') as new (topic: string, fetchedOffset: string, partition: FetchedPartition) => FetchedBatch;

export function fetchedBatch(topic: string, fetchedOffset: number, partition: FetchedPartition): FetchedBatch {
  return new Batch(topic, String(fetchedOffset), partition);
}

/** A new cluster of `kafka`'s brokers and options, not connected yet. */
export function createCluster(kafka: Kafka): Cluster {
  const key = Object.getOwnPropertySymbols(kafka).find((symbol) => symbol.description === 'private:Kafka:createCluster');
  const create = key && (kafka as unknown as Record<symbol, unknown>)[key];
  if (typeof create !== 'function') throw new Error('this kafkajs has no cluster factory where kafkajs 2.2 has it; install kafkajs 2.2');
  return create.call(kafka, { allowAutoTopicCreation: false, metadataMaxAge: 300_000, isolationLevel: readCommitted }) as Cluster;
}
