import { setImmediate as immediate } from 'node:timers/promises';
import type { Pacer } from './pacer.js';
import { sleepUntil } from './precise-timer.js';
import type { ReplayJob, Wrapper } from './replay-job.js';

/**
 * Waits until the pacer's time for the job; a stop while waiting settles it with no Result, so its
 * capture is replayed later.
 *
 * Open model: a send already due when reached (the worker fell behind: a GC pause, a busy core)
 * still waits one event loop turn. Catching up in one run of microtasks read no answer while it
 * sent: the concurrency cap filled with requests the shadow had long answered, and sends were
 * dropped as if the shadow could not keep up.
 */
export function pacerStep(pacer: Pacer, signal: AbortSignal | undefined): Wrapper {
  const catchUp = pacer.openModel !== undefined;
  return (next) => {
    const due = (job: ReplayJob, scheduledAt: number) => {
      if (signal?.aborted) return Promise.resolve(undefined);
      job.scheduledAt = scheduledAt;
      job.base.scheduledTime = Math.round((performance.timeOrigin + scheduledAt) * 1000);
      return next(job);
    };
    return (job) => {
      const scheduledAt = pacer.scheduleFor(job.entry.timestampMs);
      const late = scheduledAt <= performance.now();
      // Closed model, already due (as fast as the cap allows): on at once, no timer and no async step.
      if (late && !catchUp) return due(job, scheduledAt);
      return (late ? immediate() : sleepUntil(scheduledAt, signal)).then(() => due(job, scheduledAt));
    };
  };
}
