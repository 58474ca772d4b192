import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';

/** setTimeout fires up to a few ms late; the last stretch is covered by yielding with setImmediate, which still lets I/O run. */
const spinMs = 1.5;

/** Waits until `performance.now()` reaches `atMs`; resolves early (without throwing) when the signal aborts. */
export async function sleepUntil(atMs: number, signal?: AbortSignal): Promise<void> {
  const coarse = atMs - performance.now() - spinMs;
  if (coarse > 0) {
    try {
      await sleep(coarse, undefined, { signal });
    } catch {
      return;
    }
  }
  while (performance.now() < atMs && !signal?.aborted) await immediate();
}
