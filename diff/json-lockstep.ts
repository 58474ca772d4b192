import { leafChange, keyString, type JsonDiffOptions, type JsonDifference } from './json-diff.js';
import type { PathSegment } from './json-path.js';

/**
 * Two JSON bodies compared as bytes, without parsing either: one pass over stable's bytes checks
 * they are JSON and follows their structure, while shadow's bytes are compared with them. Equal
 * runs cost a byte comparison each and build nothing; where a scalar differs, only the two
 * tokens are parsed, and the path is built for that leaf alone. Answers of one service mostly
 * differ so, in a few values.
 *
 * Anything else gives `undefined`, and the caller parses both bodies and compares the trees
 * (diffJson), so the result is always what diffJson would return: another structure (a member
 * added, an array grown, a scalar turned into an object), other spacing or key order, a key
 * array's key that differs, an object holding a difference whose keys repeat, are escaped or
 * look like array indexes (JSON.parse keeps the last of a repeated key, and orders index-like
 * keys first), bytes JSON.parse would refuse, a scalar document, or more than maxDifferences.
 */
export function diffJsonLockstep(a: Buffer, b: Buffer, options: JsonDiffOptions = {}): { differences: JsonDifference[]; truncated: boolean } | undefined {
  const walk = new Lockstep(a, b, options);
  return walk.run() ? { differences: walk.finish(), truncated: false } : undefined;
}

const [OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY, COMMA, COLON, QUOTE, BACKSLASH] = [...'{}[],:"\\'].map((c) => c.charCodeAt(0));

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** Bytes that may continue a number or a literal: a token of shadow's running on past stable's is another token. */
const continuesToken = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x7a) || c === 0x2e || c === 0x2d || c === 0x2b || c === 0x45;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
/** Escapes JSON allows after a backslash: " \ / b f n r t (u is checked apart). */
const isEscape = (c: number) => c === 0x22 || c === 0x5c || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74;
/** What value() did: failed (the pair is left to diffJson), opened a container, or read a value. */
const [failed, opened, read] = [0, 1, 2] as const;

/** An array whose elements diffJson matches by a key field: where each element's key value lies in stable's bytes. */
interface KeyedArray {
  key: string;
  keyBytes: Buffer;
  /** Start and end of each element's key value token; the array is matched by position when an element lacks one. */
  spans: number[];
  byKey: boolean;
  /** Every key value is a string without escapes: equal values are then equal bytes. */
  plain: boolean;
  /** The element being read: where its key value lies, -1 until found. */
  start: number;
  end: number;
  keys?: string[];
  distinct?: boolean;
}

interface Found {
  difference: JsonDifference;
  /** The keyed arrays on the path, by depth: their positions print as keys when every key is distinct. */
  keyed: Array<[number, KeyedArray]> | null;
}

/** One open object or array, at one depth. */
interface Frame {
  array: boolean;
  /** Arrays: the element being read. */
  index: number;
  /** Objects: the member being read (start and end of its key's bytes, inside the quotes). */
  keyStart: number;
  keyEnd: number;
  keyEscaped: boolean;
  /** Objects: every key's span so far (keyCount numbers), checked only when a difference was found inside. */
  keys: number[];
  keyCount: number;
  anyEscaped: boolean;
  holdsDifference: boolean;
  keyed: KeyedArray | null;
  /** Objects that are elements of a keyed array: the member being read is the key field. */
  readingKey: boolean;
}

class Lockstep {
  private i = 0;
  /** Shadow's byte for stable's byte i is at i + shift: tokens of other lengths shift the rest. */
  private shift = 0;
  private readonly frames: Frame[] = [];
  private depth = 0;
  private readonly found: Found[] = [];
  private readonly tolerance: number;
  private readonly max: number;
  /** Set by token(): whether shadow's bytes are stable's over the token just read. */
  private same = true;
  /** Set by token(): whether the string just read held an escape. */
  private escaped = false;

  constructor(
    private readonly a: Buffer,
    private readonly b: Buffer,
    private readonly options: JsonDiffOptions,
  ) {
    this.tolerance = options.numberTolerance ?? 0;
    this.max = options.maxDifferences ?? 200;
  }

