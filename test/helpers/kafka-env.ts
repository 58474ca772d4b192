import { randomBytes } from 'node:crypto';

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
