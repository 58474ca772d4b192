import { nowMicros } from '../shared/records/types.js';
import type { GuardProof } from './guard-proof.js';
import { skipped, type Wrapper } from './replay-job.js';
import type { ReplaySink } from './replay-sink.js';
import { skipReason } from './side-effect-guard.js';

/**
 * The side-effect guard (promise 3): a request that could write (an unsafe method not allowed),
 * or that would not be the one the client sent (a truncated body), is skipped with its reason.
 * An unsafe method not allowed outright goes to a shadow proven guarded (guard-proof.ts).
 */
export function guardStep(allowedMethods: ReadonlySet<string>, guardProof: GuardProof | undefined, sink: ReplaySink): Wrapper {
  return (next) => async (job) => {
    const { request } = job.entry.value;
    let reason = skipReason(request, allowedMethods);
    const guardedWrite = reason === 'unsafe-method' && guardProof !== undefined;
    if (guardedWrite) reason = (await guardProof.admitUnsafe()) ?? (request.truncated ? 'truncated-body' : null);
    if (reason) {
      sink.record(skipped({ ...job.base, scheduledTime: nowMicros() }, reason), job.entry);
      return undefined;
    }
    job.guardedWrite = guardedWrite;
    return next(job);
  };
}

/** Just before a write leaves: an answer without the guard marker may have come while it waited for its slot. */
export function guardRecheckStep(guardProof: GuardProof | undefined, sink: ReplaySink): Wrapper {
  return (next) => async (job) => {
    if (job.guardedWrite && guardProof?.lost) {
      sink.record(skipped(job.base, 'unguarded-shadow'), job.entry);
      return undefined;
    }
    return next(job);
  };
}
