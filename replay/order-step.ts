import { isUnsafeMethod } from '../shared/records/side-effects.js';
import type { Flight, Wrapper } from './replay-job.js';

/** A request on its way to the shadow, with the moment stable finished answering it (µs; Infinity when not recorded). */
interface Tracked {
  stableEnd: number;
  done: Promise<void>;
}

/**
 * Keeps the order stable saw where order can change an answer: around writes. A write (a method
 * that is not safe) leaves only once the shadow has answered every request stable had answered
 * before the write arrived; a request that arrived after stable had answered a write leaves only
 * once the shadow has answered that write. Reads among reads keep the full concurrency: with no
 * write between them their order cannot change what a correct shadow answers. Without this, a
 * replay with many requests in flight lets a later write overtake an earlier read (or the
 * reverse), and the shadow answers a state stable never had: a difference the tool made. Only
 * in place when writes can be sent at all (allowed, or to a guarded shadow).
 * Stable's own timings (capture start and end) give the order, so overlapping requests, which
 * stable answered in no fixed order either, are not held.
 */
export function orderStep(): Wrapper {
  const inFlight = new Set<Tracked>();
  const writes = new Set<Tracked>();
  const track = (flight: Flight | undefined, stableEnd: number, write: boolean) => {
    if (flight) {
      const tracked: Tracked = { stableEnd, done: flight.done };
      inFlight.add(tracked);
      if (write) writes.add(tracked);
      void flight.done.then(() => {
        inFlight.delete(tracked);
        if (write) writes.delete(tracked);
      });
    }
    return flight;
  };
  // Not an async function: a read among reads (the common case) goes on at once, with no array or promise made for the wait.
  return (next) => (job) => {
    const { request, timings } = job.entry.value;
    const write = isUnsafeMethod(request.method);
    const stableEnd = timings.end ?? Infinity;
    const among = write ? inFlight : writes;
    const waits = among.size === 0 ? [] : [...among].filter((t) => t.stableEnd <= timings.start).map((t) => t.done);
    const sent = waits.length === 0 ? next(job) : Promise.all(waits).then(() => next(job));
    return sent.then((flight) => track(flight, stableEnd, write));
  };
}
