import type { Change, Difference, DifferenceKind, Severity, VerdictKind } from './difference.js';
import type { LatencyBasis } from './latency-stats.js';

/** One line of the JSON Lines output: a pair's verdict and where it differs. */
export interface PairRecord {
  /** The result id (`<capture id>~<n>` for soak copies), or the capture id when no result came. */
  id: string;
  captureId: string;
  method: string;
  url: string;
  route: string;
  verdict: VerdictKind;
  differences: Array<{ kind: DifferenceKind; path: string; change: Change; severity: Severity; noise?: string; review?: 'accepted' | 'must-fix' }>;
  error?: string;
  /** Fields of the answers not compared because redaction removed their values. */
  redactedFields?: number;
  skipReason?: string;
  /** For request-only captures without a reference: the shadow's status, the only thing there is to look at. */
  shadowStatus?: number;
  /** Set when stable's side is the reference's answer (a request-only capture replayed with --reference). */
  baseline?: 'reference';
  /** Why the answers were not compared, for a not-compared or altered verdict. */
  notCompared?: string;
  /** Both timings when both exist; only bases 'reference' and 'live' are comparable (latency-stats.ts). */
  latency?: { basis: LatencyBasis; stableMs: number; shadowMs: number };
}

export function compactDifference(d: Difference): PairRecord['differences'][number] {
  return {
    kind: d.kind,
    path: d.path,
    change: d.change,
    severity: d.severity,
    ...(d.noise !== undefined && { noise: d.noise }),
    ...(d.review && { review: d.review.status }),
  };
}
