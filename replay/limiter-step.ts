import type { ConcurrencyLimit } from './concurrency-limit.js';
import type { Pacer } from './pacer.js';
import { skipped, type Flight, type Wrapper } from './replay-job.js';
import type { ReplaySink } from './replay-sink.js';

/**
 * Caps the sends in flight: a job holds a slot until its flight is done. Closed model: it waits
 * for a slot. Open model (a rate): it is dropped when the shadow cannot keep up, the cap still
 * full `maxLatenessMs` past its slot; a send the worker itself reaches late (a GC pause, a busy
 * core) still goes, late, unless strict.
 */
export function limiterStep(limit: ConcurrencyLimit, openModel: Pacer['openModel'], signal: AbortSignal | undefined, sink: ReplaySink): Wrapper {
  return (next) => async (job) => {
    if (openModel) {
      const { maxLatenessMs, strict } = openModel;
      const now = performance.now();
      const scheduledAt = job.scheduledAt!;
      const deadlineMs = strict ? scheduledAt + maxLatenessMs : Math.max(now, scheduledAt + maxLatenessMs);
      if (!(now <= deadlineMs && (await limit.acquire({ signal, deadlineMs })))) {
        if (!signal?.aborted) sink.record(skipped(job.base, 'dropped'), job.entry);
        return undefined;
      }
    } else if (!(await limit.acquire({ signal }))) {
      return undefined;
    }
    let flight: Flight | undefined;
    try {
      flight = await next(job);
    } finally {
      if (!flight) limit.release();
    }
    if (flight) void flight.done.finally(() => limit.release());
    return flight;
  };
}
