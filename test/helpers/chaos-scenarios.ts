import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { KafkaBroker } from '../kafka/broker.js';
import {
  freePort,
  range,
  readLogs,
  runCli,
  sendRequests,
  startCapture,
  verdictsOf,
  type CaptureAgent,
  type ChaosRow,
  type ChaosServers,
  type LogCounts,
} from './chaos-run.js';

/** What every scenario works with: a broker it may kill, stable and shadow, a scratch folder. */
export interface ChaosContext {
  broker: KafkaBroker;
  servers: ChaosServers;
  work: string;
  /** Requests per scenario and how many the client keeps in flight. */
  requests: number;
  concurrency: number;
}

const prefixOf = (scenario: string) => `chaos-${scenario}-${randomBytes(4).toString('hex')}.`;

function logArgs(ctx: ChaosContext, prefix: string): string[] {
  return ['--brokers', ctx.broker.brokers, '--topic-prefix', prefix];
}

function captureArgs(ctx: ChaosContext, prefix: string, spool: string, extra: string[] = []): string[] {
  return ['--upstream', ctx.servers.stable.url, ...logArgs(ctx, prefix), '--spool-dir', join(ctx.work, spool), '--drain-timeout', '120', ...extra];
}

/** Whether a spool folder holds no captures (a missing folder holds none). */
async function spoolIsEmpty(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(names.filter((n) => n.endsWith('.spool')).map(async (n) => (await stat(join(dir, n))).size));
  return sizes.every((size) => size === 0);
}

/** Waits until the agent has handed `count` captures to the log or counted them dropped. */
async function waitForDelivery(agent: CaptureAgent, count: number): Promise<void> {
  await agent.process.waitFor(async () => {
    const h = await agent.health();
    return h.delivered + h.dropped >= count && h.queueBytes === 0 && h.spoolBytes === 0;
  }, `${count} captures delivered`);
}

/** Captures requests `numbers` through a fresh agent, delivered and stopped with SIGTERM. */
async function captureAll(ctx: ChaosContext, prefix: string, numbers: number[], notes: string[]): Promise<Set<number>> {
  const agent = await startCapture(captureArgs(ctx, prefix, `spool-${prefix}`));
  const client = await sendRequests(agent.url, numbers, ctx.concurrency);
  await waitForDelivery(agent, client.answered.size);
  const code = await agent.process.stop('SIGTERM');
  if (code !== 0) notes.push(`capture exit ${code}`);
  return client.answered;
}

interface ReplayRun {
  code: number | null;
  stderr: string;
}

async function replay(ctx: ChaosContext, prefix: string, extra: string[] = []): Promise<ReplayRun> {
  const child = runCli(['replay', ...logArgs(ctx, prefix), '--target', ctx.servers.shadow.url, '--no-progress', ...extra]);
  const code = await child.stop();
  return { code, stderr: child.stderr };
}

/** A replay of the whole log, run again (as an operator would) when it fails with exit 3; each failure is noted. */
async function replayUntilDone(ctx: ChaosContext, prefix: string, notes: string[], extra: string[] = []): Promise<void> {
  for (let run = 1; ; run++) {
    const { code, stderr } = await replay(ctx, prefix, extra);
    if (code === 0) return;
    notes.push(`replay run ${run} exit ${code}: ${lastLine(stderr)}`);
    if (code !== 3 || run === 3) return;
  }
}

/** Runs the diff over the whole log; verdicts by request number. */
async function diff(ctx: ChaosContext, prefix: string, logs: LogCounts, notes: string[]): Promise<Map<number, string>> {
  const child = runCli(['diff', ...logArgs(ctx, prefix), '--format', 'jsonl', '--fail-on', '1']);
  const code = await child.stop();
  if (code !== 0) notes.push(`diff exit ${code}: ${lastLine(child.stderr)}`);
  return verdictsOf(child.stdout, (id) => logs.numberById.get(id));
}

