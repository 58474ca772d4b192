import { setMaxListeners } from 'node:events';
import { ShadowtapError } from '../shared/errors.js';
import { withBaseline } from './baseline-send.js';
import { breakerStep } from './breaker-step.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import { deliverStep, lagStep, launchStep, targetSend } from './deliver-step.js';
import { drain } from './drain.js';
import { GuardProof } from './guard-proof.js';
import { guardRecheckStep, guardStep } from './guard-step.js';
import { limiterStep } from './limiter-step.js';
import { asapPacer, type Pacer } from './pacer.js';
import { orderStep } from './order-step.js';
import { pacerStep } from './pacer-step.js';
import type { ReplayProgress } from './progress.js';
import { ratePacer } from './rate-pacer.js';
import { recordedPacer } from './recorded-pacer.js';
import { withReference } from './reference-send.js';
import { compose, type Wrapper } from './replay-job.js';
import type { ReplayObserver } from './replay-observer.js';
import { resolveReplayOptions, type ReplayConfig, type ReplayOptions } from './replay-options.js';
import { ReplaySink } from './replay-sink.js';
import { ReplayStats, type ReplaySummary } from './replay-stats.js';
import { buildRequest } from './request-builder.js';
import { requestStep } from './request-step.js';
import { retryStep } from './retry-step.js';
import { ShadowRedaction } from './shadow-redaction.js';
import { ShadowSender } from './shadow-sender.js';
import { pumpSource } from './source-step.js';
import { isUnsafeMethod, takeShadowReport } from '../shared/records/side-effects.js';

export type { ReplayOptions } from './replay-options.js';
export type { ReplaySummary } from './replay-stats.js';
export type { ReplayProgress } from './progress.js';

const progressIntervalMs = 250;

/** A replay, set up and checked; `run` sends it. */
export interface Replay {
  /** The consumer group whose positions the run resumes from and commits; undefined when it commits none (a soak). */
  readonly group: string | undefined;
  /** Reads, sends and records until the source ends or the signal stops it; once. */
  run(): Promise<ReplaySummary>;
}

/**
 * The replay stage: reads captures, sends each to the shadow (guarded, paced, capped, behind a
 * circuit breaker, retried, marked), writes one Result per send and commits positions only after
 * their Results are written. Options are checked here, with their defaults from replay-defaults.ts.
 */
export function createReplay(options: ReplayOptions): Replay {
  const config = resolveReplayOptions(options);
  return { group: config.commit ? config.group : undefined, run: () => runComposed(options, config) };
}

/** createReplay(options).run(), for a single call. */
export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  return createReplay(options).run();
}

