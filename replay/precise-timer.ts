import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';

/** setTimeout has 1 ms steps and fires up to a few ms late: it covers the wait only up to this much before the target. */
const coarseMarginMs = 1.5;
/** The last stretch goes in slices this long, with one event loop turn (I/O) after each. */
const sliceMs = 0.2;
const sliceCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Waits until `performance.now()` reaches `atMs`; resolves early (without throwing) when the signal
 * aborts. The last stretch sleeps in the kernel (Atomics.wait times out with µs precision) instead of
 * spinning through setImmediate: a spinning thread holds a core, which on a busy machine gets it
 * preempted for ms at a time, exactly the lateness the spinning was meant to avoid. A slice blocks the
 * event loop for at most `sliceMs`, then one setImmediate turn lets responses and reads in.
 */
export async function sleepUntil(atMs: number, signal?: AbortSignal): Promise<void> {
  const coarse = atMs - performance.now() - coarseMarginMs;
  if (coarse > 0) {
    try {
      await sleep(coarse, undefined, { signal });
    } catch {
      return;
    }
  }
  for (let left = atMs - performance.now(); left > 0 && !signal?.aborted; left = atMs - performance.now()) {
    Atomics.wait(sliceCell, 0, 0, Math.min(left, sliceMs));
    await immediate();
  }
}
