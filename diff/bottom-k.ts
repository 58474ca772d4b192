/**
 * A bounded, deterministic sample: keeps the k items whose id hashes lowest. Unlike a random
 * reservoir, merging two samples of disjoint inputs (keep the k lowest of both) gives exactly
 * the sample of the whole input, so diff workers' partial summaries merge without loss.
 */
export interface BottomK<T> {
  k: number;
  /** Sorted by hash, then id; at most k. */
  items: Array<{ hash: number; id: string; value: T }>;
}

export function bottomK<T>(k: number): BottomK<T> {
  return { k, items: [] };
}

/** 32-bit FNV-1a of the id: cheap, stable across processes, well spread for sampling. */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const before = (a: { hash: number; id: string }, b: { hash: number; id: string }) => a.hash - b.hash || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Whether an item with this hash and id would be kept; lets callers skip building expensive values. */
export function wouldKeep(sample: BottomK<unknown>, hash: number, id: string): boolean {
  if (sample.k <= 0) return false;
  if (sample.items.length < sample.k) return true;
  return before({ hash, id }, sample.items.at(-1)!) < 0;
}

export function offer<T>(sample: BottomK<T>, id: string, value: T | (() => T), hash = hashId(id)): void {
  if (!wouldKeep(sample, hash, id)) return;
  const item = { hash, id, value: typeof value === 'function' ? (value as () => T)() : value };
  let i = sample.items.length;
  while (i > 0 && before(item, sample.items[i - 1]!) < 0) i--;
  sample.items.splice(i, 0, item);
  if (sample.items.length > sample.k) sample.items.pop();
}

export function mergeBottomK<T>(a: BottomK<T>, b: BottomK<T>): BottomK<T> {
  const k = Math.max(a.k, b.k);
  return { k, items: [...a.items, ...b.items].sort(before).slice(0, k) };
}
