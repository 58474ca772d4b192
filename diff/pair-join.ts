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
  | { type: 'pair'; capture: Capture; result: Result; role: ResultRole; /** The result's partition in its log. */ partition: number }
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
  /** Where the capture sits in its log, so a snapshot of the join can name it instead of holding it. */
  entry: LogEntry<Capture>;
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

/** What a join holds between records, in the order it holds them: enough to rebuild it after a restart. */
export interface JoinBuffer {
  captures: Array<{ entry: LogEntry<Capture>; paired: boolean }>;
  results: Array<LogEntry<Result>>;
  /** Result ids (and role-prefixed reference and baseline ids) already counted, oldest first. */
  seen: string[];
}

/**
 * The join's state, fed one record at a time: joinPairs drives it over two logs, and a diff
 * worker of a consumer group drives one per partition and snapshots it (buffer()) with the
 * offsets it covers.
 */
export class PairJoin {
  private readonly window: number;
  private readonly isBaseline: (result: Result) => boolean;
  private readonly slots = new Map<string, CaptureSlot>();
  private readonly waiting = new Map<string, Array<LogEntry<Result>>>();
  private waitingCount = 0;
  private readonly seen = new Set<string>();

  constructor(options: JoinOptions, restored?: JoinBuffer) {
    this.window = Math.max(1, options.joinWindow);
    this.isBaseline = options.isBaseline ?? (() => false);
    if (!restored) return;
    for (const id of restored.seen) this.seen.add(id);
    for (const { entry, paired } of restored.captures) this.slots.set(entry.value.id, { capture: entry.value, entry, paired });
    for (const entry of restored.results) this.wait(entry);
  }

  private remember(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > this.window * 2) this.seen.delete(this.seen.values().next().value!);
    return true;
  }

  private wait(entry: LogEntry<Result>): void {
    const list = this.waiting.get(entry.value.captureId) ?? [];
    list.push(entry);
    this.waiting.set(entry.value.captureId, list);
    this.waitingCount++;
  }

  *addCapture(entry: LogEntry<Capture>): Generator<JoinEvent> {
    const capture = entry.value;
    if (this.slots.has(capture.id)) return;
    const slot: CaptureSlot = { capture, entry, paired: false };
    this.slots.set(capture.id, slot);
    const early = this.waiting.get(capture.id);
    if (early) {
      this.waiting.delete(capture.id);
      this.waitingCount -= early.length;
      for (const waited of early) {
        const role = roleOf(waited.value, this.isBaseline);
        if (role === 'shadow') slot.paired = true;
        yield { type: 'pair', capture, result: waited.value, role, partition: waited.position.partition };
      }
    }
    if (this.slots.size > this.window) {
      const [oldestId, oldest] = this.slots.entries().next().value!;
      this.slots.delete(oldestId);
      if (!oldest.paired) yield { type: 'missing', capture: oldest.capture, evicted: true };
    }
  }

  *addResult(entry: LogEntry<Result>): Generator<JoinEvent> {
    const result = entry.value;
    const role = roleOf(result, this.isBaseline);
    // Each role's ids are counted once on their own: a reference may share its shadow result's id.
    if (!this.remember(role === 'shadow' ? result.id : `${role}\u0000${result.id}`)) {
      yield { type: 'duplicate', result, role };
      return;
    }
    const slot = this.slots.get(result.captureId);
    if (slot) {
      if (role === 'shadow') slot.paired = true;
      yield { type: 'pair', capture: slot.capture, result, role, partition: entry.position.partition };
      return;
    }
    this.wait(entry);
    if (this.waitingCount > this.window) {
      const [oldestId, oldest] = this.waiting.entries().next().value!;
      const dropped = oldest.shift()!;
      this.waitingCount--;
      if (oldest.length === 0) this.waiting.delete(oldestId);
      yield { type: 'unpaired', result: dropped.value, timestampMs: dropped.timestampMs, role: roleOf(dropped.value, this.isBaseline) };
    }
  }

  /** What the end of both logs would report now: captures never answered, results never paired. The state is left as it is. */
  *atEnd(): Generator<JoinEvent> {
    for (const slot of this.slots.values()) if (!slot.paired) yield { type: 'missing', capture: slot.capture, evicted: false };
    for (const list of this.waiting.values()) {
      for (const entry of list) yield { type: 'unpaired', result: entry.value, timestampMs: entry.timestampMs, role: roleOf(entry.value, this.isBaseline) };
    }
  }

  buffer(): JoinBuffer {
    return {
      captures: [...this.slots.values()].map(({ entry, paired }) => ({ entry, paired })),
      results: [...this.waiting.values()].flat(),
      seen: [...this.seen],
    };
  }
}

export async function* joinPairs(
  captures: AsyncIterable<LogEntry<Capture>>,
  results: AsyncIterable<LogEntry<Result>>,
  options: JoinOptions,
): AsyncGenerator<JoinEvent> {
  const join = new PairJoin(options);
  for await (const head of mergeLogs(captures, results, options.follow ?? false)) {
    if (head.from === 'capture') yield* join.addCapture(head.entry);
    else if (head.from === 'result') yield* join.addResult(head.entry);
  }
  yield* join.atEnd();
}
