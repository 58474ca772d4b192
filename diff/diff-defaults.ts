import { defaultNoiseThresholds } from './field-calibration.js';
import { defaultSummaryLimits } from './summary.js';

/**
 * Every default of the diff stage in one place: createDiff fills its options from here and the
 * CLI shows these as its flag defaults. (The summary's memory bounds and the A/A noise
 * thresholds are defined beside the code that uses them and taken from there.)
 */
export const diffDefaults = {
  /** Most captures (and, apart, most early results) held in memory while pairing. */
  joinWindow: 20_000,
  samplesPerRoute: defaultSummaryLimits.samplesPerRoute,
  bucketMs: defaultSummaryLimits.bucketMs,
  /** Share of compared pairs that may mismatch or error: 0 fails on any. */
  failOnMismatchRate: 0,
  /** Share of answered pairs whose bodies could not be compared: 0 fails on any. */
  failOnNotComparedRate: 0,
  /** Smallest p99 growth, in ms, that can count as a regression. */
  minLatencyRegressionMs: 5,
  /** Growth of p99, in percent, that is flagged (not failed) when no latency threshold is set. */
  latencyFlagPct: 20,
  noiseThresholds: defaultNoiseThresholds,
  /** The reviewed-differences file `--accept` writes when none is named. */
  reviewedFile: 'reviewed-differences.yaml',
  /** How often a follow run prints its rolling summary, ms. */
  summaryIntervalMs: 30_000,
} as const;
