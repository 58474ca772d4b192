import { usageError } from '../errors.js';

/** Throws the usage error of a topic prefix Kafka would refuse. */
export function checkTopicName(topic: string, topicPrefix: string): void {
  if (!/^[A-Za-z0-9._-]{1,240}$/.test(topic)) {
    throw usageError(`--topic-prefix may hold only letters, digits, '.', '_' and '-' (Kafka topic names); got "${topicPrefix}"`);
  }
}