async function runComposed(options: ReplayOptions, config: ReplayConfig): Promise<ReplaySummary> {
  const { signal, follow = false } = options;
  const stats = new ReplayStats();
  const observers: ReplayObserver[] = [stats, ...(options.observers ?? [])];
  const sink = new ReplaySink({ results: options.results, source: options.source, group: config.commit ? config.group : undefined, stats, observers, onResult: options.onResult, onWarning: options.onWarning });
  // Set when the drain deadline passes after a stop: sends still in flight are cut short and
  // write no Result, so their captures stay uncommitted and are replayed on restart.
  const hardStop = new AbortController();
  setMaxListeners(0, hardStop.signal);
  let failure: unknown;
  const fail = (error: unknown) => {
    failure ??= error;
  };
  let lastRecordedMs: number | undefined;
  let lagMs: number | null = null;

  const senderTo = (target: URL) => new ShadowSender(target, { connections: config.concurrency, timeoutMs: config.timeoutMs, maxBodyBytes: config.maxBodyBytes });
  const sender = senderTo(config.target);
  const referenceSender = config.reference && senderTo(config.reference.target);
  const baselineSender = config.baseline && senderTo(config.baseline.target);
  const senders = [sender, referenceSender, baselineSender];
  const redaction = new ShadowRedaction(config.redaction);
  const breaker = new CircuitBreaker(config.circuitBreaker, (open) => observers.forEach((o) => o.circuit(open)));
  const limit = new ConcurrencyLimit(config.concurrency);
  const baselineLimit = new ConcurrencyLimit(config.concurrency);
  const pacer = createPacer(config, follow);
  const guardProof = config.guardedWrites ? new GuardProof(() => probeGuard(sender, config), (line) => options.onWarning?.(line)) : undefined;

  // In flight: sender ← reference (same moment) ← retry ← answer to the sink ← A/A baseline beside it.
  let send = targetSend(sender);
  if (config.reference && referenceSender) {
    stats.enableReference();
    send = withReference({ peer: config.reference, sender: referenceSender, redaction, stats, sink, hardStop: hardStop.signal })(send);
  }
  let deliver = deliverStep(retryStep(send, config.retries, breaker, hardStop.signal), redaction, guardProof, sink, hardStop.signal);
  if (config.baseline && baselineSender) {
    stats.enableBaseline();
    deliver = withBaseline({ peer: config.baseline, sender: baselineSender, limit: baselineLimit, redaction, stats, sink, hardStop: hardStop.signal, fail })(deliver);
  }
  // Before it leaves: source → guard → request → pacer → order (writes) → limiter → breaker → guard again → launch.
  const writesSent = config.guardedWrites || [...config.allowedMethods].some(isUnsafeMethod);
  const steps: Wrapper[] = [
    guardStep(config.allowedMethods, guardProof, sink),
    requestStep(config, redaction, sink),
    pacerStep(pacer, signal),
    ...(writesSent ? [orderStep()] : []),
    limiterStep(limit, pacer.openModel, signal, sink),
    breakerStep(breaker, pacer.openModel !== undefined, signal, sink),
    guardRecheckStep(guardProof, sink),
  ];
  if (follow) {
    steps.push(
      lagStep((ms) => {
        lagMs = ms;
        observers.forEach((o) => o.lag(ms));
      }),
    );
  }
  const pipeline = compose(steps, launchStep(deliver, fail));

  const progress = () => progressOf(stats, limit, breaker, lagMs, lastRecordedMs, options);
  const progressTimer = options.onProgress ? setInterval(() => options.onProgress!(progress()), progressIntervalMs) : undefined;
  try {
    await pumpSource(
      {
        ...options,
        config,
        sink,
        observers,
        failed: () => failure !== undefined,
        onRead: (entry) => {
          lastRecordedMs = entry.timestampMs;
        },
      },
      pipeline,
    );
  } finally {
    await drain([limit, baselineLimit], signal, config.drainTimeoutMs, async () => {
      hardStop.abort();
      await Promise.all(senders.map((s) => s?.close()));
    });
    await sink.flush();
    clearInterval(progressTimer);
    await Promise.all(senders.map((s) => s?.close()));
  }
  options.onProgress?.(progress());
  const error = sink.failure ?? failure;
  if (error) {
    if (error instanceof ShadowtapError) throw error;
    throw new ShadowtapError('ST_RUNTIME', `replay stopped: ${(error as Error).message}`, { cause: error });
  }
  return stats.summary();
}

function createPacer(config: ReplayConfig, follow: boolean): Pacer {
  switch (config.pace.kind) {
    case 'rate':
      return ratePacer({ rate: config.pace.rate, restartWhenIdle: follow, maxLatenessMs: config.pace.maxLatenessMs, strict: config.pace.strict });
    case 'recorded':
      return recordedPacer({ speed: config.pace.speed, originMs: config.pace.originMs });
    case 'asap':
      return asapPacer();
  }
}

/** The guard probe: a safe request with the replay markers; whether its answer carried the guard marker. */
async function probeGuard(sender: ShadowSender, config: ReplayConfig): Promise<boolean | null> {
  const probe = { method: 'HEAD', path: '/', query: '', headers: [], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null };
  const outcome = await sender.send(buildRequest(probe, config.rules));
  return outcome.ok ? takeShadowReport(outcome.response.headers).guarded : null;
}

function progressOf(stats: ReplayStats, limit: ConcurrencyLimit, breaker: CircuitBreaker, lagMs: number | null, lastRecordedMs: number | undefined, options: ReplayOptions): ReplayProgress {
  const { fromMs, toMs } = options;
  const fraction =
    fromMs !== undefined && toMs !== undefined && lastRecordedMs !== undefined ? Math.min(1, Math.max(0, (lastRecordedMs - fromMs) / (toMs - fromMs))) : null;
  return {
    elapsedMs: stats.elapsedMs,
    ...stats.counts,
    inFlight: limit.inFlight,
    fraction,
    lagMs: options.follow ? lagMs : null,
    circuitOpen: breaker.isOpen,
  };
}
