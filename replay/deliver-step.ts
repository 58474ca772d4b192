import type { GuardProof } from './guard-proof.js';
import { changesOf, sentResult, type ReplayJob, type Step, type Wrapper } from './replay-job.js';
import type { ReplaySink } from './replay-sink.js';
import type { Attempted } from './retry-step.js';
import type { ShadowRedaction } from './shadow-redaction.js';
import type { ShadowSender } from './shadow-sender.js';
import type { Send } from './retry-step.js';

/** A job's life in flight: its Results handed to the sink. */
export type Deliver = (job: ReplayJob) => Promise<void>;

/** The innermost send: the target's request to the one target origin. */
export function targetSend(sender: ShadowSender): Send {
  return (job) => sender.send(job.request!);
}

/**
 * The target's answer (after its retries) becomes its Result: the peers' Results first, the
 * answer redacted by the capture's policy, its guard marker checked (guard-proof.ts), then the sink.
 */
export function deliverStep(attempts: (job: ReplayJob) => Promise<Attempted | undefined>, redaction: ShadowRedaction, guardProof: GuardProof | undefined, sink: ReplaySink, hardStop: AbortSignal): Deliver {
  return async (job) => {
    const attempted = await attempts(job);
    if (!attempted) return;
    await job.settlePeers?.();
    if (hardStop.aborted) return;
    const sent = job.sent!;
    const base = { ...job.base, requestChanges: changesOf(job.request, sent) };
    const result = await redaction.redactResult(sentResult(base, attempted.outcome, attempted.attempt, attempted.firstSentTime), sent.capture, sent.request);
    if (hardStop.aborted) return;
    if (attempted.outcome.ok) guardProof?.answered(result.guarded, `the answer to capture ${base.captureId}`);
    sink.record(result, job.entry);
  };
}

/** The end of the admission steps: the job leaves for the network; a failure in flight stops the run. */
export function launchStep(deliver: Deliver, fail: (error: unknown) => void): Step {
  return (job) => Promise.resolve({ done: deliver(job).catch(fail) });
}

/** Live mirroring: how far behind the newest capture sending is, as each send leaves. */
export function lagStep(onLag: (ms: number) => void): Wrapper {
  return (next) => (job) => {
    onLag(Date.now() - job.entry.timestampMs);
    return next(job);
  };
}
