import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { startKafkaBroker } from '../test/kafka/broker.js';
import { startJsonServer, warmUpBroker } from './fixtures.js';
import { load, printTable, type LoadFigures } from './load.js';

/**
 * A Kafka outage under a fixed load: 1,000 requests/s through capture → Kafka, once with the
 * broker up and once with the broker killed for OUTAGE_SECONDS (30 s by default) in the middle.
 * Figures to reach: 0 client errors, client p99 within 1.2× of the run with the broker up, and
 * afterwards every request in the topic (read back and counted by id).
 *   node dist/bench/broker-outage.js        (RATE=N and OUTAGE_SECONDS=N change the defaults)
 * It starts a broker of its own, since it kills it.
 */
const rate = Number(process.env.RATE ?? 1000);
const outageSeconds = Number(process.env.OUTAGE_SECONDS ?? 30);
const leadSeconds = 5;
const tailSeconds = 10;
const runSeconds = leadSeconds + outageSeconds + tailSeconds;
const logger = pino({ level: 'warn' });
const broker = await startKafkaBroker();
const stable = await startJsonServer();

interface RunFigures {
  load: LoadFigures;
  recorded: number;
  delivered: number;
  dropped: number;
  spooled: number;
  inTopic: number;
  distinctInTopic: number;
  restartSeconds: number;
}

async function run(name: string, outage: boolean): Promise<RunFigures> {
  const topicPrefix = `outage-bench-${Date.now()}.`;
  const sink = await openLog(captureKind, { brokers: [broker.brokers], topicPrefix });
  const agent = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger, drainTimeoutMs: 120_000 });
  let restartSeconds = 0;
  const loading = load(name, agent.url, { seconds: runSeconds, connections: 10, overallRate: rate });
  if (outage) {
    await sleep(leadSeconds * 1000);
    await broker.kill();
    await sleep(outageSeconds * 1000);
    const restartAt = Date.now();
    await broker.start();
    restartSeconds = (Date.now() - restartAt) / 1000;
  }
  const figures = await loading;
  // close() drains the queue (and the spool) into Kafka before it returns.
  await agent.close();
  await sink.close();
  const reader = await openLog(captureKind, { brokers: [broker.brokers], topicPrefix });
  const ids: string[] = [];
  for await (const entry of reader.read()) ids.push(entry.value.id);
  await reader.close();
  const { recorded, delivered, dropped, spooled } = agent.metrics;
  return { load: figures, recorded, delivered, dropped, spooled, inTopic: ids.length, distinctInTopic: new Set(ids).size, restartSeconds };
}


try {
  await warmUpBroker([broker.brokers], stable.url, rate);
  const up = await run(`broker up, ${rate} req/s`, false);
  const down = await run(`broker killed for ${outageSeconds} s, ${rate} req/s`, true);
  printTable([up.load, down.load], up.load);
  console.log();
  console.log('| run | client requests | client errors | recorded | delivered | spooled | dropped | in topic | distinct ids in topic |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of [up, down]) {
    console.log(
      `| ${r.load.name} | ${r.load.requests} | ${r.load.errors + r.load.non2xx} | ${r.recorded} | ${r.delivered} | ${r.spooled} | ${r.dropped} | ${r.inTopic} | ${r.distinctInTopic} |`,
    );
  }
  console.log(`\nbroker restart took ${down.restartSeconds.toFixed(1)} s after the ${outageSeconds} s outage`);
  const ok = down.load.errors + down.load.non2xx === 0 && down.load.p99Ms <= 1.2 * up.load.p99Ms && down.dropped === 0 && down.inTopic === down.recorded && down.distinctInTopic === down.inTopic;
  console.log(ok ? 'figures reached' : 'figures NOT reached');
} finally {
  await stable.close();
  await broker.stop();
}
