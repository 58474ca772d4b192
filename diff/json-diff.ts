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

type JsonObject = Record<string, unknown>;

/** How two values differ when at least one is not a container, or undefined when they are equal (numbers within `tolerance`). */
export function leafChange(a: unknown, b: unknown, tolerance: number): 'value-changed' | 'type-changed' | undefined {
  if (a === b) return undefined;
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) > tolerance ? 'value-changed' : undefined;
  return typeOf(a) === typeOf(b) ? 'value-changed' : 'type-changed';
}

/**
 * Returns the differences, most general first, and whether the list was cut at maxDifferences.
 * Bodies are mostly equal even when they differ, so the walk is built for equal subtrees: one
 * mutable path, copied only when a difference is recorded, and no key lists allocated.
 */
export function diffJson(stable: unknown, shadow: unknown, options: JsonDiffOptions = {}): { differences: JsonDifference[]; truncated: boolean } {
  const tolerance = options.numberTolerance ?? 0;
  const max = options.maxDifferences ?? 200;
  const arrayKey = options.arrayKey;
  const differences: JsonDifference[] = [];
  const path: PathSegment[] = [];
  // Arrays being walked by key in place: their elements sit on the path as positions until a
  // difference is recorded, so equal elements cost no key segment.
  const keyed: Array<{ depth: number; key: string; keys: string[]; distinct?: boolean }> = [];
  let truncated = false;

  const push = (change: JsonDifference['change'], a: unknown, b: unknown, last?: PathSegment) => {
    if (differences.length >= max) {
      truncated = true;
      return;
    }
    const at = path.slice();
    for (const frame of keyed) {
      // Keys shared by two elements do not identify them: such elements keep their position.
      frame.distinct ??= new Set(frame.keys).size === frame.keys.length;
      if (frame.distinct) at[frame.depth] = { key: frame.key, value: frame.keys[at[frame.depth] as number]! };
    }
    if (last !== undefined) at.push(last);
    const d: JsonDifference = { path: at, change };
    if (change !== 'added') d.stable = a;
    if (change !== 'removed') d.shadow = b;
    differences.push(d);
  };

  const walk = (a: unknown, b: unknown): void => {
    if (a === b || truncated) return;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
      const change = leafChange(a, b, tolerance);
      if (change) push(change, a, b);
      return;
    }
    const arrayA = Array.isArray(a);
    if (arrayA !== Array.isArray(b)) push('type-changed', a, b);
    else if (arrayA) walkArray(a as unknown[], b as unknown[]);
    else walkObject(a as JsonObject, b as JsonObject);
  };

  /** One child of an object or array; equal leaves, most of a body, cost no path step. */
  const walkChild = (segment: PathSegment, a: unknown, b: unknown) => {
    if (a === b) return;
    path.push(segment);
    walk(a, b);
    path.pop();
  };

  const walkObject = (a: JsonObject, b: JsonObject) => {
    let shared = 0;
    for (const key in a) {
      if (!Object.hasOwn(b, key)) {
        push('removed', a[key], undefined, key);
        continue;
      }
      shared++;
      walkChild(key, a[key], b[key]);
    }
    let sizeB = 0;
    for (const _ in b) sizeB++;
    if (sizeB === shared) return;
    for (const key in b) if (!Object.hasOwn(a, key)) push('added', undefined, b[key], key);
  };

  const walkArray = (a: unknown[], b: unknown[]) => {
    // Only objects carry keys: arrays of scalars (an element's tags) skip the rules. An empty
    // array may still be matched against another by key.
    const key = a.length === 0 || isRecord(a[0]) ? arrayKey?.(path) : undefined;
    if (key !== undefined && walkKeyed(a, b, key)) return;
    const common = Math.min(a.length, b.length);
    for (let i = 0; i < common; i++) walkChild(i, a[i], b[i]);
    for (let i = common; i < a.length; i++) push('removed', a[i], undefined, i);
    for (let i = common; i < b.length; i++) push('added', undefined, b[i], i);
  };

  /** Elements matched by key; false when some element lacks the key or two share it (then positions are compared). */
  const walkKeyed = (a: unknown[], b: unknown[], key: string): boolean => {
    // Usual case first: same keys in the same order, compared in place without maps.
    if (a.length === b.length) {
      const keys: string[] = [];
      for (let i = 0; i < a.length; i++) {
        const ka = keyOf(a[i], key);
        if (ka === undefined || ka !== keyOf(b[i], key)) break;
        keys.push(ka);
      }
      if (keys.length === a.length) {
        keyed.push({ depth: path.length, key, keys });
        for (let i = 0; i < a.length; i++) walkChild(i, a[i], b[i]);
        keyed.pop();
        return true;
      }
    }
    const byKeyA = indexByKey(a, key);
    const byKeyB = byKeyA && indexByKey(b, key);
    if (!byKeyA || !byKeyB) return false;
    for (const [value, element] of byKeyA) {
      if (!byKeyB.has(value)) push('removed', element, undefined, { key, value });
      else walkChild({ key, value }, element, byKeyB.get(value));
    }
    for (const [value, element] of byKeyB) if (!byKeyA.has(value)) push('added', undefined, element, { key, value });
    return true;
  };

  walk(stable, shadow);
  return { differences, truncated };
}

const isRecord = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The string form of an element's key field, or undefined when it is not an object with that key. */
function keyOf(element: unknown, key: string): string | undefined {
  if (!isRecord(element) || !Object.hasOwn(element, key)) return undefined;
  return keyString(element[key]);
}

/** A key field's value as elements are matched by it: strings as they are, anything else as JSON. */
export function keyString(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Elements by the string form of their key, or undefined when an element lacks it or two share it. */
function indexByKey(elements: unknown[], key: string): Map<string, unknown> | undefined {
  const map = new Map<string, unknown>();
  for (const element of elements) {
    const id = keyOf(element, key);
    if (id === undefined || map.has(id)) return undefined;
    map.set(id, element);
  }
  return map;
}