/** The last line of a failed command's stderr: its own error, after any warnings. */
const lastLine = (text: string) => text.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? '';

function tally(values: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

/** The row of a scenario: each stage counted by request number among those the client sent. */
function row(scenario: string, sent: Set<number>, logs: LogCounts, verdicts: Map<number, string>, reported: number, notes: string[]): ChaosRow {
  const inSent = (set: Iterable<number>) => [...set].filter((n) => sent.has(n)).length;
  // A skipped capture was never sent to the shadow: not compared, and a loss the tool reports itself.
  const compared = [...verdicts].filter(([n, v]) => sent.has(n) && v !== 'missing' && v !== 'skipped').length;
  const skipped = [...verdicts].filter(([n, v]) => sent.has(n) && v === 'skipped').length;
  const unusual = [...logs.outcomes].filter(([outcome]) => outcome !== 'response');
  if (unusual.length > 0) notes.push(`results: ${unusual.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (logs.captureRecords > logs.recorded.size) notes.push(`${logs.captureRecords - logs.recorded.size} captures recorded twice (the diff counts each once)`);
  const judged = tally([...verdicts].filter(([n]) => sent.has(n)).map(([, v]) => v));
  return { scenario, sent: sent.size, recorded: inSent(logs.recorded), replayed: inSent(logs.replayed), compared, lost: sent.size - compared, reported: reported + skipped, verdicts: judged, results: Object.fromEntries(logs.outcomes), notes };
}

/** The broker killed while capture serves, restarted while it still serves. */
export async function brokerDuringCapture(ctx: ChaosContext): Promise<ChaosRow> {
  const scenario = 'broker killed during capture';
  const prefix = prefixOf('capture');
  const notes: string[] = [];
  const half = Math.floor(ctx.requests / 2);
  const agent = await startCapture(captureArgs(ctx, prefix, 'spool-capture'));
  const before = await sendRequests(agent.url, range(0, half), ctx.concurrency);
  await waitForDelivery(agent, before.answered.size);
  await ctx.broker.kill();
  const during = await sendRequests(agent.url, range(half, ctx.requests), ctx.concurrency);
  const health = await agent.health();
  notes.push(`while down: log ${health.log}, ${health.queueBytes} B in memory, ${health.spoolBytes} B spooled`);
  await ctx.broker.start();
  const sent = new Set([...before.answered, ...during.answered]);
  await waitForDelivery(agent, sent.size);
  const dropped = (await agent.health()).dropped;
  const code = await agent.process.stop('SIGTERM');
  if (code !== 0) notes.push(`capture exit ${code}`);
  await replayUntilDone(ctx, prefix, notes);
  const logs = await readLogs(ctx.broker.brokers, prefix);
  return row(scenario, sent, logs, await diff(ctx, prefix, logs, notes), dropped, notes);
}

/** The broker killed while replay sends and writes results, restarted; a failed run is run again with the same group. */
export async function brokerDuringReplay(ctx: ChaosContext): Promise<ChaosRow> {
  const scenario = 'broker killed during replay';
  const prefix = prefixOf('replay');
  const notes: string[] = [];
  const sent = await captureAll(ctx, prefix, range(0, ctx.requests), notes);
  const group = `chaos-replay-${randomBytes(4).toString('hex')}`;
  // A paced replay, so the broker dies with part of the window sent and part still to read.
  const args = ['--group', group, '--rate', String(Math.max(10, Math.round(ctx.requests / 3)))];
  const firstShadowCount = ctx.servers.shadowReceived;
  const child = runCli(['replay', ...logArgs(ctx, prefix), '--target', ctx.servers.shadow.url, '--no-progress', ...args]);
  await child.waitFor(() => ctx.servers.shadowReceived - firstShadowCount >= Math.ceil(ctx.requests / 3), 'a third of the window sent');
  await ctx.broker.kill();
  await ctx.broker.start();
  const code = await child.stop();
  notes.push(`replay exit ${code}${code === 0 ? '' : `: ${lastLine(child.stderr)}`}`);
  if (code !== 0) await replayUntilDone(ctx, prefix, notes, args);
  const logs = await readLogs(ctx.broker.brokers, prefix);
  return row(scenario, sent, logs, await diff(ctx, prefix, logs, notes), 0, notes);
}

/**
 * The broker killed while `diff --follow` pairs: half the traffic judged before, the other
 * half captured and replayed after the restart; the diff must judge both, each once.
 */
export async function brokerDuringDiff(ctx: ChaosContext): Promise<ChaosRow> {
  const scenario = 'broker killed during diff --follow';
  const prefix = prefixOf('diff');
  const notes: string[] = [];
  const half = Math.floor(ctx.requests / 2);
  const group = `chaos-diff-${randomBytes(4).toString('hex')}`;
  const first = await captureAll(ctx, prefix, range(0, half), notes);
  await replayUntilDone(ctx, prefix, notes, ['--group', group]);
  const differ = runCli(['diff', ...logArgs(ctx, prefix), '--follow', '--format', 'jsonl', '--fail-on', '1']);
  const judged = () => differ.stdout.split('\n').filter((l) => l.startsWith('{') && !l.includes('"verdict":"missing"')).length;
  await differ.waitFor(() => judged() >= first.size, 'the first half judged');
  await ctx.broker.kill();
  await ctx.broker.start();
  const second = await captureAll(ctx, prefix, range(half, ctx.requests), notes);
  await replayUntilDone(ctx, prefix, notes, ['--group', group]);
  const sent = new Set([...first, ...second]);
  const logs = await readLogs(ctx.broker.brokers, prefix);
  // Waits for what can be judged: every replayed request of this run.
  const expected = [...logs.replayed].filter((n) => sent.has(n)).length;
  await differ.waitFor(() => judged() >= expected, `${expected} pairs judged`);
  const code = await differ.stop('SIGINT');
  if (code !== 0) notes.push(`diff exit ${code}: ${lastLine(differ.stderr)}`);
  const verdicts = verdictsOf(differ.stdout, (id) => logs.numberById.get(id));
  const lines = differ.stdout.split('\n').filter((l) => l.startsWith('{')).length;
  if (lines > verdicts.size) notes.push(`${lines - verdicts.size} pairs judged twice`);
  return row(scenario, sent, logs, verdicts, 0, notes);
}

/**
 * capture SIGKILLed under load: what it held in memory (records waiting for an append, the
 * append in flight) dies with it. The row says how many the client got answers for that the
 * log never received; a restart on the same spool delivers whatever reached the spool.
 */
export async function captureKilledUnderLoad(ctx: ChaosContext): Promise<ChaosRow> {
  const scenario = 'capture SIGKILLed under load';
  const prefix = prefixOf('sigkill');
  const notes: string[] = [];
  const agent = await startCapture(captureArgs(ctx, prefix, 'spool-sigkill'));
  let killed = false;
  const loading = sendRequests(agent.url, range(0, ctx.requests * 100), ctx.concurrency * 4, () => killed);
  let atKill = { delivered: 0, queueBytes: 0 };
  await agent.process.waitFor(async () => {
    atKill = await agent.health();
    return atKill.delivered >= ctx.requests;
  }, `${ctx.requests} captures delivered under load`);
  agent.process.child.kill('SIGKILL');
  await agent.process.exited;
  killed = true;
  const client = await loading;
  notes.push(`client: ${client.answered.size} answered, ${client.failed} failed at the kill; last /healthz before it: ${atKill.queueBytes} B queued`);
  // A restart on the same spool delivers what had reached it, and reports what the killed agent held in memory.
  const restarted = await startCapture(captureArgs(ctx, prefix, 'spool-sigkill'));
  await restarted.process.waitFor(() => spoolIsEmpty(join(ctx.work, 'spool-sigkill')), 'the spool delivered');
  const reported = (await restarted.health()).dropped;
  const crashLine = restarted.process.logLines().find((l) => l.lost !== undefined);
  notes.push(crashLine ? `restarted agent: "${String(crashLine.msg).split(':')[0]}", lost ${String(crashLine.lost)}` : 'restarted agent reported no loss');
  await restarted.process.stop('SIGTERM');
  await replayUntilDone(ctx, prefix, notes);
  const logs = await readLogs(ctx.broker.brokers, prefix);
  return { ...row(scenario, client.answered, logs, await diff(ctx, prefix, logs, notes), reported, notes), bound: true };
}

/** The shadow resets every fourth connection and never answers every fourth request; each still gets a Result and a verdict. */
export async function shadowResetsAndHangs(ctx: ChaosContext): Promise<ChaosRow> {
  const scenario = 'shadow resets and hangs';
  const prefix = prefixOf('shadow');
  const notes: string[] = [];
  const sent = await captureAll(ctx, prefix, range(0, ctx.requests), notes);
  ctx.servers.shadowBehaviour = (n) => (n % 4 === 1 ? 'reset' : n % 4 === 2 ? 'hang' : 'answer');
  try {
    const replayed = await replay(ctx, prefix, ['--timeout', '1000', '--retries', '1']);
    notes.push(`replay exit ${replayed.code}${replayed.code === 0 ? '' : `: ${lastLine(replayed.stderr)}`}`);
  } finally {
    ctx.servers.shadowBehaviour = () => 'answer';
  }
  const logs = await readLogs(ctx.broker.brokers, prefix);
  return row(scenario, sent, logs, await diff(ctx, prefix, logs, notes), 0, notes);
}

/**
 * The log unreachable and the spool bound reached: memory and spool fill, what passes both
 * bounds is dropped and counted; at shutdown memory goes to the spool if it fits. A second agent
 * on the same spool, with the log back, delivers the spool.
 */
export async function spoolLimitReached(ctx: ChaosContext): Promise<ChaosRow> {
  const scenario = 'spool limit reached (log unreachable)';
  const prefix = prefixOf('spool');
  const notes: string[] = [];
  const spool = 'spool-limit';
  const nowhere = `127.0.0.1:${await freePort()}`;
  const bounds = ['--queue-bytes', '4096', '--spool-bytes', '8192', '--drain-timeout', '1'];
  const agent = await startCapture(['--upstream', ctx.servers.stable.url, '--brokers', nowhere, '--topic-prefix', prefix, '--spool-dir', join(ctx.work, spool), ...bounds]);
  const client = await sendRequests(agent.url, range(0, ctx.requests), ctx.concurrency);
  const droppedServing = await agent.metric('shadowtap_capture_dropped_total');
  const code = await agent.process.stop('SIGTERM');
  const stopped = agent.process.logLines().find((l) => l.msg === 'capture agent stopped');
  const dropped = Number(stopped?.dropped ?? NaN);
  notes.push(`capture exit ${code}; dropped while serving ${droppedServing}, in all ${dropped} (stop line)`);
  const drainer = await startCapture(captureArgs(ctx, prefix, spool));
  await drainer.process.waitFor(() => spoolIsEmpty(join(ctx.work, spool)), 'the spool delivered');
  const delivered = (await drainer.health()).delivered;
  await drainer.process.stop('SIGTERM');
  notes.push(`second agent delivered ${delivered} from the spool`);
  await replayUntilDone(ctx, prefix, notes);
  const logs = await readLogs(ctx.broker.brokers, prefix);
  return row(scenario, client.answered, logs, await diff(ctx, prefix, logs, notes), dropped, notes);
}

export const scenarios = {
  capture: brokerDuringCapture,
  replay: brokerDuringReplay,
  diff: brokerDuringDiff,
  sigkill: captureKilledUnderLoad,
  shadow: shadowResetsAndHangs,
  spool: spoolLimitReached,
} satisfies Record<string, (ctx: ChaosContext) => Promise<ChaosRow>>;
