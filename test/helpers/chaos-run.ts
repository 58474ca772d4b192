import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { Agent, request } from 'undici';
import { openLog } from '../../shared/log/open-log.js';
import { captureKind, resultKind } from '../../shared/log/record-log.js';
import { packageRoot } from '../../shared/package-root.js';
import { freePort } from './free-port.js';
import { listenLocal, type LocalServer } from './local-server.js';
import { waitFor } from './wait-for.js';

/**
 * The chaos run (issue 15 point 9): the real CLI (capture, replay, diff as child processes)
 * between a client, a stable and a shadow on port 0, on a Kafka broker of its own that the
 * scenarios kill and restart. Each scenario returns what the client got answered (sent), what
 * the captures topic holds (recorded), what got a Result (replayed) and what the diff judged
 * (compared), by request number, and what the tool itself reported as lost.
 * Used by test/chaos.test.ts (small counts) and bench/chaos-run.ts (counts from the environment).
 */

/** Kafka and processes react in seconds: conditions get a generous deadline, never a fixed sleep. */
const waitMs = 90_000;

export interface ChaosRow {
  scenario: string;
  /** Requests the client got stable's answer for, through capture. */
  sent: number;
  /** Distinct requests in the captures topic. */
  recorded: number;
  /** Distinct recorded requests with a Result. */
  replayed: number;
  /** Distinct requests the diff judged (any verdict but missing). */
  compared: number;
  /** sent − compared: requests that did not make it end to end. */
  lost: number;
  /** Losses the tool itself counted and reported (drop counters, log lines). */
  reported: number;
  /** The reported count is an upper bound, not an exact count (a killed capture's). */
  bound?: boolean;
  /** The diff's verdicts, by kind. */
  verdicts: Record<string, number>;
  /** Results by outcome (`error:reset`, `skipped:unsafe-method`, ...), every attempt counted. */
  results: Record<string, number>;
  /** What happened, in a few words (exit codes, restarts, verdicts). */
  notes: string[];
}

export function formatRows(rows: ChaosRow[]): string {
  const lines = [
    '| scenario | sent | recorded | replayed | compared | lost | reported by the tool | unexplained | notes |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const unexplained = r.bound ? Math.max(0, r.lost - r.reported) : r.lost - r.reported;
    const verdicts = Object.entries(r.verdicts).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`| ${r.scenario} | ${r.sent} | ${r.recorded} | ${r.replayed} | ${r.compared} | ${r.lost} | ${r.bound ? `at most ${r.reported}` : r.reported} | ${unexplained} | verdicts: ${verdicts}; ${r.notes.join('; ')} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- child processes of the CLI

export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [join(packageRoot(), 'dist', 'cli', 'main.js'), ...args], {
      env: { ...process.env, NO_COLOR: '1', KAFKA_BROKERS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (c) => (this.stdout += c));
    this.child.stderr!.on('data', (c) => (this.stderr += c));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    // Never leave a child behind when the run ends without stopping it.
    const kill = () => this.child.kill('SIGKILL');
    process.once('exit', kill);
    void this.exited.then(() => process.off('exit', kill));
  }

  /** The JSON log lines (pino) written so far. */
  logLines(): Array<Record<string, unknown>> {
    return this.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  }

  /** Exit code after `signal`, or after the process ends on its own when none is given. */
  async stop(signal?: NodeJS.Signals): Promise<number | null> {
    if (signal) this.child.kill(signal);
    const { code } = await this.exited;
    return code;
  }

  /** Fails the wait when the process exits first, naming its last words. */
  async waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
    await waitFor(
      async () => {
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          throw new Error(`process ended (${this.child.exitCode ?? this.child.signalCode}) while waiting for ${what}: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        }
        return condition();
      },
      what,
      waitMs,
    );
  }
}

export function runCli(args: string[]): CliProcess {
  return new CliProcess(args);
}

export interface CaptureAgent {
  process: CliProcess;
  url: string;
  metricsUrl: string;
  /** The agent's counters from /healthz (delivered, dropped, queueBytes, spoolBytes, log state). */
  health(): Promise<{ delivered: number; dropped: number; queueBytes: number; spoolBytes: number; log: string }>;
  /** A counter summed over its labels from /metrics. */
  metric(name: string): Promise<number>;
}

export async function startCapture(args: string[]): Promise<CaptureAgent> {
  const child = runCli(['capture', '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--log-level', 'info', ...args]);
  let listening: Record<string, unknown> | undefined;
  await child.waitFor(() => (listening = child.logLines().find((line) => line.msg === 'capture agent listening')) !== undefined, 'capture to listen');
  // The agent logs its metrics endpoint; the probes are beside it.
  const metricsUrl = String(listening!.metrics).replace(/\/metrics$/, '');
  return {
    process: child,
    url: String(listening!.url),
    metricsUrl,
    health: async () => (await (await fetch(`${metricsUrl}/healthz`)).json()) as Awaited<ReturnType<CaptureAgent['health']>>,
    metric: async (name) => sumMetric(await (await fetch(`${metricsUrl}/metrics`)).text(), name),
  };
}

