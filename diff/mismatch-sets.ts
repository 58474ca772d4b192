/**
 * How many mismatched pairs had exactly which set of really-differing fields, per route. The
 * A/A calibration decides at report time which fields are noise; a pair is then a mismatch only
 * if one of its fields is still real. Keeping the sets (not the pairs) lets a streaming summary
 * re-judge its counts later, in memory bounded by `limit`: sets past it stay mismatches
 * (`overflow`), which can only over-report, never hide a regression.
 */
export interface MismatchSets {
  limit: number;
  /** mismatchSetKey(route, fields) → pairs. */
  counts: Map<string, number>;
  /** Mismatched pairs whose set did not fit; never re-judged. */
  overflow: number;
}

const routeMark = '\u0002';
const fieldMark = '\u0001';

export function newMismatchSets(limit: number): MismatchSets {
  return { limit, counts: new Map(), overflow: 0 };
}

/** The key of one set of fields of a route; `fields` are FieldStat keys, in any order, repeats allowed. */
export function mismatchSetKey(route: string, fields: readonly string[]): string {
  if (fields.length === 1) return `${route}${routeMark}${fields[0]}`;
  // Sorted, repeats sit side by side and are dropped while joining: no Set per pair.
  const sorted = [...fields].sort();
  let key = `${route}${routeMark}${sorted[0] ?? ''}`;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1]) key += fieldMark + sorted[i];
  return key;
}

export function addMismatchSet(sets: MismatchSets, key: string, pairs = 1): void {
  const prior = sets.counts.get(key);
  if (prior !== undefined) sets.counts.set(key, prior + pairs);
  else if (sets.counts.size < sets.limit) sets.counts.set(key, pairs);
  else sets.overflow += pairs;
}

export function mergeMismatchSets(a: MismatchSets, b: MismatchSets): MismatchSets {
  const out: MismatchSets = { limit: Math.max(a.limit, b.limit), counts: new Map(a.counts), overflow: a.overflow + b.overflow };
  // Largest sets first, so the cut keeps what matters most when the union is over the limit.
  for (const [key, n] of [...b.counts].sort((x, y) => y[1] - x[1])) {
    const prior = out.counts.get(key);
    if (prior !== undefined) out.counts.set(key, prior + n);
    else if (out.counts.size < out.limit) out.counts.set(key, n);
    else out.overflow += n;
  }
  return out;
}

/** Mismatched pairs whose every differing field is noise by `isNoise(route, field)`. */
export function pairsNowNoise(sets: MismatchSets, isNoise: (route: string, field: string) => boolean): number {
  let pairs = 0;
  for (const [key, n] of sets.counts) {
    const at = key.indexOf(routeMark);
    const route = key.slice(0, at);
    const fields = key.slice(at + 1).split(fieldMark);
    if (fields.every((f) => isNoise(route, f))) pairs += n;
  }
  return pairs;
}

export function mismatchSetsToJson(sets: MismatchSets): { limit: number; counts: Array<[string, number]>; overflow: number } {
  return { limit: sets.limit, counts: [...sets.counts], overflow: sets.overflow };
}

export function mismatchSetsFromJson(json: { limit: number; counts: Array<[string, number]>; overflow: number }): MismatchSets {
  return { limit: json.limit, counts: new Map(json.counts), overflow: json.overflow };
}
