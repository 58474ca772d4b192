import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKafkaBroker, type KafkaBroker } from './kafka/broker.js';

/**
 * `npm test`: runs every compiled test file against one real Kafka broker started for the run
 * (or the one KAFKA_BROKERS names). Arguments filter test files by a part of their path.
 */

const testRoot = dirname(fileURLToPath(import.meta.url));

function findTests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = findTests(testRoot)
  .filter((file) => filters.length === 0 || filters.some((filter) => relative(testRoot, file).includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`no test files under ${testRoot} match ${filters.join(', ')}`);
  process.exit(2);
}

let broker: KafkaBroker | undefined;
let runner: ChildProcess | undefined;
let exiting = false;
const finish = async (code: number) => {
  if (exiting) return;
  exiting = true;
  runner?.kill('SIGTERM');
  await broker?.stop();
  process.exit(code);
};
process.on('SIGINT', () => void finish(130));
process.on('SIGTERM', () => void finish(143));

if (!process.env.KAFKA_BROKERS) {
  const startedAt = Date.now();
  try {
    broker = await startKafkaBroker();
  } catch (error) {
    console.error(`${(error as Error).message}\nSet KAFKA_BROKERS=host:port to run the tests against a broker that is already running.`);
    process.exit(1);
  }
  process.env.KAFKA_BROKERS = broker.brokers;
  console.log(`# Kafka broker ${broker.brokers} started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
}

// --test-force-exit: a handle leaked by one file must not hang the whole run; a test over
// 5 minutes fails instead of waiting forever.
runner = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-force-exit', '--test-timeout=300000', ...files], { stdio: 'inherit' });
runner.on('exit', (code, signal) => void finish(code ?? (signal ? 1 : 0)));
