import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShadowtapError } from '../shared/errors.js';
import type { LogEntry } from '../shared/log/record-log.js';
import { nowMicros, resultV2Defaults, type Capture, type Result } from '../shared/records/types.js';
import { CircuitBreaker, type Admission } from './circuit-breaker.js';
import { CommitTracker } from './commit-tracker.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import { isConnectionFailure } from './error-kind.js';
import { asapPacer, type Pacer } from './pacer.js';
import { sleepUntil } from './precise-timer.js';
import type { ReplayProgress } from './progress.js';
import { ratePacer } from './rate-pacer.js';
import { recordedPacer } from './recorded-pacer.js';
import type { ReplayObserver } from './replay-observer.js';
import { resolveReplayOptions, type ReplayConfig, type ReplayOptions } from './replay-options.js';
import { ReplayStats, type ReplaySummary } from './replay-stats.js';
import { buildRequest, type OutgoingRequest } from './request-builder.js';
import { ResultWriter, resultWriterDefaults } from './result-writer.js';
import { ShadowSender, type SendOutcome } from './shadow-sender.js';
import { skipReason } from './side-effect-guard.js';

export type { ReplayOptions } from './replay-options.js';
export type { ReplaySummary } from './replay-stats.js';
export type { ReplayProgress } from './progress.js';

/** An open-model send that cannot start this long after its scheduled time is dropped. */
const dropToleranceMs = 2;
const progressIntervalMs = 250;
/** A/A sends waiting for the baseline's cap, in multiples of it, before further ones are skipped. */
const baselineBacklogRounds = 4;

