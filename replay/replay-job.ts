import type { LogEntry } from '../shared/log/record-log.js';
import { captureIdHeader, takeShadowReport } from '../shared/records/side-effects.js';
import type { Capture, HttpRequest, RequestChange, Result } from '../shared/records/types.js';
import type { Admission } from './circuit-breaker.js';
import { concealSecrets } from './redacted-request.js';
import type { OutgoingRequest } from './request-builder.js';
import type { SendOutcome } from './shadow-sender.js';

/**
 * The replay is a chain of steps, each a wrapper of the next (as undici composes interceptors):
 * source → guard → request → pacer → order → limiter → breaker → launch, then in flight retry → sender →
 * sink. A step resolves once its job has left for the network (a Flight) or was settled without
 * one (skipped, dropped, stopped): the source awaits that, so reading keeps pace with sending.
 */
export type Step = (job: ReplayJob) => Promise<Flight | undefined>;
export type Wrapper = (next: Step) => Step;
/** A job on its way: `done` once its Results are handed to the sink (never rejects). */
export interface Flight {
  done: Promise<void>;
}

/** Composes wrappers, the first outermost, around the innermost step. */
export function compose(wrappers: Wrapper[], innermost: Step): Step {
  return wrappers.reduceRight((next, wrap) => wrap(next), innermost);
}

export type ResultBase = Pick<Result, 'id' | 'captureId' | 'source' | 'target' | 'scheduledTime' | 'role' | 'replayMode' | 'requestChanges'>;

/** The request to send, as redaction left it or with its sealed originals, and what that changed. */
export interface Prepared {
  request: HttpRequest;
  changes: RequestChange[];
  capture: Capture;
}

/** One send of one capture (one copy of it under a soak), filled in as it passes the steps. */
export interface ReplayJob {
  entry: LogEntry<Capture>;
  base: ResultBase;
  /** An unsafe method let through because the shadow proved guarded (guard-proof.ts): checked again as it leaves. */
  guardedWrite?: boolean;
  /** request-step: what the target is sent. */
  sent?: Prepared;
  request?: OutgoingRequest;
  /** pacer-step: `performance.now()` time the send is due. */
  scheduledAt?: number;
  /** breaker-step: how the circuit let it through. */
  admission?: Admission;
  /** reference-send: writes the Result of the peer sent with the first attempt, before the target's. */
  settlePeers?: () => Promise<void>;
}

/** Every change a send made to the recorded request: the builder's (secret values concealed) and restoring the sealed originals. */
export function changesOf(request: OutgoingRequest | undefined, sent: Prepared): RequestChange[] {
  const built = concealSecrets(request?.changes ?? [], sent.capture);
  // Most sends restore nothing: the builder's own list, made for this send, is the Result's.
  return sent.changes.length === 0 && request !== undefined && built === request.changes ? request.changes : [...built, ...sent.changes];
}

/** Lets the shadow's code name the capture it replays (shadowtap/shadow captureId()); recorded as a marker. */
export function withCaptureId(request: OutgoingRequest, captureId: string): OutgoingRequest {
  request.headers.push(captureIdHeader, captureId);
  request.changes.push({ kind: 'marker-added', name: captureIdHeader, from: null, to: captureId });
  return request;
}

/**
 * The Result of a send. A guarded shadow's library headers (guard marker, side effects) move
 * into `guarded` and `sideEffects`, out of the stored headers, where they would be differences
 * stable never had.
 */
export function sentResult(base: ResultBase, outcome: SendOutcome, attempt: number, sentTime: number): Result {
  if (!outcome.ok) return resultOf(base, sentTime, attempt, 'error', { kind: outcome.kind, message: outcome.message }, null, null, null, [], false);
  const report = takeShadowReport(outcome.response.headers);
  return resultOf(base, sentTime, attempt, 'response', null, null, { ...outcome.response, headers: report.headers }, outcome.latencyMicros, report.sideEffects, report.guarded);
}

/** A Result for a capture that was not sent; attempt 0 says no request left. */
export function skipped(base: ResultBase, reason: string): Result {
  return resultOf(base, null, 0, 'skipped', null, reason, null, null, [], false);
}

/**
 * Every Result is built by this one literal: one object shape, thousands of times a second.
 * Spreading defaults and a base with overlapping keys into one object cost far more (each
 * Result a slow, dictionary-mode object, ~100 µs each in a micro-benchmark).
 */
function resultOf(
  base: ResultBase,
  sentTime: number | null,
  attempt: number,
  outcome: Result['outcome'],
  error: Result['error'],
  skipReason: string | null,
  response: Result['response'],
  latencyMicros: number | null,
  sideEffects: Result['sideEffects'],
  guarded: boolean,
): Result {
  return {
    id: base.id,
    captureId: base.captureId,
    source: base.source,
    target: base.target,
    scheduledTime: base.scheduledTime,
    sentTime,
    attempt,
    outcome,
    error,
    skipReason,
    response,
    latencyMicros,
    role: base.role,
    replayMode: base.replayMode,
    requestChanges: base.requestChanges,
    redactions: [],
    sideEffects,
    guarded,
  };
}
