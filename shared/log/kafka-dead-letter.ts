import type { KafkaMessage, Message } from 'kafkajs';

/** A record that could not be decoded, as it goes to the dead-letter topic: its bytes as they were, and where it came from and why in headers. */
export function deadLetterMessage(message: KafkaMessage, topic: string, partition: number, error: Error): Message {
  return {
    key: message.key,
    value: message.value,
    timestamp: message.timestamp,
    headers: {
      ...message.headers,
      'shadowtap-dlq-topic': topic,
      'shadowtap-dlq-partition': String(partition),
      'shadowtap-dlq-offset': message.offset,
      'shadowtap-dlq-error': error.message,
    },
  };
}
