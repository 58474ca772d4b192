import { replayDefaults } from './replay-defaults.js';
import type { Pacer } from './pacer.js';

export interface RatePacerOptions {
  /** Requests per second. */
  rate: number;
  /** `performance.now()` of the first send; default the first call. */
  startMs?: number;
  /**
   * Tailing a live log: when the source had nothing to send for longer than one interval,
   * the schedule restarts at the next capture instead of bursting to catch up.
   */
  restartWhenIdle?: boolean;
  /** How late a send may start, waiting for a free slot, before it is dropped. */
  maxLatenessMs?: number;
  /** Drop a send later than maxLatenessMs whatever the reason, the worker's own lateness too. */
  strict?: boolean;
}

/** Send i of a constant-arrival-rate schedule: exact 1/rate steps from the start, never shifted by how sends went. */
export function rateSchedule(startMs: number, rate: number, index: number): number {
  return startMs + (index * 1000) / rate;
}

/**
 * Open model like k6's constant-arrival-rate: scheduled times at exact 1/rate intervals. A send
 * reached late is sent at once and the next ones keep their slots, so the schedule catches up
 * without sending any slot early (wrk2: late sends measured from their intended time).
 */
export function ratePacer(options: RatePacerOptions): Pacer {
  let start = options.startMs;
  let index = 0;
  const intervalMs = 1000 / options.rate;
  return {
    openModel: { maxLatenessMs: options.maxLatenessMs ?? replayDefaults.maxLatenessMs, strict: options.strict ?? replayDefaults.strictOpenModel },
    scheduleFor(): number {
      const now = performance.now();
      start ??= now;
      if (options.restartWhenIdle && now > rateSchedule(start, options.rate, index) + intervalMs) {
        start = now;
        index = 0;
      }
      return rateSchedule(start, options.rate, index++);
    },
  };
}