/**
 * Reads captures, sends each to the shadow (paced, guarded, marked), writes one Result per
 * capture (per copy) and commits positions only after their Results are written.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  const config = resolveReplayOptions(options);
  const { source, signal } = options;
  const stats = new ReplayStats();
  const observers: ReplayObserver[] = [stats, ...(options.observers ?? [])];
  const observe = (event: (observer: ReplayObserver) => void) => observers.forEach(event);

  const sender = new ShadowSender(config.target, {
    connections: config.concurrency,
    timeoutMs: config.timeoutMs,
    maxBodyBytes: config.maxBodyBytes,
  });
  // The A/A baseline has its own connections and cap, so it never delays or drops a target send.
  const baseline = config.baseline && {
    ...config.baseline,
    sender: new ShadowSender(config.baseline.target, { connections: config.concurrency, timeoutMs: config.timeoutMs, maxBodyBytes: config.maxBodyBytes }),
    limit: new ConcurrencyLimit(config.concurrency),
  };
  if (baseline) stats.enableBaseline();
  const breaker = new CircuitBreaker(config.circuitBreaker, (open) => observe((o) => o.circuit(open)));
  const limit = new ConcurrencyLimit(config.concurrency);
  const tracker = config.commit ? new CommitTracker() : undefined;
  const writer = new ResultWriter(options.results, async (batch) => {
    if (!tracker) return;
    for (const result of batch) tracker.written(result.source);
    const positions = tracker.takeCommittable();
    if (positions.length === 0) return;
    try {
      await source.commit(config.group, positions);
    } catch (error) {
      // Not fatal: the Results are written, and the next commit covers these positions too; at
      // worst a restart replays them again (a consumer group rebalance can refuse a commit).
      stats.commitFailed();
      options.onWarning?.(`commit for group ${config.group} failed, continuing: ${(error as Error).message}`);
    }
  });
  const resultBacklogLimit = 4 * config.concurrency + resultWriterDefaults.maxInFlight * resultWriterDefaults.maxBatch;
  const pacer = createPacer(config, options.follow ?? false);
  // Set when the drain deadline passes after a stop: sends still in flight are cut short and
  // write no Result, so their captures stay uncommitted and are replayed on restart.
  const hardStop = new AbortController();
  setMaxListeners(0, hardStop.signal);
  let failure: unknown;
  let lastRecordedMs: number | undefined;
  let lagMs: number | null = null;

  const record = (result: Result, entry: LogEntry<Capture>) => {
    observe((o) => o.result(result));
    options.onResult?.(result, entry);
    writer.add(result);
  };

  const execute = async (entry: LogEntry<Capture>, base: ResultBase, request: OutgoingRequest, admission: Admission) => {
    let attempt = 0;
    let firstSentTime: number | undefined;
    for (;;) {
      attempt++;
      const outcome = await sender.send(request);
      if (hardStop.signal.aborted) return;
      firstSentTime ??= outcome.sentTime;
      const connectionFailure = !outcome.ok && isConnectionFailure(outcome.kind);
      breaker.record(attempt === 1 ? admission : 'normal', outcome.ok ? 'answered' : connectionFailure ? 'connection-failure' : 'other-failure');
      if (outcome.ok || !connectionFailure || attempt > config.retries) {
        record(sentResult(base, outcome, attempt, firstSentTime), entry);
        return;
      }
      await sleep(retryBackoffMs(attempt), undefined, { signal: hardStop.signal }).catch(() => undefined);
      if (hardStop.signal.aborted) return;
    }
  };

  let baselineWaiting = 0;
  /**
   * The A/A copy of a send that just started: one attempt, no circuit breaker (both are about the
   * shadow). It waits for a slot of its own without holding up the target's sends; past a
   * backlog of a few rounds of the cap it is skipped instead. Its Result is due before the capture commits.
   */
  const sendBaseline = async (entry: LogEntry<Capture>, base: ResultBase) => {
    if (!baseline || skipReason(entry.value.request, baseline.allowedMethods)) return;
    if (baselineWaiting >= baselineBacklogRounds * baseline.limit.max) {
      stats.baselineDropped();
      return;
    }
    tracker?.expectMore(entry.position);
    baselineWaiting++;
    const started = await baseline.limit.acquire({ signal: hardStop.signal });
    baselineWaiting--;
    if (!started) return;
    try {
      const outcome = await baseline.sender.send(buildRequest(entry.value.request, baseline.rules));
      if (hardStop.signal.aborted) return;
      const result = sentResult({ ...base, target: baseline.target.origin }, outcome, 1, outcome.sentTime);
      stats.baselineResult(result);
      writer.add(result);
    } finally {
      baseline.limit.release();
    }
  };

  const dispatch = async (entry: LogEntry<Capture>, id: string) => {
    const capture = entry.value;
    const base = {
      id,
      captureId: capture.id,
      source: { log: source.name, partition: entry.position.partition, offset: entry.position.offset },
      target: config.target.origin,
    };
    const reason = skipReason(capture.request, config.allowedMethods);
    if (reason) {
      record(skipped({ ...base, scheduledTime: nowMicros() }, reason), entry);
      return;
    }
    const request = buildRequest(capture.request, config.rules);
    const scheduledAt = pacer.scheduleFor(entry.timestampMs);
    await sleepUntil(scheduledAt, signal);
    // A stop before the send: no Result, so the capture is not committed and is replayed later.
    if (signal?.aborted) return;
    const scheduledTime = Math.round((performance.timeOrigin + scheduledAt) * 1000);
    let admission: Admission | null;
    if (pacer.dropsWhenBusy) {
      // Open model: a send the worker itself reaches too late (a blocked event loop), an open
      // circuit or a full concurrency cap at the scheduled time means dropped, never sent late.
      const deadlineMs = scheduledAt + dropToleranceMs;
      admission = performance.now() <= deadlineMs ? breaker.tryAdmit() : null;
      const started = admission !== null && (await limit.acquire({ signal, deadlineMs }));
      if (!admission || !started) {
        if (admission === 'probe') breaker.releaseProbe();
        if (signal?.aborted) return;
        record(skipped({ ...base, scheduledTime }, 'dropped'), entry);
        return;
      }
    } else {
      if (!(await limit.acquire({ signal }))) return;
      admission = await breaker.admit(signal);
      if (!admission) {
        limit.release();
        return;
      }
    }
    if (options.follow) {
      lagMs = Date.now() - entry.timestampMs;
      const lag = lagMs;
      observe((o) => o.lag(lag));
    }
    execute(entry, { ...base, scheduledTime }, request, admission)
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => limit.release());
    sendBaseline(entry, { ...base, scheduledTime }).catch((error: unknown) => {
      failure ??= error;
    });
  };

  const progressTimer = options.onProgress
    ? setInterval(() => options.onProgress!(progressOf(stats, limit, breaker, lagMs, lastRecordedMs, options)), progressIntervalMs)
    : undefined;
  try {
    const entries = source.read({
      fromMs: options.fromMs,
      toMs: options.toMs,
      follow: options.follow,
      group: config.commit ? config.group : undefined,
      signal,
      onDeadLetter: () => observe((o) => o.deadLetter()),
      onWarning: options.onWarning,
    });
    for await (const entry of entries) {
      if (signal?.aborted || writer.failure || failure) break;
      observe((o) => o.captureRead());
      lastRecordedMs = entry.timestampMs;
      const ids = config.copies(entry);
      tracker?.track(entry.position, ids.length);
      for (const id of ids) {
        if (signal?.aborted) break;
        await dispatch(entry, id);
      }
      // Keeps memory bounded when the log is slower to write than the shadow answers.
      await writer.belowBacklog(resultBacklogLimit);
    }
  } finally {
    await drain(baseline ? [limit, baseline.limit] : [limit], signal, config.drainTimeoutMs, async () => {
      hardStop.abort();
      await Promise.all([sender.close(), baseline?.sender.close()]);
    });
    await writer.flush();
    clearInterval(progressTimer);
    await Promise.all([sender.close(), baseline?.sender.close()]);
  }
  options.onProgress?.(progressOf(stats, limit, breaker, lagMs, lastRecordedMs, options));
  const error = writer.failure ?? failure;
  if (error) {
    if (error instanceof ShadowtapError) throw error;
    throw new ShadowtapError('ST_RUNTIME', `replay stopped: ${(error as Error).message}`, { cause: error });
  }
  return stats.summary();
}

