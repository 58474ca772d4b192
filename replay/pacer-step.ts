import type { Pacer } from './pacer.js';
import { sleepUntil } from './precise-timer.js';
import type { Wrapper } from './replay-job.js';

/** Waits until the pacer's time for the job; a stop while waiting settles it with no Result, so its capture is replayed later. */
export function pacerStep(pacer: Pacer, signal: AbortSignal | undefined): Wrapper {
  return (next) => async (job) => {
    const scheduledAt = pacer.scheduleFor(job.entry.timestampMs);
    await sleepUntil(scheduledAt, signal);
    if (signal?.aborted) return undefined;
    job.scheduledAt = scheduledAt;
    job.base.scheduledTime = Math.round((performance.timeOrigin + scheduledAt) * 1000);
    return next(job);
  };
}
