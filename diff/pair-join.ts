import type { LogEntry } from '../shared/log/record-log.js';
import type { Capture, Result, ResultRole } from '../shared/records/types.js';

/**
 * Streaming join of captures and results by request id, in memory bounded by `joinWindow`.
 *
 * Design: both logs are read at once and merged into one stream, in time order when reading a
 * finished window (a result is sent after its capture, so the capture is normally seen first)
 * or in arrival order when following. Captures wait in a bounded map keyed by id; a result
 * pairs with its capture at once, or waits in a bounded map of its own when it arrives first
 * (clock skew between machines, partitions read at different speeds). A capture stays after
 * its first pair, because soak copies (`<id>~<n>`) pair with it again. When a map is full its
 * oldest entry leaves: a capture that never paired is reported missing (and counted as
 * evicted, so the user can raise --join-window), a waiting result is reported unpaired.
 * Result ids already seen are remembered in a bounded set, so a result written twice (a
 * worker restarted before committing) is counted once: the first one wins.
 * Baseline results (A/A: the same captures replayed to a second stable instance) and reference
 * results (stable asked at the same moment as the shadow) pair with their capture like any
 * other, but are told apart by `role`, have ids of their own, and never make a capture count
 * as answered.
 */
export type JoinEvent =
  | { type: 'pair'; capture: Capture; result: Result; role: ResultRole }
  | { type: 'missing'; capture: Capture; evicted: boolean }
  | { type: 'unpaired'; result: Result; timestampMs: number; role: ResultRole }
  | { type: 'duplicate'; result: Result; role: ResultRole };

export interface JoinOptions {
  /** Most captures, and separately most waiting results, held in memory. */
  joinWindow: number;
  /** Take records as they arrive instead of in time order (for tailing logs). */
  follow?: boolean;
  /** Tells A/A results (sent to the baseline target) from the candidate's; results with role `baseline` are A/A results anyway. */
  isBaseline?: (result: Result) => boolean;
}

/** The role a result plays in the join: the shadow's answer, an A/A baseline's, or the reference stable's. */
function roleOf(result: Result, isBaseline: (result: Result) => boolean): ResultRole {
  if (result.role === 'reference' || result.role === 'baseline') return result.role;
  return isBaseline(result) ? 'baseline' : 'shadow';
}

interface CaptureSlot {
  capture: Capture;
  paired: boolean;
}

type Head = { from: 'capture'; entry: LogEntry<Capture> } | { from: 'result'; entry: LogEntry<Result> } | { from: 'done' };

/** One stream of both logs' entries. */
async function* mergeLogs(
  captures: AsyncIterable<LogEntry<Capture>>,
  results: AsyncIterable<LogEntry<Result>>,
  follow: boolean,
): AsyncGenerator<Head> {
  const ci = captures[Symbol.asyncIterator]();
  const ri = results[Symbol.asyncIterator]();
  const nextCapture = () => ci.next().then((r) => (r.done ? ({ from: 'done' } as const) : ({ from: 'capture', entry: r.value } as const)));
  const nextResult = () => ri.next().then((r) => (r.done ? ({ from: 'done' } as const) : ({ from: 'result', entry: r.value } as const)));
  let c: Promise<Head> | undefined = nextCapture();
  let r: Promise<Head> | undefined = nextResult();
  try {
    while (c || r) {
      if (follow && c && r) {
        const first: readonly ['c' | 'r', Head] = await Promise.race([c.then((h) => ['c', h] as const), r.then((h) => ['r', h] as const)]);
        if (first[0] === 'c') c = first[1].from === 'done' ? undefined : nextCapture();
        else r = first[1].from === 'done' ? undefined : nextResult();
        if (first[1].from !== 'done') yield first[1];
        continue;
      }
      const [ch, rh] = await Promise.all([c, r]);
      if (ch?.from === 'done') c = undefined;
      if (rh?.from === 'done') r = undefined;
      const capture = ch?.from === 'capture' ? ch : undefined;
      const result = rh?.from === 'result' ? rh : undefined;
      if (capture && (!result || capture.entry.timestampMs <= result.entry.timestampMs)) {
        c = nextCapture();
        yield capture;
      } else if (result) {
        r = nextResult();
        yield result;
      }
    }
  } finally {
    await Promise.all([ci.return?.(), ri.return?.()]);
  }
}

export async function* joinPairs(
  captures: AsyncIterable<LogEntry<Capture>>,
  results: AsyncIterable<LogEntry<Result>>,
  options: JoinOptions,
): AsyncGenerator<JoinEvent> {
  const window = Math.max(1, options.joinWindow);
  const slots = new Map<string, CaptureSlot>();
  const waiting = new Map<string, Array<LogEntry<Result>>>();
  let waitingCount = 0;
  const seen = new Set<string>();
  const isBaseline = options.isBaseline ?? (() => false);

  const remember = (id: string): boolean => {
    if (seen.has(id)) return false;
    seen.add(id);
    if (seen.size > window * 2) seen.delete(seen.values().next().value!);
    return true;
  };

  for await (const head of mergeLogs(captures, results, options.follow ?? false)) {
    if (head.from === 'capture') {
      const capture = head.entry.value;
      if (slots.has(capture.id)) continue;
      const slot: CaptureSlot = { capture, paired: false };
      slots.set(capture.id, slot);
      const early = waiting.get(capture.id);
      if (early) {
        waiting.delete(capture.id);
        waitingCount -= early.length;
        for (const entry of early) {
          const role = roleOf(entry.value, isBaseline);
          if (role === 'shadow') slot.paired = true;
          yield { type: 'pair', capture, result: entry.value, role };
        }
      }
      if (slots.size > window) {
        const [oldestId, oldest] = slots.entries().next().value!;
        slots.delete(oldestId);
        if (!oldest.paired) yield { type: 'missing', capture: oldest.capture, evicted: true };
      }
    } else if (head.from === 'result') {
      const result = head.entry.value;
      const role = roleOf(result, isBaseline);
      // Each role's ids are counted once on their own: a reference may share its shadow result's id.
      if (!remember(role === 'shadow' ? result.id : `${role}\u0000${result.id}`)) {
        yield { type: 'duplicate', result, role };
        continue;
      }
      const slot = slots.get(result.captureId);
      if (slot) {
        if (role === 'shadow') slot.paired = true;
        yield { type: 'pair', capture: slot.capture, result, role };
        continue;
      }
      const list = waiting.get(result.captureId) ?? [];
      list.push(head.entry);
      waiting.set(result.captureId, list);
      if (++waitingCount > window) {
        const [oldestId, oldest] = waiting.entries().next().value!;
        const dropped = oldest.shift()!;
        waitingCount--;
        if (oldest.length === 0) waiting.delete(oldestId);
        yield { type: 'unpaired', result: dropped.value, timestampMs: dropped.timestampMs, role: roleOf(dropped.value, isBaseline) };
      }
    }
  }
  for (const slot of slots.values()) if (!slot.paired) yield { type: 'missing', capture: slot.capture, evicted: false };
  for (const list of waiting.values()) {
    for (const entry of list) yield { type: 'unpaired', result: entry.value, timestampMs: entry.timestampMs, role: roleOf(entry.value, isBaseline) };
  }
}
