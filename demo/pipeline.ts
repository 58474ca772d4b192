import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import pino from 'pino';
import { Pool } from 'undici';
import { captureMiddleware } from '../capture/middleware.js';
import type { DiffReport } from '../diff/report.js';
import { runDiff } from '../diff/run-diff.js';
import { runReplay, type ReplaySummary } from '../replay/replay-worker.js';
import { openLog, type LogOptions } from '../shared/log/open-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { generateSealKeys, openingKeyFromPem } from '../shared/redaction/seal.js';
import { startFakeMailService } from './fake-mail-service.js';
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
  /** Emails that reached the local fake mail service: stable's only, the shadow's are blocked. */
  emailsReceived: number;
}

/**
 * The whole pipeline on the bundled sample apps: traffic to stable, recorded by the capture
 * middleware inside it (which also records the emails it sends), a replay of everything
 * captured to the shadow (orders too: the shadow proves it runs shadowtap/shadow) and, at the
 * same moment, to stable as the reference for latency, and the diff. Both apps send email to a
 * local fake mail service; nothing leaves the machine. `shadowtap demo` and the end-to-end
 * tests both run it, on the file log or on Kafka.
 */
export async function runPipeline(options: PipelineOptions = {}): Promise<PipelineRun> {
  const say = options.say ?? (() => undefined);
  const requests = options.requests ?? 300;
  const tempStore = options.log?.brokers || options.log?.store ? undefined : await mkdtemp(join(tmpdir(), 'shadowtap-demo-'));
  const logOptions: LogOptions = { ...options.log, ...(tempStore && { store: tempStore }) };
  const mail = await startFakeMailService();
  const captures = await openLog(captureKind, logOptions);
  const results = await openLog(resultKind, logOptions);
  // Seal mode with a key pair of this run: the log holds no secret, and the shadow still gets
  // the requests stable got (the demo's tokens and Authorization headers), so verdicts are real.
  const keys = generateSealKeys();
  const capture = captureMiddleware({
    sink: captures,
    service: 'sample',
    redaction: { mode: 'seal', sealPublicKey: keys.publicKeyPem },
    logger: pino({ level: 'warn' }, pino.destination(2)),
  });
  const stable = await startSampleApp('stable', 0, '127.0.0.1', { mailUrl: mail.url, wrap: (handler) => (req, res) => capture(req, res, () => handler(req, res)) });
  const shadow = await startSampleApp('shadow', 0, '127.0.0.1', { mailUrl: mail.url });
  const startMs = Date.now();
  try {
    say(`stable on ${stable.url}, shadow on ${shadow.url}, mail service on ${mail.url}, log: ${captures.name}`);
    const ids = await sendTraffic(stable.url, requests);
    await capture.close();
    say(`captured ${requests} requests with the capture middleware inside stable`);

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

    const emailsReceived = mail.received;
    say(`the mail service received ${emailsReceived} emails, all from stable: the shadow's were blocked and reported`);

    // Stable, shadow and replay share one process here: p99 shifts under 20 ms are that process's jitter, not the apps'.
    const report = await runDiff({ captures, results, fromMs: startMs, thresholds: { minLatencyRegressionMs: demoLatencyFloorMs } });
    return { captured: requests, ids, replay, report, emailsReceived };
  } finally {
    await captures.close();
    await results.close();
    await stable.close();
    await shadow.close();
    await mail.close();
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
