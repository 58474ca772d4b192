import type { CircuitBreaker } from './circuit-breaker.js';
import { skipped, type Wrapper } from './replay-job.js';
import type { ReplaySink } from './replay-sink.js';

/**
 * Holds sends back while the circuit is open (circuit-breaker.ts). Closed model: the job waits
 * for the circuit; open model: a send the circuit refuses is dropped, as one the shadow cannot take.
 */
export function breakerStep(breaker: CircuitBreaker, openModel: boolean, signal: AbortSignal | undefined, sink: ReplaySink): Wrapper {
  return (next) => async (job) => {
    const admission = openModel ? breaker.tryAdmit() : await breaker.admit(signal);
    if (!admission) {
      if (openModel && !signal?.aborted) sink.record(skipped(job.base, 'dropped'), job.entry);
      return undefined;
    }
    job.admission = admission;
    const flight = await next(job);
    // A probe admission not used: the next send may probe.
    if (!flight && admission === 'probe') breaker.releaseProbe();
    return flight;
  };
}