  run(): boolean {
    const { a, b } = this;
    if (!this.space()) return false;
    const first = a[this.i];
    if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) return false;
    let expectValue = true;
    for (;;) {
      if (expectValue) {
        const read = this.value();
        if (read === failed) return false;
        if (read === opened) continue;
      }
      if (this.depth === 0) break;
      // After a value: the next member or element, or the end of its container.
      if (!this.space()) return false;
      const c = a[this.i];
      if (c !== b[this.i + this.shift]) return false;
      const frame = this.frames[this.depth - 1]!;
      if (c === COMMA) {
        this.i++;
        if (!this.space()) return false;
        if (frame.array) frame.index++;
        else if (!this.member(frame)) return false;
        expectValue = true;
        continue;
      }
      if (c !== (frame.array ? CLOSE_ARRAY : CLOSE_OBJECT) || !this.close(frame)) return false;
      this.i++;
      this.depth--;
      expectValue = false;
    }
    return this.space() && this.i === a.length && this.i + this.shift === b.length;
  }

  /** Skips spacing, which must be the same on both sides. */
  private space(): boolean {
    const { a, b } = this;
    while (this.i < a.length && isSpace(a[this.i]!)) {
      if (b[this.i + this.shift] !== a[this.i]) return false;
      this.i++;
    }
    return this.i < a.length || this.depth === 0;
  }

  /** Reads the value at i: opens a container (leaving i at its first value, or at its end when empty), or reads and compares a scalar. */
  private value(): typeof failed | typeof opened | typeof read {
    const { a, b } = this;
    const start = this.i;
    const c = a[start];
    const parent = this.depth > 0 ? this.frames[this.depth - 1]! : null;
    if (parent?.keyed && c !== OPEN_OBJECT) parent.keyed.byKey = false;
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (b[start + this.shift] !== c) return failed;
      if (parent?.readingKey) return failed; // a key field holding an object: left to diffJson
      const frame = this.open(c === OPEN_ARRAY);
      this.i++;
      if (!this.space()) return failed;
      const next = a[this.i];
      // An empty container: closed by run(), which compares the closing byte.
      if (next === (frame.array ? CLOSE_ARRAY : CLOSE_OBJECT)) return read;
      if (frame.array) {
        if (next === OPEN_OBJECT && this.options.arrayKey) this.keyArray(frame);
        return opened;
      }
      return this.member(frame) ? opened : failed;
    }
    const end = this.token(a, start, true);
    if (end < 0) return failed;
    const escaped = this.escaped;
    let same = this.same;
    // A number or literal of shadow's running on past stable's is another token.
    if (same && c !== QUOTE && continuesToken(b[end + this.shift] ?? 0)) same = false;
    if (parent?.readingKey) {
      // Elements whose key values differ are paired by key in diffJson, not by position.
      if (!same) return failed;
      const keyed = this.frames[this.depth - 2]!.keyed!;
      keyed.start = start;
      keyed.end = end;
      keyed.plain &&= c === QUOTE && !escaped;
    }
    if (!same && !this.differs(start, end, escaped)) return failed;
    this.i = end;
    return read;
  }

  /** Stable's scalar at start..end differs in bytes from shadow's: parsed, both are compared as diffJson compares leaves. */
  private differs(start: number, end: number, escaped: boolean): boolean {
    const { a, b } = this;
    const startB = start + this.shift;
    const c = b[startB];
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) return false;
    const endB = this.token(b, startB, false);
    if (endB < 0) return false;
    const stable = scalar(a, start, end, escaped);
    const shadow = scalar(b, startB, endB, this.escaped);
    this.shift += endB - startB - (end - start);
    const change = leafChange(stable, shadow, this.tolerance);
    if (change === undefined) return true;
    if (this.found.length >= this.max) return false;
    const path: PathSegment[] = [];
    let keyed: Found['keyed'] = null;
    for (let d = 0; d < this.depth; d++) {
      const frame = this.frames[d]!;
      frame.holdsDifference = true;
      if (frame.array) {
        path.push(frame.index);
        if (frame.keyed) (keyed ??= []).push([d, frame.keyed]);
      } else path.push(this.keyOf(frame));
    }
    this.found.push({ difference: { path, change, stable, shadow }, keyed });
    return true;
  }

  /** Reads a member's key and colon; i is left at its value. */
  private member(frame: Frame): boolean {
    const { a, b } = this;
    const start = this.i;
    if (a[start] !== QUOTE) return false;
    const end = this.token(a, start, true);
    if (end < 0 || !this.same) return false;
    frame.keyStart = start + 1;
    frame.keyEnd = end - 1;
    frame.keyEscaped = this.escaped;
    frame.anyEscaped ||= this.escaped;
    frame.keys[frame.keyCount++] = start + 1;
    frame.keys[frame.keyCount++] = end - 1;
    const parent = this.depth > 1 ? this.frames[this.depth - 2]! : null;
    frame.readingKey = parent?.keyed ? this.isKey(frame, parent.keyed) : false;
    this.i = end;
    if (!this.space() || a[this.i] !== COLON || b[this.i + this.shift] !== COLON) return false;
    this.i++;
    return this.space();
  }

  private open(array: boolean): Frame {
    let frame = this.frames[this.depth];
    if (!frame) {
      frame = { array, index: 0, keyStart: 0, keyEnd: 0, keyEscaped: false, keys: [], keyCount: 0, anyEscaped: false, holdsDifference: false, keyed: null, readingKey: false };
      this.frames.push(frame);
    } else {
      frame.array = array;
      frame.index = 0;
      frame.keyCount = 0;
      frame.anyEscaped = false;
      frame.holdsDifference = false;
      frame.keyed = null;
      frame.readingKey = false;
    }
    this.depth++;
    return frame;
  }

  /**
   * Ends a container. An element of a keyed array gives its key value's place; an object that
   * held a difference must have keys JSON.parse keeps as written (none repeated, escaped or
   * index-like), or its differences would not be where diffJson finds them.
   */
  private close(frame: Frame): boolean {
    if (frame.array) return true;
    const parent = this.depth > 1 ? this.frames[this.depth - 2]! : null;
    const keyed = parent?.keyed;
    if (keyed) {
      if (keyed.start < 0) keyed.byKey = false;
      else keyed.spans.push(keyed.start, keyed.end);
      keyed.start = keyed.end = -1;
    }
    if (!frame.holdsDifference) return true;
    if (frame.anyEscaped) return false;
    for (let k = 0; k < frame.keyCount; k += 2) if (indexLike(this.a, frame.keys[k]!, frame.keys[k + 1]!)) return false;
    return distinctSpans(this.a, frame.keys, frame.keyCount);
  }

  /** An array of objects whose path has a key rule: its elements' key values are noted as they pass. */
  private keyArray(frame: Frame): void {
    const path: PathSegment[] = [];
    for (let d = 0; d < this.depth - 1; d++) {
      const f = this.frames[d]!;
      path.push(f.array ? f.index : this.keyOf(f));
    }
    const key = this.options.arrayKey!(path);
    if (key !== undefined) frame.keyed = { key, keyBytes: Buffer.from(key), spans: [], byKey: true, plain: true, start: -1, end: -1 };
  }

  /** Whether the member being read is the key field of a keyed array's element. */
  private isKey(frame: Frame, keyed: KeyedArray): boolean {
    if (frame.keyEscaped) return this.keyOf(frame) === keyed.key;
    const { keyBytes } = keyed;
    if (frame.keyEnd - frame.keyStart !== keyBytes.length) return false;
    for (let k = 0; k < keyBytes.length; k++) if (this.a[frame.keyStart + k] !== keyBytes[k]) return false;
    return true;
  }

  private keyOf(frame: Frame): string {
    return decodeString(this.a, frame.keyStart - 1, frame.keyEnd + 1, frame.keyEscaped);
  }

  /**
   * The end of the scalar token at `start` in `bytes` (a string, number or literal, as JSON
   * writes them), or -1 when JSON.parse would refuse it.
   */
  private token(bytes: Buffer, start: number, compare: boolean): number {
    const c = bytes[start]!;
    const { b, shift } = this;
    let same = true;
    let end: number;
    if (c === QUOTE) {
      end = -1;
      this.escaped = false;
      for (let k = start + 1; k < bytes.length; k++) {
        const x = bytes[k]!;
        if (compare && b[k + shift] !== x) same = false;
        if (x === QUOTE) {
          end = k + 1;
          break;
        }
        if (x < 0x20) return -1;
        if (x === BACKSLASH) {
          // The escaped byte is compared in the next turn, after being checked here.
          this.escaped = true;
          const e = bytes[k + 1];
          if (e === 0x75) {
            if (!isHex(bytes[k + 2]!) || !isHex(bytes[k + 3]!) || !isHex(bytes[k + 4]!) || !isHex(bytes[k + 5]!)) return -1;
            if (compare) for (let h = k + 1; h <= k + 5; h++) if (b[h + shift] !== bytes[h]) same = false;
            k += 5;
          } else if (e === undefined || !isEscape(e)) return -1;
          else {
            if (compare && b[k + 1 + shift] !== e) same = false;
            k++;
          }
        }
      }
    } else {
      end = c === 0x74 ? literal(bytes, start, 'true') : c === 0x66 ? literal(bytes, start, 'false') : c === 0x6e ? literal(bytes, start, 'null') : numberEnd(bytes, start);
      if (compare) for (let k = start; k < end && same; k++) same = b[k + shift] === bytes[k];
    }
    this.same = same;
    return end;
  }

  /** The differences in stable's order, keyed arrays' positions printed as keys where diffJson does. */
  finish(): JsonDifference[] {
    return this.found.map(({ difference, keyed }) => {
      for (const [depth, array] of keyed ?? []) {
        if (!array.byKey) continue;
        array.distinct ??= array.plain ? distinctSpans(this.a, array.spans, array.spans.length) : new Set(keyValues(this.a, array.spans)).size * 2 === array.spans.length;
        const at = (difference.path[depth] as number) * 2;
        if (array.distinct) difference.path[depth] = { key: array.key, value: keyValue(this.a, array.spans[at]!, array.spans[at + 1]!) };
      }
      return difference;
    });
  }
}

