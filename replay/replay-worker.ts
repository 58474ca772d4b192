import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShadowtapError, usageError } from '../shared/errors.js';
import type { LogEntry } from '../shared/log/record-log.js';
import { nowMicros, resultV2Defaults, type Capture, type HttpRequest, type RequestChange, type Result, type ResultRole } from '../shared/records/types.js';
import { captureIdHeader, takeShadowReport } from '../shared/records/side-effects.js';
import { CircuitBreaker, type Admission } from './circuit-breaker.js';
import { CommitTracker } from './commit-tracker.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import { GuardProof } from './guard-proof.js';
import { isConnectionFailure } from './error-kind.js';
import { asapPacer, type Pacer } from './pacer.js';
import { sleepUntil } from './precise-timer.js';
import type { ReplayProgress } from './progress.js';
import { ratePacer } from './rate-pacer.js';
import { recordedPacer } from './recorded-pacer.js';
import { concealSecrets, prepareRequest } from './redacted-request.js';
import type { ReplayObserver } from './replay-observer.js';
import { resolveReplayOptions, type PeerConfig, type ReplayConfig, type ReplayOptions } from './replay-options.js';
import { ReplayStats, type ReplaySummary } from './replay-stats.js';
import { buildRequest, type OutgoingRequest } from './request-builder.js';
import { ResultWriter, resultWriterDefaults } from './result-writer.js';
import { ShadowRedaction } from './shadow-redaction.js';
import { ShadowSender, type SendOutcome } from './shadow-sender.js';
import { skipReason } from './side-effect-guard.js';

