import type { LogEntry } from '../../shared/log/record-log.js';
import { resultKind } from '../../shared/log/record-log.js';
import type { Capture, Result } from '../../shared/records/types.js';
import type { CompareRules } from '../compare-pair.js';
import type { NoiseThresholds } from '../field-calibration.js';
import { PairJoin, type JoinEvent, type JoinOptions } from '../pair-join.js';
import type { PairRecord } from '../pair-record.js';
import { ReferencePairing, type ReferencedEvent, type ReferenceOptions } from '../reference-pairing.js';
import type { RoutePattern } from '../route-template.js';
import { createPairJudge, judgeBaseline } from '../run-diff.js';
import { addOutcome, newSummary, summaryFromJson, summaryToJson, type DiffSummary, type SummaryLimits } from '../summary.js';

/** What every partition of a worker judges with: the same for every worker of a group. */
export interface PairingContext {
  rules: CompareRules;
  patterns: readonly RoutePattern[];
  join: JoinOptions;
  references: ReferenceOptions;
  limits: Partial<SummaryLimits>;
  /** What the report needs besides the summaries; kept in each snapshot so `shadowtap report` builds what one diff would. */
  settings: ReportSettings;
}

export interface ReportSettings {
  fromMs?: number;
  baselineTarget?: string;
  noiseThresholds?: NoiseThresholds;
  /** Partial summaries are kept per slice of capture time this long: `shadowtap report --from/--to` cuts windows on slice bounds. */
  sliceMs: number;
}

/** Partial summaries by the start of their slice of time, ms. */
export type Slices = Map<number, DiffSummary>;

/**
 * A partition's state as stored by its group's backend. The join buffer is kept as offsets, not
 * records (a join window of captures would be far too large for one Kafka record): a worker
 * taking the partition over reads those records again from the captures and results logs.
 */
export interface PartitionSnapshot {
  version: 2;
  partition: number;
  /** Next offsets to read: everything before them is in this state. */
  next: { captures: number; results: number };
  join: { captures: Array<[offset: number, paired: 0 | 1]>; results: number[]; seen: string[] };
  /** Shadow results waiting for their reference (replay --reference) as [capture offset, result offset], references waiting for their shadow result, and the partition's latest send time. */
  references: { shadows: Array<[capture: number, result: number]>; references: number[]; seenReference: boolean; clock: number };
  /** Pairs judged so far, by slice of capture time (a result without capture: of its send time). */
  slices: Array<[startMs: number, summary: unknown]>;
  /** What the end of the logs would add now (captures still unanswered, results never paired), by slice: what one diff ending here reports too. */
  tail: Array<[startMs: number, summary: unknown]>;
  settings: ReportSettings;
}

/** A verdict judged since the last commit, and the time it belongs to. */
export interface PendingVerdict {
  record: PairRecord;
  timeMs: number;
}

export type LogSide = 'captures' | 'results';

/** The records a snapshot names by offset, read again from the logs. */
export interface RereadRecords {
  captures: Map<number, LogEntry<Capture>>;
  results: Map<number, LogEntry<Result>>;
}

/**
 * One partition's join, reference pairing and partial summaries, fed records in offset order;
 * snapshot() hands over the state with the offsets it covers and the verdicts judged since the
 * last one.
 */
export class PartitionState {
  readonly next: { captures: number; results: number };
  private readonly join: PairJoin;
  private readonly pairing: ReferencePairing;
  private readonly slices: Slices;
  private readonly judge: ReturnType<typeof createPairJudge>;
  /** Where each record held in the join or the pairing sits, so a snapshot names it by offset. */
  private readonly offsets = new WeakMap<Capture | Result, number>();
  private pending: PendingVerdict[] = [];
  private changed = false;
  /** Dead letters have no time of their own: they go to the slice of the last record read. */
  private lastSliceMs = 0;

