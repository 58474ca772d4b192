import { Kafka, logLevel } from 'kafkajs';
import { openKafkaLog } from '../shared/log/kafka-log.js';
import { kafkaBrokers, randomName } from './helpers/kafka-env.js';
import { recordLogContract } from './record-log-contract.js';

const brokers = kafkaBrokers();

recordLogContract({
  name: 'Kafka',
  async place() {
    const topicPrefix = `${randomName('contract')}.`;
    return {
      open: (kind) => openKafkaLog(kind, { brokers, topicPrefix, partitions: 3, clientId: 'shadowtap-test' }),
      async appendUndecodable(kind, key) {
        const producer = new Kafka({ clientId: 'shadowtap-test', brokers, logLevel: logLevel.NOTHING }).producer();
        await producer.connect();
        try {
          await producer.send({ topic: `${topicPrefix}${kind.name}`, messages: [{ key, value: Buffer.from(`not an avro ${kind.name} record`) }] });
        } finally {
          await producer.disconnect();
        }
      },
      cleanup: async () => undefined,
    };
  },
});
