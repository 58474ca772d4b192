/** Decides when each capture is sent; times are `performance.now()` milliseconds. */
export interface Pacer {
  /** When the next send should start, given the capture's recorded time. */
  scheduleFor(recordedMs: number): number;
  /**
   * Open model: a send that cannot start on time is dropped and counted, never delayed, so a
   * slow shadow cannot lower the offered load (coordinated omission).
   */
  readonly dropsWhenBusy: boolean;
}

/** Sends as fast as concurrency allows. */
export function asapPacer(): Pacer {
  return { scheduleFor: () => performance.now(), dropsWhenBusy: false };
}
