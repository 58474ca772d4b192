import type { Change } from './difference.js';
import type { PathSegment } from './json-path.js';

/** A structural difference between two parsed JSON values, before noise rules look at it. */
export interface JsonDifference {
  path: PathSegment[];
  change: Exclude<Change, 'status-class-changed'>;
  stable?: unknown;
  shadow?: unknown;
}

export interface JsonDiffOptions {
  /** The key field that identifies elements of the array at this path, if configured. */
  arrayKey?: (path: readonly PathSegment[]) => string | undefined;
  /** Numbers within this absolute distance are equal. */
  numberTolerance?: number;
  /** Stop collecting after this many differences; a rewritten body need not list every leaf. */
  maxDifferences?: number;
}

type JsonType = 'null' | 'array' | 'object' | 'string' | 'number' | 'boolean';

function typeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value as JsonType;
}

/** Returns the differences, most general first, and whether the list was cut at maxDifferences. */
export function diffJson(stable: unknown, shadow: unknown, options: JsonDiffOptions = {}): { differences: JsonDifference[]; truncated: boolean } {
  const tolerance = options.numberTolerance ?? 0;
  const max = options.maxDifferences ?? 200;
  const differences: JsonDifference[] = [];
  let truncated = false;

  const push = (d: JsonDifference) => {
    if (differences.length >= max) truncated = true;
    else differences.push(d);
  };

  const walk = (a: unknown, b: unknown, path: PathSegment[]): void => {
    if (truncated) return;
    const ta = typeOf(a);
    const tb = typeOf(b);
    if (ta !== tb) return push({ path, change: 'type-changed', stable: a, shadow: b });
    if (ta === 'object') return walkObject(a as Record<string, unknown>, b as Record<string, unknown>, path);
    if (ta === 'array') return walkArray(a as unknown[], b as unknown[], path);
    if (ta === 'number' ? Math.abs((a as number) - (b as number)) > tolerance : a !== b) {
      push({ path, change: 'value-changed', stable: a, shadow: b });
    }
  };

  const walkObject = (a: Record<string, unknown>, b: Record<string, unknown>, path: PathSegment[]) => {
    for (const key of Object.keys(a)) {
      if (!Object.hasOwn(b, key)) push({ path: [...path, key], change: 'removed', stable: a[key] });
      else walk(a[key], b[key], [...path, key]);
    }
    for (const key of Object.keys(b)) if (!Object.hasOwn(a, key)) push({ path: [...path, key], change: 'added', shadow: b[key] });
  };

  const walkArray = (a: unknown[], b: unknown[], path: PathSegment[]) => {
    const key = options.arrayKey?.(path);
    const byKeyA = key ? indexByKey(a, key) : undefined;
    const byKeyB = key ? indexByKey(b, key) : undefined;
    if (key && byKeyA && byKeyB) {
      for (const [value, element] of byKeyA) {
        const at: PathSegment[] = [...path, { key, value }];
        if (!byKeyB.has(value)) push({ path: at, change: 'removed', stable: element });
        else walk(element, byKeyB.get(value), at);
      }
      for (const [value, element] of byKeyB) if (!byKeyA.has(value)) push({ path: [...path, { key, value }], change: 'added', shadow: element });
      return;
    }
    const common = Math.min(a.length, b.length);
    for (let i = 0; i < common; i++) walk(a[i], b[i], [...path, i]);
    for (let i = common; i < a.length; i++) push({ path: [...path, i], change: 'removed', stable: a[i] });
    for (let i = common; i < b.length; i++) push({ path: [...path, i], change: 'added', shadow: b[i] });
  };

  walk(stable, shadow, []);
  return { differences, truncated };
}

/** Elements by the string form of their key, or undefined when an element lacks it or two share it (then positions are compared). */
function indexByKey(elements: unknown[], key: string): Map<string, unknown> | undefined {
  const map = new Map<string, unknown>();
  for (const element of elements) {
    if (typeOf(element) !== 'object' || !Object.hasOwn(element as object, key)) return undefined;
    const value = (element as Record<string, unknown>)[key];
    const id = typeof value === 'string' ? value : JSON.stringify(value);
    if (map.has(id)) return undefined;
    map.set(id, element);
  }
  return map;
}
