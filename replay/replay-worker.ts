import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShadowtapError, usageError } from '../shared/errors.js';
import type { LogEntry } from '../shared/log/record-log.js';
import { nowMicros, resultV2Defaults, type Capture, type Result, type ResultRole } from '../shared/records/types.js';
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
import { resolveReplayOptions, type PeerConfig, type ReplayConfig, type ReplayOptions } from './replay-options.js';
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

  const senderTo = (target: URL) => new ShadowSender(target, { connections: config.concurrency, timeoutMs: config.timeoutMs, maxBodyBytes: config.maxBodyBytes });
  const sender = senderTo(config.target);
  // The A/A baseline has its own connections and cap, so it never delays or drops a target send.
  const baseline = config.baseline && {
    ...config.baseline,
    sender: senderTo(config.baseline.target),
    limit: new ConcurrencyLimit(config.concurrency),
  };
  if (baseline) stats.enableBaseline();
  // The reference is sent each request with the target, in the target's concurrency slot: a pair is in flight together.
  const reference = config.reference && { ...config.reference, sender: senderTo(config.reference.target) };
  if (reference) stats.enableReference();
  const senders = [sender, baseline?.sender, reference?.sender];
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

  /**
   * Sends to the target (retrying connection failures) and, at the same moment as the first
   * attempt, to the reference; the reference's Result is written just before the target's, so a
   * diff reading in order meets it first.
   */
  let pairsSent = 0;
  const execute = async (entry: LogEntry<Capture>, base: ResultBase, request: OutgoingRequest, admission: Admission, referenceSend: ReferenceSend | undefined) => {
    let attempt = 0;
    let firstSentTime: number | undefined;
    let referenceResult: Promise<Result> | undefined;
    // Whichever side is sent first is answered first on a shared host: take turns, so neither is always second.
    const referenceFirst = (pairsSent++ & 1) === 0;
    for (;;) {
      attempt++;
      if (attempt === 1 && referenceSend && referenceFirst) referenceResult = sendReference(referenceSend, base);
      const sending = sender.send(request);
      if (attempt === 1 && referenceSend && !referenceFirst) referenceResult = sendReference(referenceSend, base);
      const outcome = await sending;
      if (hardStop.signal.aborted) return;
      firstSentTime ??= outcome.sentTime;
      const connectionFailure = !outcome.ok && isConnectionFailure(outcome.kind);
      breaker.record(attempt === 1 ? admission : 'normal', outcome.ok ? 'answered' : connectionFailure ? 'connection-failure' : 'other-failure');
      if (outcome.ok || !connectionFailure || attempt > config.retries) {
        const answered = referenceResult && (await referenceResult);
        if (hardStop.signal.aborted) return;
        if (answered) {
          tracker?.expectMore(entry.position);
          stats.referenceResult(answered);
          writer.add(answered);
        }
        record(sentResult(base, outcome, attempt, firstSentTime), entry);
        return;
      }
      await sleep(retryBackoffMs(attempt), undefined, { signal: hardStop.signal }).catch(() => undefined);
      if (hardStop.signal.aborted) return;
    }
  };

  /** The reference's copy of a send: one attempt, or a skipped Result when its method is not safe to repeat on a stable instance. */
  const sendReference = async (send: ReferenceSend, base: ResultBase): Promise<Result> => {
    const peerBase = { ...base, target: send.peer.target.origin, role: 'reference' };
    if ('skip' in send) return skipped({ ...peerBase, requestChanges: [] }, send.skip);
    const outcome = await send.peer.sender.send(send.request);
    return sentResult({ ...peerBase, requestChanges: send.request.changes }, outcome, 1, outcome.sentTime);
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
      const request = buildRequest(entry.value.request, baseline.rules);
      const outcome = await baseline.sender.send(request);
      if (hardStop.signal.aborted) return;
      const result = sentResult({ ...base, target: baseline.target.origin, role: 'baseline', requestChanges: request.changes }, outcome, 1, outcome.sentTime);
      stats.baselineResult(result);
      writer.add(result);
    } finally {
      baseline.limit.release();
    }
  };

  const dispatch = async (entry: LogEntry<Capture>, id: string) => {
    const capture = entry.value;
    if (!reference && !config.referenceOptional && capture.response === null && capture.upstreamError === null) {
      throw usageError(
        'these captures hold requests only (capture --mirror-target), so the diff has no answer to compare the shadow\'s with: pass --reference http://stable:8080 (a stable instance, sent each request at the same moment), or --no-reference to replay for load and error checks only',
      );
    }
    const base = {
      id,
      captureId: capture.id,
      source: { log: source.name, partition: entry.position.partition, offset: entry.position.offset },
      target: config.target.origin,
      role: 'shadow' as ResultRole,
      replayMode: config.replayMode,
      requestChanges: [],
    };
    const reason = skipReason(capture.request, config.allowedMethods);
    if (reason) {
      record(skipped({ ...base, scheduledTime: nowMicros() }, reason), entry);
      return;
    }
    const request = buildRequest(capture.request, config.rules);
    const referenceSend = reference && referenceSendOf(reference, capture);
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
    execute(entry, { ...base, scheduledTime, requestChanges: request.changes }, request, admission, referenceSend)
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => limit.release());
    sendBaseline(entry, { ...base, scheduledTime, requestChanges: [] }).catch((error: unknown) => {
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
      await Promise.all(senders.map((s) => s?.close()));
    });
    await writer.flush();
    clearInterval(progressTimer);
    await Promise.all(senders.map((s) => s?.close()));
  }
  options.onProgress?.(progressOf(stats, limit, breaker, lagMs, lastRecordedMs, options));
  const error = writer.failure ?? failure;
  if (error) {
    if (error instanceof ShadowtapError) throw error;
    throw new ShadowtapError('ST_RUNTIME', `replay stopped: ${(error as Error).message}`, { cause: error });
  }
  return stats.summary();
}

type ResultBase = Pick<Result, 'id' | 'captureId' | 'source' | 'target' | 'scheduledTime' | 'role' | 'requestChanges'> & Pick<ReplayConfig, 'replayMode'>;

type ReferencePeer = PeerConfig & { sender: ShadowSender };

/** What the reference is sent with a capture: the request, or why it is not sent. */
type ReferenceSend = { peer: ReferencePeer; request: OutgoingRequest } | { peer: ReferencePeer; skip: string };

function referenceSendOf(peer: ReferencePeer, capture: Capture): ReferenceSend {
  const skip = skipReason(capture.request, peer.allowedMethods);
  return skip ? { peer, skip } : { peer, request: buildRequest(capture.request, peer.rules) };
}

function sentResult(base: ResultBase, outcome: SendOutcome, attempt: number, sentTime: number): Result {
  return {
    ...resultV2Defaults(),
    ...base,
    sentTime,
    attempt,
    outcome: outcome.ok ? 'response' : 'error',
    error: outcome.ok ? null : { kind: outcome.kind, message: outcome.message },
    skipReason: null,
    response: outcome.ok ? outcome.response : null,
    latencyMicros: outcome.ok ? outcome.latencyMicros : null,
  };
}

/** A Result for a capture that was not sent; attempt 0 says no request left. */
function skipped(base: ResultBase, reason: string): Result {
  return {
    ...resultV2Defaults(),
    ...base,
    sentTime: null,
    attempt: 0,
    outcome: 'skipped',
    error: null,
    skipReason: reason,
    response: null,
    latencyMicros: null,
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
