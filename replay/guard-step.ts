import { nowMicros } from '../shared/records/types.js';
import type { GuardProof } from './guard-proof.js';
import { skipped, type ReplayJob, type Wrapper } from './replay-job.js';
import type { ReplaySink } from './replay-sink.js';
import { skipReason } from './side-effect-guard.js';

/**
 * The side-effect guard (promise 3): a request that could write (an unsafe method not allowed),
 * or that would not be the one the client sent (a truncated body), is skipped with its reason.
 * An unsafe method not allowed outright goes to a shadow proven guarded (guard-proof.ts).
 */
export function guardStep(allowedMethods: ReadonlySet<string>, guardProof: GuardProof | undefined, sink: ReplaySink): Wrapper {
  const skip = (job: ReplayJob, reason: string) => {
    sink.record(skipped({ ...job.base, scheduledTime: nowMicros() }, reason), job.entry);
    return undefined;
  };
  // A request that may go goes on at once (no async step of its own); only an unsafe one waits for the guard proof.
  return (next) => (job) => {
    const { request } = job.entry.value;
    const reason = skipReason(request, allowedMethods);
    if (!reason) return next(job);
    if (reason !== 'unsafe-method' || !guardProof) return Promise.resolve(skip(job, reason));
    return guardProof.admitUnsafe().then((refused) => {
      const still = refused ?? (request.truncated ? 'truncated-body' : null);
      if (still) return skip(job, still);
      job.guardedWrite = true;
      return next(job);
    });
  };
}

/** Just before a write leaves: an answer without the guard marker may have come while it waited for its slot. */
export function guardRecheckStep(guardProof: GuardProof | undefined, sink: ReplaySink): Wrapper {
  return (next) => (job) => {
    if (job.guardedWrite && guardProof?.lost) {
      sink.record(skipped(job.base, 'unguarded-shadow'), job.entry);
      return Promise.resolve(undefined);
    }
    return next(job);
  };
}
