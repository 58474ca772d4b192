/**
 * Diffy's way of telling noise from regressions with an A/A baseline: two instances of the
 * same stable version (primary and secondary) answer the same requests, so how often a field
 * differs between them is how often it differs for no reason. A field of the candidate is a
 * real difference only when its difference rate beats that A/A rate by both thresholds:
 * `relative` (a share of the A/A rate) and `absolute` (a share of all pairs). Unlike Diffy, the
 * comparison is made on a one-sided 95% lower bound of the rate difference, so a field that
 * differs at random on both sides is not called real because of a lucky draw; and a field that
 * never differed in the A/A run is always real, so a rare but deterministic regression shows.
 */
export interface NoiseThresholds {
  /** Fraction of the A/A rate the candidate rate must exceed it by (0.2 = 20%). */
  relative: number;
  /** Fraction of all pairs the candidate rate must exceed the A/A rate by (0.0003 = 0.03%). */
  absolute: number;
}

export const defaultNoiseThresholds: NoiseThresholds = { relative: 0.2, absolute: 0.0003 };

/** Below this many A/A pairs on a route, its rates are too rough to call anything noise. */
export const minBaselinePairs = 30;

/** One-sided 95% normal quantile. */
const z = 1.645;

export interface FieldRates {
  /** Pairs where the field differed for real. */
  differs: number;
  /** Pairs compared. */
  compared: number;
}

/** Whether the candidate's differences in a field are explained by the A/A run's. */
export function isBaselineNoise(candidate: FieldRates, baseline: FieldRates, thresholds: NoiseThresholds = defaultNoiseThresholds): boolean {
  if (baseline.compared < minBaselinePairs || baseline.differs === 0 || candidate.compared === 0) return false;
  const rc = candidate.differs / candidate.compared;
  const ra = baseline.differs / baseline.compared;
  const se = Math.sqrt((rc * (1 - rc)) / candidate.compared + (ra * (1 - ra)) / baseline.compared);
  const lowerBound = rc - ra - z * se;
  return !(lowerBound > thresholds.absolute && lowerBound > thresholds.relative * ra);
}
