import { Partitioners, logLevel, type KafkaConfig, type ProducerConfig } from 'kafkajs';

/**
 * How shadowtap's kafkajs clients are configured, in one place for the log's client (admin,
 * reads, dead letters) and the producer thread's.
 */
export function kafkaClientConfig(brokers: string[], clientId: string): KafkaConfig {
  return {
    clientId,
    brokers,
    // kafkajs would print its own logs and stack traces; failures reach users as ShadowtapErrors instead.
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 3, initialRetryTime: 250, maxRetryTime: 2000 },
  };
}

/** Producers place records by key as the Java client does (murmur2), write only to topics that exist, and retry a broker's short absence. */
export const producerConfig: ProducerConfig = {
  createPartitioner: Partitioners.DefaultPartitioner,
  allowAutoTopicCreation: false,
  retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 },
};
