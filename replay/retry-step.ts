import { setTimeout as sleep } from 'node:timers/promises';
import type { CircuitBreaker } from './circuit-breaker.js';
import { isConnectionFailure } from './error-kind.js';
import type { ReplayJob } from './replay-job.js';
import type { SendOutcome } from './shadow-sender.js';

/** One attempt of a job at the network (attempt 1 is the first). */
export type Send = (job: ReplayJob, attempt: number) => Promise<SendOutcome>;

export interface Attempted {
  outcome: SendOutcome;
  attempt: number;
  /** When the first attempt left, µs since the epoch. */
  firstSentTime: number;
}

/**
 * Retries connection failures (refused, reset) up to `retries` times with a growing pause;
 * nothing else is retried. Every attempt tells the breaker how it went. Undefined when the hard
 * stop cut the job short: it writes no Result and its capture is replayed on restart.
 */
export function retryStep(send: Send, retries: number, breaker: CircuitBreaker, hardStop: AbortSignal): (job: ReplayJob) => Promise<Attempted | undefined> {
  return async (job) => {
    let firstSentTime: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const outcome = await send(job, attempt);
      if (hardStop.aborted) return undefined;
      firstSentTime ??= outcome.sentTime;
      const connectionFailure = !outcome.ok && isConnectionFailure(outcome.kind);
      breaker.record(attempt === 1 ? job.admission! : 'normal', outcome.ok ? 'answered' : connectionFailure ? 'connection-failure' : 'other-failure');
      if (outcome.ok || !connectionFailure || attempt > retries) return { outcome, attempt, firstSentTime };
      await sleep(retryBackoffMs(attempt), undefined, { signal: hardStop }).catch(() => undefined);
      if (hardStop.aborted) return undefined;
    }
  };
}

function retryBackoffMs(attempt: number): number {
  return Math.min(2000, 50 * 2 ** (attempt - 1));
}