type ResultBase = Pick<Result, 'id' | 'captureId' | 'source' | 'target' | 'scheduledTime'>;

function sentResult(base: ResultBase, outcome: SendOutcome, attempt: number, sentTime: number): Result {
  return {
    ...base,
    sentTime,
    attempt,
    outcome: outcome.ok ? 'response' : 'error',
    error: outcome.ok ? null : { kind: outcome.kind, message: outcome.message },
    skipReason: null,
    response: outcome.ok ? outcome.response : null,
    latencyMicros: outcome.ok ? outcome.latencyMicros : null,
    ...resultV2Defaults(),
  };
}

/** A Result for a capture that was not sent; attempt 0 says no request left. */
function skipped(base: ResultBase, reason: string): Result {
  return {
    ...base,
    sentTime: null,
    attempt: 0,
    outcome: 'skipped',
    error: null,
    skipReason: reason,
    response: null,
    latencyMicros: null,
    ...resultV2Defaults(),
  };
}

function createPacer(config: ReplayConfig, follow: boolean): Pacer {
  switch (config.pace.kind) {
    case 'rate':
      return ratePacer({ rate: config.pace.rate, restartWhenIdle: follow });
    case 'recorded':
      return recordedPacer({ speed: config.pace.speed, originMs: config.pace.originMs });
    case 'asap':
      return asapPacer();
  }
}

/**
 * Waits for sends in flight. A stop (before or while waiting) leaves them `deadlineMs` more;
 * then the rest are cut short.
 */
async function drain(limits: ConcurrencyLimit[], signal: AbortSignal | undefined, deadlineMs: number, cutShort: () => Promise<void>): Promise<void> {
  const stopped = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const idle = () => Promise.all(limits.map((limit) => limit.idle()));
  const busy = () => limits.some((limit) => limit.inFlight > 0);
  await Promise.race([idle(), stopped]);
  if (busy()) {
    const timer = new AbortController();
    await Promise.race([idle(), sleep(deadlineMs, undefined, { signal: timer.signal }).catch(() => undefined)]);
    timer.abort();
    if (busy()) await cutShort();
  }
  await idle();
}

function retryBackoffMs(attempt: number): number {
  return Math.min(2000, 50 * 2 ** (attempt - 1));
}

function progressOf(
  stats: ReplayStats,
  limit: ConcurrencyLimit,
  breaker: CircuitBreaker,
  lagMs: number | null,
  lastRecordedMs: number | undefined,
  options: ReplayOptions,
): ReplayProgress {
  const { fromMs, toMs } = options;
  const fraction =
    fromMs !== undefined && toMs !== undefined && lastRecordedMs !== undefined
      ? Math.min(1, Math.max(0, (lastRecordedMs - fromMs) / (toMs - fromMs)))
      : null;
  return {
    elapsedMs: stats.elapsedMs,
    ...stats.counts,
    inFlight: limit.inFlight,
    fraction,
    lagMs: options.follow ? lagMs : null,
    circuitOpen: breaker.isOpen,
  };
}