function literal(bytes: Buffer, start: number, word: string): number {
  for (let k = 1; k < word.length; k++) if (bytes[start + k] !== word.charCodeAt(k)) return -1;
  return start + word.length;
}

/** The end of a number as JSON writes it: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?, or -1. */
function numberEnd(bytes: Buffer, start: number): number {
  let k = start;
  if (bytes[k] === 0x2d) k++;
  if (bytes[k] === 0x30) k++;
  else if (isDigit(bytes[k]!)) while (isDigit(bytes[k]!)) k++;
  else return -1;
  if (bytes[k] === 0x2e) {
    if (!isDigit(bytes[++k]!)) return -1;
    while (isDigit(bytes[k]!)) k++;
  }
  if (bytes[k] === 0x65 || bytes[k] === 0x45) {
    k++;
    if (bytes[k] === 0x2b || bytes[k] === 0x2d) k++;
    if (!isDigit(bytes[k]!)) return -1;
    while (isDigit(bytes[k]!)) k++;
  }
  return k;
}

/** A string token's value: its bytes as UTF-8 when it has no escape, else as JSON.parse reads it. */
function decodeString(bytes: Buffer, start: number, end: number, escaped: boolean): string {
  return escaped ? (JSON.parse(bytes.toString('utf8', start, end)) as string) : bytes.toString('utf8', start + 1, end - 1);
}

