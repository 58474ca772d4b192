import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, range, sendRequests, startCapture, startServers, tempDir, type ChaosServers } from './helpers/chaos-run.js';
import { brokerDuringReplay, captureKilledUnderLoad, shadowResetsAndHangs, spoolLimitReached, type ChaosContext } from './helpers/chaos-scenarios.js';
import { kafkaBrokers } from './helpers/kafka-env.js';
import { startKafkaBroker, type KafkaBroker } from './kafka/broker.js';

// The chaos run of issue 15 with small counts (bench/chaos-run.ts has every scenario and larger
// ones). Scenarios that keep the broker up share KAFKA_BROKERS; the one that kills a broker
// starts its own.
let servers: ChaosServers;
let work: Awaited<ReturnType<typeof tempDir>>;
const requests = 40;
const concurrency = 4;

before(async () => {
  servers = await startServers();
  work = await tempDir('test');
});

after(async () => {
  await servers?.close();
  await work?.remove();
});

/** The shared broker, which no scenario of this file may stop. */
function sharedBroker(): KafkaBroker {
  const refuse = async () => {
    throw new Error('the shared broker is never stopped: start one of your own');
  };
  return { brokers: kafkaBrokers()[0], kill: refuse, start: refuse, stop: refuse };
}

const context = (broker: KafkaBroker): ChaosContext => ({ broker, servers, work: work.path, requests, concurrency });

test('a capture SIGKILLed under load: its successor on the spool folder reports at most how many captures died with it, and downstream nothing more is lost', { timeout: 240_000 }, async () => {
  const row = await captureKilledUnderLoad(context(sharedBroker()));
  assert.ok(row.sent >= requests, JSON.stringify(row));
  assert.ok(row.lost <= row.reported, `lost ${row.lost} but the restarted agent reported at most ${row.reported}: ${row.notes.join('; ')}`);
  assert.equal(row.replayed, row.recorded, row.notes.join('; '));
  assert.equal(row.compared, row.recorded, row.notes.join('; '));
});

test('a capture killed while its log is away: the next agent on its spool folder reports exactly the captures that were in memory', { timeout: 120_000 }, async () => {
  // Nothing listens at the log's address: captures wait in memory (the spool takes only overflow).
  const args = ['--upstream', servers.stable.url, '--brokers', `127.0.0.1:${await freePort()}`, '--spool-dir', join(work.path, 'spool-ledger')];
  const agent = await startCapture(args);
  const client = await sendRequests(agent.url, range(0, 5), 1);
  assert.equal(client.answered.size, 5);
  await agent.process.waitFor(async () => (await agent.health()).queueBytes > 0, 'the captures queued');
  agent.process.child.kill('SIGKILL');
  await agent.process.exited;
  const next = await startCapture(args);
  try {
    assert.equal((await next.health()).dropped, 5);
    assert.equal(await next.metric('shadowtap_capture_dropped_total'), 5);
    const line = next.process.logLines().find((l) => l.lost !== undefined);
    assert.equal(line?.lost, 5, next.process.stderr);
    assert.equal(line?.level, 50, 'an error line');
  } finally {
    assert.equal(await next.process.stop('SIGTERM'), 0);
  }
  // A clean stop leaves nothing to report.
  const third = await startCapture(args);
  const dropped = (await third.health()).dropped;
  await third.process.stop('SIGTERM');
  assert.equal(dropped, 0);
});

test('the spool bound reached while the log is unreachable: every capture lost is one the agent counted as dropped', { timeout: 240_000 }, async () => {
  const row = await spoolLimitReached(context(sharedBroker()));
  assert.equal(row.sent, requests);
  assert.ok(row.reported > 0, `the bounds are small enough to drop: ${row.notes.join('; ')}`);
  assert.equal(row.lost, row.reported, row.notes.join('; '));
  assert.deepEqual(row.verdicts, { match: row.recorded });
});

test('a shadow that resets connections and hangs: every capture gets a Result and a verdict, the failures as shadow errors', { timeout: 240_000 }, async () => {
  const row = await shadowResetsAndHangs(context(sharedBroker()));
  // Requests n ≡ 1 (mod 4) are reset, n ≡ 2 hang past --timeout, the rest are answered.
  const quarter = requests / 4;
  assert.equal(row.lost, 0, row.notes.join('; '));
  assert.deepEqual(row.verdicts, { match: 2 * quarter, 'shadow-error': 2 * quarter });
  assert.equal(row.results['error:timeout'], quarter, JSON.stringify(row.results));
  assert.equal(row.results['error:reset'], quarter, JSON.stringify(row.results));
});

test('the broker killed and restarted during a replay: the replay fails with one line or carries on, and a rerun with its group completes the window', { timeout: 240_000 }, async () => {
  const broker = await startKafkaBroker();
  try {
    const row = await brokerDuringReplay(context(broker));
    assert.equal(row.sent, requests);
    assert.equal(row.recorded, row.sent);
    assert.equal(row.lost, 0, row.notes.join('; '));
    assert.deepEqual(row.verdicts, { match: row.sent });
  } finally {
    await broker.stop();
  }
});
