import type { Pacer } from './pacer.js';

export interface RecordedPacerOptions {
  /** 2 replays twice as fast as recorded. */
  speed: number;
  /** Recorded time that maps to the start; default the first capture's time. Soak passes the window start so a quiet beginning stays quiet. */
  originMs?: number;
  /** `performance.now()` at which the origin is replayed; default the first call. */
  startMs?: number;
}

/** Keeps the recorded gaps between captures, divided by the speed. */
export function recordedPacer(options: RecordedPacerOptions): Pacer {
  let origin = options.originMs;
  let start = options.startMs;
  return {
    scheduleFor(recordedMs: number): number {
      origin ??= recordedMs;
      start ??= performance.now();
      return recordedSchedule(start, origin, recordedMs, options.speed);
    },
  };
}

/** Captures older than the origin (out of order across partitions) are due at once. */
export function recordedSchedule(startMs: number, originMs: number, recordedMs: number, speed: number): number {
  return startMs + Math.max(0, recordedMs - originMs) / speed;
}