function scalar(bytes: Buffer, start: number, end: number, escaped: boolean): unknown {
  return bytes[start] === QUOTE ? decodeString(bytes, start, end, escaped) : JSON.parse(bytes.toString('latin1', start, end));
}

/** A key field's value as diffJson matches elements by it, from its token. */
function keyValue(bytes: Buffer, start: number, end: number): string {
  return keyString(scalar(bytes, start, end, bytes.subarray(start, end).includes(BACKSLASH)));
}

function keyValues(bytes: Buffer, spans: number[]): string[] {
  const keys: string[] = [];
  for (let k = 0; k < spans.length; k += 2) keys.push(keyValue(bytes, spans[k]!, spans[k + 1]!));
  return keys;
}

/** The hash table distinctSpans reuses: span index + 1 (0 = empty) and the span's hash, by slot. */
let slots = new Int32Array(64);
let slotHashes = new Int32Array(64);

/**
 * Whether the first `count` numbers of `spans` (start, end pairs) mark distinct byte strings:
 * hashed into a reused open-addressing table, bytes compared only where hashes meet.
 */
function distinctSpans(bytes: Buffer, spans: readonly number[], count: number): boolean {
  let size = 16;
  while (size < count) size *= 2; // count is twice the spans: a table at most half full
  if (size > slots.length) {
    slots = new Int32Array(size);
    slotHashes = new Int32Array(size);
  } else slots.fill(0, 0, size);
  const mask = size - 1;
  for (let k = 0; k < count; k += 2) {
    const start = spans[k]!;
    const end = spans[k + 1]!;
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    let at = hash & mask;
    for (let other = slots[at]! - 1; other >= 0; other = slots[at]! - 1) {
      if (slotHashes[at] === hash && sameBytes(bytes, spans[other]!, spans[other + 1]!, start, end)) return false;
      at = (at + 1) & mask;
    }
    slots[at] = k + 1;
    slotHashes[at] = hash;
  }
  return true;
}

function sameBytes(bytes: Buffer, start: number, end: number, otherStart: number, otherEnd: number): boolean {
  if (end - start !== otherEnd - otherStart) return false;
  for (let i = 0; i < end - start; i++) if (bytes[start + i] !== bytes[otherStart + i]) return false;
  return true;
}

/** Whether an object key (its bytes) is an array index, which V8 orders before all other keys: 0 to 2^32 - 2. */
function indexLike(bytes: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (length === 0 || length > 10 || (length > 1 && bytes[start] === 0x30)) return false;
  let value = 0;
  for (let i = start; i < end; i++) {
    if (!isDigit(bytes[i]!)) return false;
    value = value * 10 + bytes[i]! - 0x30;
  }
  return value <= 2 ** 32 - 2;
}
