import { setTimeout as sleep } from 'node:timers/promises';
import type { ConcurrencyLimit } from './concurrency-limit.js';

/**
 * Waits for sends in flight. A stop (before or while waiting) leaves them `deadlineMs` more;
 * then the rest are cut short.
 */
export async function drain(limits: ConcurrencyLimit[], signal: AbortSignal | undefined, deadlineMs: number, cutShort: () => Promise<void>): Promise<void> {
  const stopped = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const idle = () => Promise.all(limits.map((limit) => limit.idle()));
  const busy = () => limits.some((limit) => limit.inFlight > 0);
  await Promise.race([idle(), stopped]);
  if (busy()) {
    const timer = new AbortController();
    await Promise.race([idle(), sleep(deadlineMs, undefined, { signal: timer.signal }).catch(() => undefined)]);
    timer.abort();
    if (busy()) await cutShort();
  }
  await idle();
}
