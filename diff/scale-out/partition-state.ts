import type { LogEntry } from '../../shared/log/record-log.js';
import type { Capture, Result } from '../../shared/records/types.js';
import type { CompareRules } from '../compare-pair.js';
import type { NoiseThresholds } from '../field-calibration.js';
import { PairJoin, type JoinEvent, type JoinOptions } from '../pair-join.js';
import type { PairRecord } from '../pair-record.js';
import type { RoutePattern } from '../route-template.js';
import { createPairJudge, judgeBaseline } from '../run-diff.js';
import { addOutcome, newSummary, summaryFromJson, summaryToJson, type DiffSummary, type SummaryLimits } from '../summary.js';

/** What every partition of a worker judges with: the same for every worker of a group. */
export interface PairingContext {
  rules: CompareRules;
  patterns: readonly RoutePattern[];
  join: JoinOptions;
  limits: Partial<SummaryLimits>;
  /** What the report needs besides the summary; kept in each snapshot so `shadowtap report` builds what one diff would. */
  settings: ReportSettings;
  /** Told once per reference result met (replay --reference); group workers judge without references. */
  onReference(): void;
}

export interface ReportSettings {
  fromMs?: number;
  baselineTarget?: string;
  noiseThresholds?: NoiseThresholds;
}

/**
 * A partition's state as stored in the state topic. The join buffer is kept as offsets, not
 * records (a join window of captures would be far too large for one Kafka record): a worker
 * taking the partition over reads those records again from the captures and results topics.
 */
export interface PartitionSnapshot {
  version: 1;
  partition: number;
  /** Next offsets to read: everything before them is in this state. */
  next: { captures: number; results: number };
  join: { captures: Array<[offset: number, paired: 0 | 1]>; results: number[]; seen: string[] };
  /** Pairs judged so far. */
  summary: unknown;
  /** What the end of the logs would add now (captures still unanswered, results never paired): what one diff ending here reports too. */
  tail: unknown;
  settings: ReportSettings;
}

/** A verdict judged since the last commit, and the time it belongs to. */
export interface PendingVerdict {
  record: PairRecord;
  timeMs: number;
}

/**
 * One partition's join and partial summary, fed records in offset order; snapshot() hands over
 * the state with the offsets it covers and the verdicts judged since the last one.
 */
export class PartitionState {
  readonly next: { captures: number; results: number };
  private readonly join: PairJoin;
  private readonly summary: DiffSummary;
  private readonly judge: ReturnType<typeof createPairJudge>;
  private pending: PendingVerdict[] = [];
  private changed = false;

  constructor(
    readonly partition: number,
    private readonly context: PairingContext,
    restored?: { snapshot: PartitionSnapshot; captures: Map<number, LogEntry<Capture>>; results: Map<number, LogEntry<Result>> },
  ) {
    this.judge = createPairJudge(context.rules, context.patterns);
    if (!restored) {
      this.next = { captures: 0, results: 0 };
      this.join = new PairJoin(context.join);
      this.summary = newSummary(context.limits);
      return;
    }
    const { snapshot, captures, results } = restored;
    this.next = { ...snapshot.next };
    this.summary = summaryFromJson(snapshot.summary);
    this.join = new PairJoin(context.join, {
      captures: snapshot.join.captures.flatMap(([offset, paired]) => {
        const entry = captures.get(offset);
        return entry ? [{ entry, paired: paired === 1 }] : [];
      }),
      results: snapshot.join.results.flatMap((offset) => results.get(offset) ?? []),
      seen: snapshot.join.seen,
    });
  }

  /** Whether anything was read since the last snapshot. */
  get dirty(): boolean {
    return this.changed;
  }

  addCapture(entry: LogEntry<Capture>): void {
    for (const event of this.join.addCapture(entry)) this.take(event);
    this.next.captures = entry.position.offset + 1;
    this.changed = true;
  }

  addResult(entry: LogEntry<Result>): void {
    for (const event of this.join.addResult(entry)) this.take(event);
    this.next.results = entry.position.offset + 1;
    this.changed = true;
  }

  /** A record that could not be decoded (moved to the dead-letter topic in the same transaction). */
  skip(topic: 'captures' | 'results', offset: number): void {
    this.summary.deadLetters++;
    this.next[topic] = offset + 1;
    this.changed = true;
  }

  /** The state as it is now, and the verdicts judged since the last snapshot (handed over once). */
  snapshot(): { snapshot: PartitionSnapshot; verdicts: PendingVerdict[] } {
    const buffer = this.join.buffer();
    const tail = newSummary(this.context.limits);
    for (const event of this.join.atEnd()) {
      if (event.type === 'missing') addOutcome(tail, this.judge(event.capture, null).outcome);
      else if (event.type === 'unpaired' && event.role === 'shadow') tail.unpaired++;
    }
    const verdicts = this.pending;
    this.pending = [];
    this.changed = false;
    return {
      snapshot: {
        version: 1,
        partition: this.partition,
        next: { ...this.next },
        join: {
          captures: buffer.captures.map(({ entry, paired }) => [entry.position.offset, paired ? 1 : 0]),
          results: buffer.results.map((entry) => entry.position.offset),
          seen: buffer.seen,
        },
        summary: summaryToJson(this.summary),
        tail: summaryToJson(tail),
        settings: this.context.settings,
      },
      verdicts,
    };
  }

  /** Counts one join event as summarizeDiff does for a single diff. */
  private take(event: JoinEvent): void {
    const summary = this.summary;
    if (event.type === 'duplicate') {
      if (event.role === 'shadow') summary.duplicates++;
    } else if (event.type === 'unpaired') {
      if (event.role === 'shadow') summary.unpaired++;
    } else if (event.type === 'pair' && event.role === 'baseline') judgeBaseline(summary, this.context.rules, this.context.patterns, event.capture, event.result);
    else if (event.type === 'pair' && event.role === 'reference') {
      summary.unmatchedReferences++;
      this.context.onReference();
    } else {
      if (event.type === 'missing' && event.evicted) summary.evicted++;
      const judged = event.type === 'pair' ? this.judge(event.capture, event.result) : this.judge(event.capture, null);
      addOutcome(summary, judged.outcome);
      this.pending.push({ record: judged.record(), timeMs: judged.outcome.timeMs });
    }
  }
}

/** Offsets a taken-over partition must read again to rebuild its join buffer: from the oldest buffered record up to `next`. */
export function rereadRanges(snapshot: PartitionSnapshot): { captures?: { start: number; end: number }; results?: { start: number; end: number } } {
  const captures = snapshot.join.captures.map(([offset]) => offset);
  const results = snapshot.join.results;
  return {
    ...(captures.length > 0 && { captures: { start: captures.reduce((a, b) => Math.min(a, b)), end: snapshot.next.captures } }),
    ...(results.length > 0 && { results: { start: results.reduce((a, b) => Math.min(a, b)), end: snapshot.next.results } }),
  };
}
