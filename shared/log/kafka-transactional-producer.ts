import { CompressionTypes, type Kafka, type Message, type Producer, type Transaction } from 'kafkajs';

/** What one transaction writes: records to topics and a consumer group's offsets, all visible together or not at all. */
export interface TransactionContent {
  messages: Array<{ topic: string; messages: Message[] }>;
  offsets: { group: string; topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> };
}

/** Errors that mean another process took this transactional id over: its work is that process's now. */
const fencedErrors = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'INVALID_PRODUCER_ID_MAPPING']);

export function isFenced(error: unknown): boolean {
  const e = error as { type?: string; cause?: { type?: string }; message?: string };
  return fencedErrors.has(e.type ?? e.cause?.type ?? '') || /fenced|epoch/i.test(e.message ?? '');
}

/**
 * A kafkajs transactional producer with one transaction always open. Opening it registers the
 * transactional id with the coordinator, which aborts whatever an earlier holder of the id left
 * open and fences that holder off: a worker that takes a partition over opens the partition's
 * producer before it reads the partition's state, so a stalled previous owner can no longer
 * commit over it (the fencing of Kafka's consume-transform-produce pattern, one id per input
 * partition, as kafkajs has no KIP-447 group fencing).
 */
export class TransactionalProducer {
  private open: Transaction | undefined;

  private constructor(
    private readonly producer: Producer,
    transaction: Transaction,
  ) {
    this.open = transaction;
  }

  static async connect(kafka: Kafka, transactionalId: string, transactionTimeoutMs: number): Promise<TransactionalProducer> {
    const producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: transactionTimeoutMs,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    await producer.connect();
    try {
      return new TransactionalProducer(producer, await producer.transaction());
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** Writes `content` in the open transaction and commits it; on failure the transaction is aborted and the error thrown. */
  async commit(content: TransactionContent): Promise<void> {
    const transaction = this.open ?? (await this.producer.transaction());
    this.open = undefined;
    try {
      if (content.messages.length > 0) await transaction.sendBatch({ topicMessages: content.messages, acks: -1, compression: CompressionTypes.GZIP });
      await transaction.sendOffsets({ consumerGroupId: content.offsets.group, topics: content.offsets.topics });
      await transaction.commit();
    } catch (error) {
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.open?.isActive()) await this.open.abort().catch(() => undefined);
    this.open = undefined;
    await this.producer.disconnect().catch(() => undefined);
  }
}
