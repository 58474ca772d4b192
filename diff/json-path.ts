import { configError } from '../shared/errors.js';

/**
 * Concrete locations inside a JSON body, and the JSONPath-like patterns that select them.
 * A concrete path is `$.items[3].qty`; an element of an array matched by key prints as
 * `$.items[sku=A1].qty`. Patterns add `*` (any one key or element) and `..` (any depth).
 */
export type PathSegment = string | number | { key: string; value: string };

type PatternSegment = { type: 'key'; name: string } | { type: 'index'; index: number } | { type: 'wild' } | { type: 'descend' };

export interface PathPattern {
  source: string;
  segments: PatternSegment[];
  /** Segments a path needs at least: one per segment but `..`. */
  minLength: number;
  /** Whether the pattern has a `..`; without one a whole-path match needs exactly minLength segments. */
  descends: boolean;
}

const plainKey = /^[A-Za-z_$][\w$-]*$/;

const quotedKey = (key: string) => `['${key.replaceAll("'", "\\'")}']`;

export function formatPath(segments: readonly PathSegment[]): string {
  let out = '$';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string') out += plainKey.test(segment) ? `.${segment}` : quotedKey(segment);
    else out += `[${segment.key}=${segment.value}]`;
  }
  return out;
}

/** The path with every element position replaced by `[*]`, so statistics group `items[0].qty` and `items[7].qty`. */
export function fieldOf(segments: readonly PathSegment[]): string {
  let out = '$';
  for (const segment of segments) {
    if (typeof segment !== 'string') out += '[*]';
    else if (plainKey.test(segment)) out += `.${segment}`;
    // Field names must not change between versions (workers' summaries merge by them): a quoted
    // key's `[-1]` has always read `[*]`.
    else out += quotedKey(segment).replaceAll('[-1]', '[*]');
  }
  return out;
}

export function parsePathPattern(source: string): PathPattern {
  const text = source.trim();
  if (!text.startsWith('$')) throw configError(`path "${source}" must start with $ (for example $.meta.generatedAt or $..traceId)`);
  const segments: PatternSegment[] = [];
  let i = 1;
  const fail = (): never => {
    throw configError(`path "${source}" is not valid near position ${i + 1}; use $.a.b, $.items[*].c, $.items[3] or $..name`);
  };
  while (i < text.length) {
    if (text.startsWith('..', i)) {
      segments.push({ type: 'descend' });
      i += 2;
      if (text[i] === '[') continue;
      i = readDotName(text, i, segments, fail);
    } else if (text[i] === '.') {
      i = readDotName(text, i + 1, segments, fail);
    } else if (text[i] === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) fail();
      const inner = text.slice(i + 1, close).trim();
      if (inner === '*') segments.push({ type: 'wild' });
      else if (/^\d+$/.test(inner)) segments.push({ type: 'index', index: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) segments.push({ type: 'key', name: inner.slice(1, -1) });
      else fail();
      i = close + 1;
    } else {
      fail();
    }
  }
  if (segments.at(-1)?.type === 'descend') fail();
  const descends = segments.filter((s) => s.type === 'descend').length;
  return { source: text, segments, minLength: segments.length - descends, descends: descends > 0 };
}

function readDotName(text: string, start: number, segments: PatternSegment[], fail: () => never): number {
  const match = /^(\*|[^.[\]\s]+)/.exec(text.slice(start));
  if (!match) fail();
  const name = match![1]!;
  segments.push(name === '*' ? { type: 'wild' } : { type: 'key', name });
  return start + name.length;
}

/** True when the pattern names no concrete key or index, so it would select the whole body or every top-level element. */
export function isOverBroad(pattern: PathPattern): boolean {
  return !pattern.segments.some((s) => s.type === 'key' || s.type === 'index');
}

function segmentMatches(pattern: PatternSegment, segment: PathSegment): boolean {
  switch (pattern.type) {
    case 'wild':
      return true;
    case 'key':
      return typeof segment === 'string' ? segment === pattern.name : false;
    case 'index':
      return segment === pattern.index;
    default:
      return false;
  }
}

/**
 * Whether the pattern selects the path. With `prefix`, a pattern selecting an ancestor also
 * selects the path (ignoring `$.meta` ignores everything under it).
 */
export function matchesPath(pattern: PathPattern, path: readonly PathSegment[], prefix = true): boolean {
  // Most checks (an array-key rule against every array of a body) fail on length alone.
  if (path.length < pattern.minLength || (!prefix && !pattern.descends && path.length !== pattern.minLength)) return false;
  const pat = pattern.segments;
  const walk = (p: number, s: number): boolean => {
    if (p === pat.length) return prefix || s === path.length;
    const current = pat[p]!;
    if (current.type === 'descend') {
      for (let from = s; from < path.length; from++) if (walk(p + 1, from)) return true;
      return false;
    }
    if (s >= path.length) return false;
    return segmentMatches(current, path[s]!) && walk(p + 1, s + 1);
  };
  return walk(0, 0);
}
