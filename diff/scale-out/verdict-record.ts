import { createCodec, type Codec } from '../../shared/records/codec.js';
import type { PairRecord } from '../pair-record.js';

/** A judged pair as written to the verdicts topic (shared/schemas/v2/verdict.avsc). */
export interface Verdict {
  id: string;
  captureId: string;
  /** ms since the epoch. */
  time: number;
  method: string;
  route: string;
  verdict: string;
  differences: Array<{ kind: string; path: string; change: string; severity: string; noise: string | null; review: string | null }>;
  error: string | null;
  notCompared: string | null;
  skipReason: string | null;
  redactedFields: number;
  latencyBasis: string | null;
  stableMs: number | null;
  shadowMs: number | null;
  shadowStatus: number | null;
}

export const verdictCodec: Codec<Verdict> = createCodec<Verdict>('verdict');

/**
 * The verdict record of a pair. The URL stays out (its query is the user's data); paths name
 * where answers differ, never the values, so nothing redacted or secret reaches the topic.
 */
export function verdictOf(record: PairRecord, timeMs: number): Verdict {
  return {
    id: record.id,
    captureId: record.captureId,
    time: timeMs,
    method: record.method,
    route: record.route,
    verdict: record.verdict,
    differences: record.differences.map((d) => ({ kind: d.kind, path: d.path, change: d.change, severity: d.severity, noise: d.noise ?? null, review: d.review ?? null })),
    error: record.error ?? null,
    notCompared: record.notCompared ?? null,
    skipReason: record.skipReason ?? null,
    redactedFields: record.redactedFields ?? 0,
    latencyBasis: record.latency?.basis ?? null,
    stableMs: record.latency?.stableMs ?? null,
    shadowMs: record.latency?.shadowMs ?? null,
    shadowStatus: record.shadowStatus ?? null,
  };
}