  constructor(
    readonly partition: number,
    private readonly context: PairingContext,
    restored?: { snapshot: PartitionSnapshot } & RereadRecords,
  ) {
    this.judge = createPairJudge(context.rules, context.patterns);
    if (!restored) {
      this.next = { captures: 0, results: 0 };
      this.join = new PairJoin(context.join);
      this.pairing = new ReferencePairing(context.references);
      this.slices = new Map();
      return;
    }
    const { snapshot, captures, results } = restored;
    for (const entry of [...captures.values(), ...results.values()]) this.offsets.set(entry.value, entry.position.offset);
    this.next = { ...snapshot.next };
    this.slices = slicesFromJson(snapshot.slices);
    this.join = new PairJoin(context.join, {
      captures: snapshot.join.captures.flatMap(([offset, paired]) => {
        const entry = captures.get(offset);
        return entry ? [{ entry, paired: paired === 1 }] : [];
      }),
      results: snapshot.join.results.flatMap((offset) => results.get(offset) ?? []),
      seen: snapshot.join.seen,
    });
    const held = snapshot.references;
    this.pairing = new ReferencePairing(context.references, {
      shadows: held.shadows.flatMap(([c, r]) => {
        const capture = captures.get(c)?.value;
        const result = results.get(r)?.value;
        return capture && result ? [{ capture, result, partition }] : [];
      }),
      references: held.references.flatMap((offset) => {
        const result = results.get(offset)?.value;
        return result ? [{ result, partition }] : [];
      }),
      seenReference: held.seenReference,
      clocks: [[partition, held.clock]],
    });
  }

  /** Whether anything was read since the last snapshot. */
  get dirty(): boolean {
    return this.changed;
  }

  addCapture(entry: LogEntry<Capture>): void {
    this.offsets.set(entry.value, entry.position.offset);
    this.lastSliceMs = this.captureSlice(entry.value);
    for (const event of this.join.addCapture(entry)) this.take(event);
    this.next.captures = entry.position.offset + 1;
    this.changed = true;
  }

  addResult(entry: LogEntry<Result>): void {
    this.offsets.set(entry.value, entry.position.offset);
    this.lastSliceMs = this.resultSlice(entry.value);
    for (const event of this.join.addResult(entry)) this.take(event);
    this.next.results = entry.position.offset + 1;
    this.changed = true;
  }

  /** A record that could not be decoded (moved to the dead letters by the backend). */
  skip(side: LogSide, offset: number): void {
    this.summaryAt(this.lastSliceMs).deadLetters++;
    this.next[side] = offset + 1;
    this.changed = true;
  }

  /** The state as it is now, and the verdicts judged since the last snapshot (handed over once). */
  snapshot(): { snapshot: PartitionSnapshot; verdicts: PendingVerdict[] } {
    const buffer = this.join.buffer();
    const references = this.pairing.buffer();
    const tail: Slices = new Map();
    const count = (event: JoinEvent | ReferencedEvent) => {
      if (event.type === 'missing') addOutcome(summaryIn(tail, this.captureSlice(event.capture), this.context.limits), this.judge(event.capture, null).outcome);
      else if (event.type === 'unpaired' && event.role === 'shadow') summaryIn(tail, this.resultSlice(event.result), this.context.limits).unpaired++;
      else if (event.type === 'pair' && event.role === 'shadow') addOutcome(summaryIn(tail, this.captureSlice(event.capture), this.context.limits), this.judge(event.capture, event.result, null).outcome);
      else if (event.type === 'unmatched-reference') summaryIn(tail, this.resultSlice(event.result), this.context.limits).unmatchedReferences++;
    };
    for (const event of this.join.atEnd()) count(event);
    for (const event of this.pairing.pendingAtEnd()) count(event);
    const verdicts = this.pending;
    this.pending = [];
    this.changed = false;
    const offset = (record: Capture | Result) => this.offsets.get(record)!;
    return {
      snapshot: {
        version: 2,
        partition: this.partition,
        next: { ...this.next },
        join: {
          captures: buffer.captures.map(({ entry, paired }) => [entry.position.offset, paired ? 1 : 0]),
          results: buffer.results.map((entry) => entry.position.offset),
          seen: buffer.seen,
        },
        references: {
          shadows: references.shadows.map(({ capture, result }) => [offset(capture), offset(result)]),
          references: references.references.map(({ result }) => offset(result)),
          seenReference: references.seenReference,
          clock: references.clocks.find(([p]) => p === this.partition)?.[1] ?? 0,
        },
        slices: slicesToJson(this.slices),
        tail: slicesToJson(tail),
        settings: this.context.settings,
      },
      verdicts,
    };
  }

