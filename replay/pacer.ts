/** Decides when each capture is sent; times are `performance.now()` milliseconds. */
export interface Pacer {
  /** When the next send should start, given the capture's recorded time. */
  scheduleFor(recordedMs: number): number;
  /**
   * Open model: a send that cannot start within `maxLatenessMs` of its scheduled time because
   * the concurrency cap is full (the shadow cannot keep up) is dropped and counted, so a slow
   * shadow cannot lower the offered load (coordinated omission). A send the worker itself
   * reaches late (a GC pause, a busy core) is still sent, late, with its lateness recorded,
   * unless `strict`: then any send later than `maxLatenessMs` is dropped. Absent: closed model.
   */
  readonly openModel?: { maxLatenessMs: number; strict: boolean };
}

/** Sends as fast as concurrency allows. */
export function asapPacer(): Pacer {
  return { scheduleFor: () => performance.now() };
}
