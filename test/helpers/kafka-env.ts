import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { waitFor } from './wait-for.js';

/** Brokers of the Kafka that `npm test` started (or that KAFKA_BROKERS names). */
export function kafkaBrokers(): string[] {
  const value = process.env.KAFKA_BROKERS;
  if (!value) {
    throw new Error(
      'KAFKA_BROKERS is not set: run this test through `node dist/test/run-tests.js` (it starts a broker), ' +
        'or start one with `npm run kafka` and export the KAFKA_BROKERS it prints.',
    );
  }
  return value.split(',').map((broker) => broker.trim()).filter(Boolean);
}

/** A name no other test uses, for topic prefixes and consumer groups. */
export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** The first `count` messages of `topic` (key, value, headers, partition), read from the beginning by a plain kafkajs consumer. */
export async function rawMessages(topic: string, count: number, brokers = kafkaBrokers()): Promise<Array<KafkaMessage & { partition: number }>> {
  const kafka = new Kafka({ clientId: 'shadowtap-test-raw', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: randomName('raw'), maxWaitTimeInMs: 200 });
  const messages: Array<KafkaMessage & { partition: number }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message, partition }) => void messages.push({ ...message, partition }) });
    await waitFor(() => messages.length >= count, `${count} messages on ${topic}`, 60_000);
    return messages;
  } finally {
    await consumer.disconnect();
  }
}