function sumMetric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

// ---------------------------------------------------------------- stable, shadow and the client

export type ShadowBehaviour = 'answer' | 'reset' | 'hang';

export interface ChaosServers {
  stable: LocalServer;
  shadow: LocalServer;
  /** How the shadow treats request number n (from the `n` query parameter). */
  shadowBehaviour: (n: number) => ShadowBehaviour;
  /** Request numbers the shadow received, counting retries. */
  shadowReceived: number;
  close(): Promise<void>;
}

const numberOf = (url: string | undefined) => Number(new URL(url ?? '/', 'http://x').searchParams.get('n'));

/** Stable and shadow give the same answer for the same request, so a pair that is compared matches. */
function answer(res: ServerResponse, n: number): void {
  const body = JSON.stringify({ n, item: `item-${n}` });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startServers(): Promise<ChaosServers> {
  const stable = await listenLocal(createServer((req, res) => req.resume().on('end', () => answer(res, numberOf(req.url)))));
  const hanging = new Set<Socket>();
  const servers: ChaosServers = {
    stable,
    shadow: undefined as unknown as LocalServer,
    shadowBehaviour: () => 'answer',
    shadowReceived: 0,
    close: async () => {
      for (const socket of hanging) socket.destroy();
      await Promise.all([stable.close(), servers.shadow.close()]);
    },
  };
  servers.shadow = await listenLocal(
    createServer((req, res) => {
      servers.shadowReceived++;
      const n = numberOf(req.url);
      const behaviour = servers.shadowBehaviour(n);
      if (behaviour === 'reset') return void req.socket.resetAndDestroy();
      if (behaviour === 'hang') {
        hanging.add(req.socket);
        req.socket.once('close', () => hanging.delete(req.socket));
        return void req.resume();
      }
      req.resume().on('end', () => answer(res, n));
    }),
  );
  return servers;
}

/** The requests the client got an answer (200) for, by number. */
export interface ClientRun {
  answered: Set<number>;
  failed: number;
}

/**
 * Sends GET /items?n=<n> for each n with `concurrency` in flight; a request that fails (the
 * agent killed under it) is counted, not retried. `until` stops sending early.
 */
export async function sendRequests(url: string, numbers: number[], concurrency: number, until?: () => boolean): Promise<ClientRun> {
  const dispatcher = new Agent({ connections: concurrency, keepAliveTimeout: 10_000 });
  const run: ClientRun = { answered: new Set(), failed: 0 };
  let next = 0;
  const worker = async () => {
    while (next < numbers.length && !until?.()) {
      const n = numbers[next++];
      try {
        const response = await request(`${url}/items?n=${n}`, { dispatcher, headersTimeout: waitMs, bodyTimeout: waitMs });
        await response.body.text();
        if (response.statusCode === 200) run.answered.add(n);
        else run.failed++;
      } catch {
        run.failed++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await dispatcher.destroy();
  }
  return run;
}

export const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

// ---------------------------------------------------------------- what the logs hold

export interface LogCounts {
  /** Request numbers in the captures topic. */
  recorded: Set<number>;
  /** Captures in the topic, duplicates included. */
  captureRecords: number;
  /** Request numbers whose capture has a Result (any outcome), and the outcomes seen. */
  replayed: Set<number>;
  outcomes: Map<string, number>;
  /** Capture id → request number. */
  numberById: Map<string, number>;
}

export async function readLogs(brokers: string, topicPrefix: string): Promise<LogCounts> {
  const numberById = new Map<string, number>();
  const counts: LogCounts = { recorded: new Set(), captureRecords: 0, replayed: new Set(), outcomes: new Map(), numberById };
  const captures = await openLog(captureKind, { brokers: [brokers], topicPrefix });
  try {
    for await (const { value } of captures.read()) {
      const n = Number(new URLSearchParams(value.request.query).get('n'));
      numberById.set(value.id, n);
      counts.recorded.add(n);
      counts.captureRecords++;
    }
  } finally {
    await captures.close();
  }
  const results = await openLog(resultKind, { brokers: [brokers], topicPrefix });
  try {
    for await (const { value } of results.read()) {
      const n = numberById.get(value.captureId);
      if (n === undefined) continue;
      counts.replayed.add(n);
      const outcome = value.error ? `${value.outcome}:${value.error.kind}` : value.skipReason ? `${value.outcome}:${value.skipReason}` : value.outcome;
      counts.outcomes.set(outcome, (counts.outcomes.get(outcome) ?? 0) + 1);
    }
  } finally {
    await results.close();
  }
  return counts;
}

/** The diff's verdicts by request number, from its JSON Lines output. */
export function verdictsOf(jsonLines: string, numberById: (id: string) => number | undefined): Map<number, string> {
  const verdicts = new Map<number, string>();
  for (const line of jsonLines.split('\n')) {
    if (!line.startsWith('{')) continue;
    const record = JSON.parse(line) as { captureId: string; verdict: string };
    const n = numberById(record.captureId);
    if (n !== undefined) verdicts.set(n, record.verdict);
  }
  return verdicts;
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `shadowtap-chaos-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export { freePort };
