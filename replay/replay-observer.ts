import type { Result } from '../shared/records/types.js';

/** What the worker reports as it goes; the summary and the Prometheus metrics both listen. */
export interface ReplayObserver {
  captureRead(): void;
  deadLetter(): void;
  /** Every Result, once it has been decided (before it is written). */
  result(result: Result): void;
  /** Follow mode: how far behind the newest capture sending is, in ms. */
  lag(ms: number): void;
  circuit(open: boolean): void;
}

/** Send time minus scheduled time, in microseconds; null for Results never sent. */
export function latenessMicros(result: Result): number | null {
  return result.sentTime === null ? null : Math.max(0, result.sentTime - result.scheduledTime);
}
