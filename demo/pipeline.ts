import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import pino from 'pino';
import { Pool } from 'undici';
import { startCaptureServer } from '../capture/capture-server.js';
import type { DiffReport } from '../diff/report.js';
import { runDiff } from '../diff/run-diff.js';
import { runReplay, type ReplaySummary } from '../replay/replay-worker.js';
import { openLog, type LogOptions } from '../shared/log/open-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { generateSealKeys, openingKeyFromPem } from '../shared/redaction/seal.js';
import { demoTraffic, startSampleApp } from './sample-app.js';

/** The seeded slowdown is 60 ms; the demo's floor for calling a route slower. */
const demoLatencyFloorMs = 20;

export interface PipelineOptions {
  /** Kafka or file log; a fresh temporary store when neither is given. */
  log?: LogOptions;
  requests?: number;
  /** Replay/diff consumer group, unique per run so runs on a shared broker do not mix. */
  group?: string;
  /** Progress lines for a person watching. */
  say?: (line: string) => void;
}

export interface PipelineRun {
  captured: number;
  ids: string[];
  replay: ReplaySummary;
  report: DiffReport;
}

/**
 * The whole pipeline on the bundled sample apps: traffic through capture in front of stable,
 * a replay of everything captured to the shadow (and, at the same moment, to stable as the
 * reference for latency), and the diff. `shadowtap demo` and the
 * end-to-end tests both run it, on the file log or on Kafka.
 */
export async function runPipeline(options: PipelineOptions = {}): Promise<PipelineRun> {
  const say = options.say ?? (() => undefined);
  const requests = options.requests ?? 300;
  const tempStore = options.log?.brokers || options.log?.store ? undefined : await mkdtemp(join(tmpdir(), 'shadowtap-demo-'));
  const logOptions: LogOptions = { ...options.log, ...(tempStore && { store: tempStore }) };
  const stable = await startSampleApp('stable');
  const shadow = await startSampleApp('shadow');
  const captures = await openLog(captureKind, logOptions);
  const results = await openLog(resultKind, logOptions);
  const startMs = Date.now();
  // Seal mode with a key pair of this run: the log holds no secret, and the shadow still gets
  // the requests stable got (the demo's tokens and Authorization headers), so verdicts are real.
  const keys = generateSealKeys();
  try {
    say(`stable on ${stable.url}, shadow on ${shadow.url}, log: ${captures.name}`);
    const capture = await startCaptureServer({
      port: 0,
      upstream: stable.url,
      sink: captures,
      service: 'sample',
      redaction: { mode: 'seal', sealPublicKey: keys.publicKeyPem },
      logger: pino({ level: 'warn' }, pino.destination(2)),
    });
    const ids = await sendTraffic(capture.url, requests);
    await capture.close();
    say(`captured ${requests} requests through ${capture.url}`);

    const replay = await runReplay({
      source: captures,
      results,
      target: shadow.url,
      fromMs: startMs,
      group: options.group ?? `demo-${startMs}`,
      sealKeys: [openingKeyFromPem(keys.privateKeyPem)],
      concurrency: 8,
      // A window is replayed at the replay's own pace, not under the load capture saw: stable is asked
      // again at the same moment as the shadow, so latencies are compared like with like.
      reference: stable.url,
    });
    say(`replayed ${replay.read} captures to the shadow: ${replay.responses} answered, ${Object.values(replay.skipped).reduce((a, b) => a + b, 0)} skipped`);

    // Stable, shadow and replay share one process here: p99 shifts under 20 ms are that process's jitter, not the apps'.
    const report = await runDiff({ captures, results, fromMs: startMs, thresholds: { minLatencyRegressionMs: demoLatencyFloorMs } });
    return { captured: requests, ids, replay, report };
  } finally {
    await captures.close();
    await results.close();
    await stable.close();
    await shadow.close();
    if (tempStore) await rm(tempStore, { recursive: true, force: true });
  }
}

/** Sends the demo traffic through capture as clients would, each with its own request id. */
async function sendTraffic(url: string, count: number): Promise<string[]> {
  const pool = new Pool(url, { connections: 8 });
  const limit = pLimit(8);
  const ids: string[] = [];
  try {
    await Promise.all(
      [...demoTraffic(count)].map((request, i) =>
        limit(async () => {
          const id = `demo-${String(i).padStart(5, '0')}-${crypto.randomUUID().slice(0, 8)}`;
          ids.push(id);
          const response = await pool.request({
            method: request.method as 'GET',
            path: request.path,
            headers: { 'x-request-id': id, ...request.headers },
            body: request.body,
          });
          await response.body.dump();
        }),
      ),
    );
  } finally {
    await pool.close();
  }
  return ids;
}
