import type { ConcurrencyLimit } from './concurrency-limit.js';
import type { Pacer } from './pacer.js';
import { skipped, type Flight, type Wrapper } from './replay-job.js';
import type { ReplaySink } from './replay-sink.js';

/**
 * Caps the sends in flight: a job holds a slot until its flight is done. Closed model: it waits
 * for a slot. Open model (a rate): a send is dropped when the shadow cannot keep up, i.e. when
 * the time sends spent waiting for a slot reaches `maxLatenessMs`; lateness of the worker's own
 * (a GC pause, a busy core) does not count, and such a send still goes, late, unless strict
 * (then any send later than `maxLatenessMs` is dropped).
 */
export function limiterStep(limit: ConcurrencyLimit, openModel: Pacer['openModel'], signal: AbortSignal | undefined, sink: ReplaySink): Wrapper {
  // How much of a send's lateness the cap caused: the previous send's, plus how long that one
  // waited for a slot, less the gap between their times (slack the schedule had), at most the
  // send's whole lateness. Like a queue's waiting time (Lindley's recurrence); counting the whole
  // lateness instead made a worker behind its schedule drop every send that met a full cap.
  let capLateMs = 0;
  let lastWaitMs = 0;
  let lastScheduledAt: number | undefined;
  return (next) => async (job) => {
    if (openModel) {
      const { maxLatenessMs, strict } = openModel;
      const now = performance.now();
      const scheduledAt = job.scheduledAt!;
      capLateMs = Math.min(Math.max(0, now - scheduledAt), Math.max(0, capLateMs + lastWaitMs - (scheduledAt - (lastScheduledAt ?? scheduledAt))));
      lastScheduledAt = scheduledAt;
      const deadlineMs = strict ? scheduledAt + maxLatenessMs : now + Math.max(0, maxLatenessMs - capLateMs);
      const started = now <= deadlineMs && (await limit.acquire({ signal, deadlineMs }));
      lastWaitMs = performance.now() - now;
      if (!started) {
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