export type { ReplayOptions } from './replay-options.js';
export type { ReplaySummary } from './replay-stats.js';
export type { ReplayProgress } from './progress.js';

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
  const redaction = new ShadowRedaction(config.redaction);
  /** An answer redacted by the capture's policy before its Result is written, given the request as it was sent. */
  const redacted = async (result: Result, capture: Capture, sent: HttpRequest): Promise<Result> => {
    if (result.response) ({ response: result.response, redactions: result.redactions } = await redaction.redact(result.response, sent, capture.redactionMode));
    return result;
  };
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
  const guardProof = config.guardedWrites ? new GuardProof(() => probeGuard(sender, config), (line) => options.onWarning?.(line)) : undefined;
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
  const execute = async (entry: LogEntry<Capture>, base: ResultBase, sent: Prepared, request: OutgoingRequest, admission: Admission, referenceSend: ReferenceSend | undefined) => {
    let attempt = 0;
    let firstSentTime: number | undefined;
    let referenceResult: Promise<Result> | undefined;
    // Whichever side is sent first is answered first on a shared host: take turns, so neither is always second.
    const referenceFirst = (pairsSent++ & 1) === 0;
    for (;;) {
      attempt++;
      const toReference = () => sendReference(referenceSend!, base, sent).then((r) => redacted(r, entry.value, sent.request));
      if (attempt === 1 && referenceSend && referenceFirst) referenceResult = toReference();
      const sending = sender.send(request);
      if (attempt === 1 && referenceSend && !referenceFirst) referenceResult = toReference();
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
        const result = await redacted(sentResult(base, outcome, attempt, firstSentTime), entry.value, sent.request);
        if (hardStop.signal.aborted) return;
        if (outcome.ok) guardProof?.answered(result.guarded, `the answer to capture ${base.captureId}`);
        record(result, entry);
        return;
      }
      await sleep(retryBackoffMs(attempt), undefined, { signal: hardStop.signal }).catch(() => undefined);
      if (hardStop.signal.aborted) return;
    }
  };

  /** The reference's copy of a send: one attempt, or a skipped Result when its method is not safe to repeat on a stable instance. */
  const sendReference = async ({ peer, request, skip }: ReferenceSend, base: ResultBase, sent: Prepared): Promise<Result> => {
    const peerBase = { ...base, target: peer.target.origin, role: 'reference', requestChanges: changesOf(request, sent) };
    if (!request) return skipped(peerBase, skip!);
    const outcome = await peer.sender.send(request);
    return sentResult(peerBase, outcome, 1, outcome.sentTime);
  };

  let baselineWaiting = 0;
  /**
   * The A/A copy of a send that just started: one attempt, no circuit breaker (both are about the
   * shadow). It waits for a slot of its own without holding up the target's sends; past a
   * backlog of a few rounds of the cap it is skipped instead. Its Result is due before the capture commits.
   */
  const sendBaseline = async (entry: LogEntry<Capture>, base: ResultBase, sent: Prepared) => {
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
      const request = buildRequest(sent.request, baseline.rules);
      const outcome = await baseline.sender.send(request);
      if (hardStop.signal.aborted) return;
      const result = await redacted(sentResult({ ...base, target: baseline.target.origin, role: 'baseline', requestChanges: changesOf(request, sent) }, outcome, 1, outcome.sentTime), entry.value, sent.request);
      if (hardStop.signal.aborted) return;
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
    let reason = skipReason(capture.request, config.allowedMethods);
    // An unsafe method not allowed outright goes to a shadow proven guarded (guard-proof.ts).
    const guardedWrite = reason === 'unsafe-method' && guardProof !== undefined;
    if (guardedWrite) reason = (await guardProof.admitUnsafe()) ?? (capture.request.truncated ? 'truncated-body' : null);
    if (reason) {
      record(skipped({ ...base, scheduledTime: nowMicros() }, reason), entry);
      return;
    }
    const prepared = prepareRequest(capture, config.secrets);
    if ('skip' in prepared) {
      record(skipped({ ...base, scheduledTime: nowMicros() }, prepared.skip), entry);
      return;
    }
    // A redaction policy the replay cannot apply to the answer stops it before anything is sent.
    redaction.redactorFor(capture.redactionMode);
    const request = withCaptureId(buildRequest(prepared.request, config.rules), capture.id);
    const referenceSend = reference && referenceSendOf(reference, prepared.request, capture.id);
    const scheduledAt = pacer.scheduleFor(entry.timestampMs);
    await sleepUntil(scheduledAt, signal);
    // A stop before the send: no Result, so the capture is not committed and is replayed later.
    if (signal?.aborted) return;
    const scheduledTime = Math.round((performance.timeOrigin + scheduledAt) * 1000);
    let admission: Admission | null;
    if (pacer.openModel) {
      // Open model: dropped when the shadow cannot keep up (the concurrency cap still full
      // maxLateness past the slot, or an open circuit). A send the worker itself reaches late
      // (a GC pause, a busy core) still goes, late, unless strict.
      const { maxLatenessMs, strict } = pacer.openModel;
      const now = performance.now();
      const deadlineMs = strict ? scheduledAt + maxLatenessMs : Math.max(now, scheduledAt + maxLatenessMs);
      const started = now <= deadlineMs && (await limit.acquire({ signal, deadlineMs }));
      admission = started ? breaker.tryAdmit() : null;
      if (!admission) {
        if (started) limit.release();
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
    if (guardedWrite && guardProof.lost) {
      // An answer without the marker came while this write waited for its slot.
      limit.release();
      if (admission === 'probe') breaker.releaseProbe();
      record(skipped({ ...base, scheduledTime }, 'unguarded-shadow'), entry);
      return;
    }
    if (options.follow) {
      lagMs = Date.now() - entry.timestampMs;
      const lag = lagMs;
      observe((o) => o.lag(lag));
    }
    const sent = { ...prepared, capture };
    execute(entry, { ...base, scheduledTime, requestChanges: changesOf(request, sent) }, sent, request, admission, referenceSend)
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => limit.release());
    sendBaseline(entry, { ...base, scheduledTime, requestChanges: [] }, sent).catch((error: unknown) => {
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
      // Live mirroring with a new group starts at the end of the log unless --from says where.
      startAtEnd: options.follow === true,
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

/** The request to send, as redaction left it or with its sealed originals, and what that changed. */
type Prepared = { request: HttpRequest; changes: RequestChange[]; capture: Capture };

/** Every change a send made to the recorded request: the builder's (secret values concealed) and restoring the sealed originals. */
function changesOf(request: OutgoingRequest | undefined, sent: Prepared): RequestChange[] {
  return [...concealSecrets(request?.changes ?? [], sent.capture), ...sent.changes];
}

/** What the reference is sent with a capture: the request, or why it is not sent. */
interface ReferenceSend {
  peer: ReferencePeer;
  request?: OutgoingRequest;
  skip?: string;
}

/** The reference is sent what the shadow is, capture id included, so their answers compare like with like. */
function referenceSendOf(peer: ReferencePeer, request: HttpRequest, captureId: string): ReferenceSend {
  const skip = skipReason(request, peer.allowedMethods);
  return skip ? { peer, skip } : { peer, request: withCaptureId(buildRequest(request, peer.rules), captureId) };
}

/** Lets the shadow's code name the capture it replays (shadowtap/shadow captureId()); recorded as a marker. */
function withCaptureId(request: OutgoingRequest, captureId: string): OutgoingRequest {
  request.headers.push(captureIdHeader, captureId);
  request.changes.push({ kind: 'marker-added', name: captureIdHeader, from: null, to: captureId });
  return request;
}

/**
 * The Result of a send. A guarded shadow's library headers (guard marker, side effects) move
 * into `guarded` and `sideEffects`, out of the stored headers, where they would be differences
 * stable never had.
 */
function sentResult(base: ResultBase, outcome: SendOutcome, attempt: number, sentTime: number): Result {
  const report = outcome.ok ? takeShadowReport(outcome.response.headers) : undefined;
  return {
    ...resultV2Defaults(),
    ...base,
    sentTime,
    attempt,
    outcome: outcome.ok ? 'response' : 'error',
    error: outcome.ok ? null : { kind: outcome.kind, message: outcome.message },
    skipReason: null,
    response: outcome.ok ? { ...outcome.response, headers: report!.headers } : null,
    latencyMicros: outcome.ok ? outcome.latencyMicros : null,
    sideEffects: report?.sideEffects ?? [],
    guarded: report?.guarded ?? false,
  };
}

/** The guard probe: a safe request with the replay markers; whether its answer carried the guard marker. */
async function probeGuard(sender: ShadowSender, config: ReplayConfig): Promise<boolean | null> {
  const probe = { method: 'HEAD', path: '/', query: '', headers: [], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null };
  const outcome = await sender.send(buildRequest(probe, config.rules));
  return outcome.ok ? takeShadowReport(outcome.response.headers).guarded : null;
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
      return ratePacer({ rate: config.pace.rate, restartWhenIdle: follow, maxLatenessMs: config.pace.maxLatenessMs, strict: config.pace.strict });
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
