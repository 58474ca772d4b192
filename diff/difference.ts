/**
 * One way a shadow response differs from stable, and how much it matters. The severity order
 * follows what breaks clients first: a status class change, then a broken schema (a type
 * changed or a field disappeared), then a changed value, then an added field.
 */
export type DifferenceKind = 'status' | 'header' | 'body';
export type Change = 'status-class-changed' | 'type-changed' | 'removed' | 'value-changed' | 'added';
export type Severity = 'critical' | 'schema' | 'value' | 'addition';

export const severityRank: Record<Severity, number> = { critical: 4, schema: 3, value: 2, addition: 1 };

export const severityOf: Record<Change, Severity> = {
  'status-class-changed': 'critical',
  'type-changed': 'schema',
  removed: 'schema',
  'value-changed': 'value',
  added: 'addition',
};

export interface Difference {
  kind: DifferenceKind;
  /** `status`, `header:content-type`, `$.items[3].qty`, or `line:12` for text bodies. */
  path: string;
  /** The path with element positions as `[*]`, what statistics group by. */
  field: string;
  change: Change;
  severity: Severity;
  /** Short renderings of both values (absent on the side that lacks it). */
  stable?: string;
  shadow?: string;
  /** Set when the difference is noise: the heuristic or the ignore rule that explains it. */
  noise?: string;
  /** Set when a reviewed-differences entry covers it. */
  review?: { status: 'accepted' | 'must-fix'; reason: string };
}

/**
 * Pair verdicts; match, mismatch, noise, accepted and not-compared come from comparing two
 * responses (not-compared: a body that could not be decided, e.g. truncated without a hash),
 * the rest from pairing. `altered`: the shadow was sent a request redaction had changed (masked
 * secrets), so its answer is not compared.
 */
export const verdictKinds = ['match', 'mismatch', 'noise', 'accepted', 'shadow-error', 'missing', 'skipped', 'no-baseline', 'not-compared', 'altered'] as const;
export type VerdictKind = (typeof verdictKinds)[number];

const excerptLength = 120;

export function excerpt(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : value === undefined ? 'undefined' : JSON.stringify(value) ?? String(value);
  return text.length > excerptLength ? `${text.slice(0, excerptLength - 1)}…` : text;
}

export function bySeverity(a: Difference, b: Difference): number {
  return severityRank[b.severity] - severityRank[a.severity];
}

/** A difference that counts against the shadow: not noise and not accepted. */
export const isReal = (d: Difference) => d.noise === undefined && d.review?.status !== 'accepted';