  private sliceOf(ms: number): number {
    return Math.floor(ms / this.context.settings.sliceMs) * this.context.settings.sliceMs;
  }

  /** A pair's slice: its capture's time (what diff --from/--to select by). */
  private captureSlice(capture: Capture): number {
    return this.sliceOf(Math.floor(capture.captureTime / 1000));
  }

  /** A result without its capture: its own send time (the record's, not a log's append time). */
  private resultSlice(result: Result): number {
    return this.sliceOf(resultKind.timestampMs(result));
  }

  private summaryAt(sliceMs: number): DiffSummary {
    return summaryIn(this.slices, sliceMs, this.context.limits);
  }

  /** Counts one join event as summarizeDiff does for a single diff, in the slice of its capture's time. */
  private take(joined: JoinEvent): void {
    for (const event of this.pairing.add(joined)) {
      if (event.type === 'duplicate') {
        if (event.role === 'shadow') this.summaryAt(this.resultSlice(event.result)).duplicates++;
      } else if (event.type === 'unpaired') {
        if (event.role === 'shadow') this.summaryAt(this.resultSlice(event.result)).unpaired++;
      } else if (event.type === 'unmatched-reference') this.summaryAt(this.resultSlice(event.result)).unmatchedReferences++;
      else if (event.type === 'pair' && event.role === 'baseline') judgeBaseline(this.summaryAt(this.captureSlice(event.capture)), this.context.rules, this.context.patterns, event.capture, event.result);
      else {
        const summary = this.summaryAt(this.captureSlice(event.capture));
        if (event.type === 'missing' && event.evicted) summary.evicted++;
        const judged = event.type === 'pair' ? this.judge(event.capture, event.result, event.reference) : this.judge(event.capture, null);
        addOutcome(summary, judged.outcome);
        this.pending.push({ record: judged.record(), timeMs: judged.outcome.timeMs });
      }
    }
  }
}

function summaryIn(slices: Slices, sliceMs: number, limits: Partial<SummaryLimits>): DiffSummary {
  let summary = slices.get(sliceMs);
  if (!summary) {
    summary = newSummary(limits);
    slices.set(sliceMs, summary);
  }
  return summary;
}

const slicesToJson = (slices: Slices): Array<[number, unknown]> => [...slices].map(([startMs, summary]) => [startMs, summaryToJson(summary)]);
export const slicesFromJson = (json: Array<[number, unknown]>): Slices => new Map(json.map(([startMs, summary]) => [startMs, summaryFromJson(summary)]));

/** Offsets a taken-over partition must read again to rebuild its join and pairing: from the oldest record they hold up to `next`. */
export function rereadRanges(snapshot: PartitionSnapshot): { captures?: { start: number; end: number }; results?: { start: number; end: number } } {
  const held = snapshot.references;
  const captures = [...snapshot.join.captures.map(([offset]) => offset), ...held.shadows.map(([capture]) => capture)];
  const results = [...snapshot.join.results, ...held.shadows.map(([, result]) => result), ...held.references];
  const range = (offsets: number[], end: number) => (offsets.length > 0 ? { start: offsets.reduce((a, b) => Math.min(a, b)), end } : undefined);
  const c = range(captures, snapshot.next.captures);
  const r = range(results, snapshot.next.results);
  return { ...(c && { captures: c }), ...(r && { results: r }) };
}
