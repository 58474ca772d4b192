import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import type { FetchBroker } from './kafka-fetch-decoder.js';

/**
 * kafkajs 2.2's own cluster (connections, metadata, request versions, SASL/SSL as configured on
 * the Kafka client), for the two things its public API only does through a consumer group
 * session: fetching given partitions, and committing a group's offsets while no member holds
 * them. kafkajs has no `assign()`, and its admin `setOffsets` joins the group and polls for 5 s.
 */
const require = createRequire(import.meta.url);

/** A connected broker: the lean fetch's request lookup and send (kafka-fetch-decoder.ts), and offset commits. */
export interface ClusterBroker extends FetchBroker {
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

export const readCommitted: number = require('kafkajs/src/protocol/isolationLevel.js').READ_COMMITTED;

/** A new cluster of `kafka`'s brokers and options, not connected yet. */
export function createCluster(kafka: Kafka): Cluster {
  const key = Object.getOwnPropertySymbols(kafka).find((symbol) => symbol.description === 'private:Kafka:createCluster');
  const create = key && (kafka as unknown as Record<symbol, unknown>)[key];
  if (typeof create !== 'function') throw new Error('this kafkajs has no cluster factory where kafkajs 2.2 has it; install kafkajs 2.2');
  return create.call(kafka, { allowAutoTopicCreation: false, metadataMaxAge: 300_000, isolationLevel: readCommitted }) as Cluster;
}
