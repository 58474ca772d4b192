import { startKafkaBroker } from './broker.js';

// `npm run kafka`: a throwaway local broker for development, up until Ctrl-C.
const startedAt = Date.now();
console.log('starting a local Kafka broker (first run downloads the jars with Maven)...');
const broker = await startKafkaBroker();
console.log(`KAFKA_BROKERS=${broker.brokers}`);
console.log(`ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s. Use it with:`);
console.log(`  KAFKA_BROKERS=${broker.brokers} npm test            # tests reuse it instead of starting their own`);
console.log(`  node dist/cli/main.js <command> --brokers ${broker.brokers}`);
console.log('Ctrl-C stops it and deletes its data.');

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping the broker...');
  await broker.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
