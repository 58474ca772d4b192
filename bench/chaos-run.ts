import { formatRows, startServers, tempDir, type ChaosRow } from '../test/helpers/chaos-run.js';
import { scenarios, type ChaosContext } from '../test/helpers/chaos-scenarios.js';
import { startKafkaBroker } from '../test/kafka/broker.js';

/**
 * The chaos run of issue 15: each scenario drives the real CLI (capture, replay, diff as child
 * processes) on a Kafka broker of its own, which it kills and restarts, and prints what the
 * client was answered (sent), what was recorded, replayed and compared, what was lost and how
 * much of the loss the tool itself counted.
 *   node dist/bench/chaos-run.js
 *   CHAOS_REQUESTS=2000 CHAOS_CONCURRENCY=8 CHAOS_SCENARIOS=capture,sigkill node dist/bench/chaos-run.js
 * Scenarios: capture, replay, diff (the broker killed during each), sigkill, shadow, spool.
 */
const requests = Number(process.env.CHAOS_REQUESTS ?? 1000);
const concurrency = Number(process.env.CHAOS_CONCURRENCY ?? 8);
const names = (process.env.CHAOS_SCENARIOS ?? Object.keys(scenarios).join(',')).split(',').map((s) => s.trim()) as Array<keyof typeof scenarios>;
const unknown = names.filter((name) => !(name in scenarios));
if (unknown.length > 0 || !(requests >= 4) || !(concurrency >= 1)) {
  console.error(`CHAOS_SCENARIOS takes ${Object.keys(scenarios).join(',')}; CHAOS_REQUESTS ≥ 4 and CHAOS_CONCURRENCY ≥ 1 (got ${unknown.join(',') || `${requests}, ${concurrency}`})`);
  process.exit(2);
}

const broker = await startKafkaBroker();
const servers = await startServers();
const work = await tempDir('bench');
const rows: ChaosRow[] = [];
try {
  const ctx: ChaosContext = { broker, servers, work: work.path, requests, concurrency };
  for (const name of names) {
    const startedAt = Date.now();
    const result = await scenarios[name](ctx);
    result.notes.push(`${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    rows.push(result);
    console.error(`done: ${result.scenario}`);
  }
} finally {
  console.log(`${requests} requests a scenario, ${concurrency} in flight\n`);
  console.log(formatRows(rows));
  await servers.close();
  await broker.stop();
  await work.remove();
}
