import type { ErrorKind, Result } from '../shared/records/types.js';
import { LatencyHistogram, type Percentiles } from './latency-histogram.js';
import { latenessMicros, type ReplayObserver } from './replay-observer.js';

export interface ReplaySummary {
  /** Captures read from the log (before --amplify copies). */
  read: number;
  /** Requests that reached the network (a response or an error). */
  sent: number;
  responses: number;
  /** Responses by status class: 2xx, 3xx, 4xx, 5xx. */
  statusClasses: Record<string, number>;
  errors: Record<ErrorKind, number>;
  /** Results not sent, by reason (unsafe-method, truncated-body, dropped, ...). */
  skipped: Record<string, number>;
  /** Open-model sends that could not start on time (also in skipped.dropped). */
  dropped: number;
  deadLetters: number;
  circuitOpens: number;
  /** Commits the log refused; their captures may be replayed again after a restart. */
  commitFailures: number;
  durationMs: number;
  /**
   * Requests sent per second between the first and the last scheduled send, so start-up (log
   * open, first block read) and the drain at the end do not dilute it.
   */
  achievedRate: number;
  /** Actual minus scheduled send time, ms. */
  latenessMs: Percentiles;
  /** Send to end of the shadow's response body, ms. */
  shadowLatencyMs: Percentiles;
  /** Follow mode: now minus capture time when sending, ms. */
  lag: { lastMs: number; maxMs: number } | null;
  /** With --baseline: the A/A sends, counted apart from the target's (none of the figures above include them). */
  baseline: BaselineCounts | null;
  /** With --reference: the reference's sends, counted apart from the target's. */
  reference: ReferenceCounts | null;
}

export interface ReferenceCounts {
  sent: number;
  errors: number;
  /** Not sent to the stable reference although the target got them: unsafe methods. */
  skipped: number;
}

export interface BaselineCounts {
  sent: number;
  errors: number;
  /** Not sent because the baseline's own concurrency cap was full: it never holds back the target. */
  dropped: number;
}

/** Counters and histograms only, so memory stays flat however much traffic passes. */
export class ReplayStats implements ReplayObserver {
  private readonly startedAt = performance.now();
  private readCount = 0;
  private sentCount = 0;
  private responseCount = 0;
  private deadLetterCount = 0;
  private readonly statusClasses: Record<string, number> = {};
  private readonly errors: Record<ErrorKind, number> = { timeout: 0, refused: 0, reset: 0, tls: 0, other: 0 };
  private readonly skipped: Record<string, number> = {};
  private readonly lateness = new LatencyHistogram();
  private readonly latency = new LatencyHistogram();
  private firstScheduled = Infinity;
  private lastScheduled = -Infinity;
  private lastLag: number | undefined;
  private maxLag = 0;
  circuitOpens = 0;
  private commitFailures = 0;
  private baseline: BaselineCounts | null = null;
  private reference: ReferenceCounts | null = null;

  /** Counts the A/A baseline apart; a run without one reports `baseline: null`. */
  enableBaseline(): void {
    this.baseline ??= { sent: 0, errors: 0, dropped: 0 };
  }

  baselineResult(result: Result): void {
    if (!this.baseline) return;
    this.baseline.sent++;
    if (result.outcome === 'error') this.baseline.errors++;
  }

  enableReference(): void {
    this.reference ??= { sent: 0, errors: 0, skipped: 0 };
  }

  referenceResult(result: Result): void {
    if (!this.reference) return;
    if (result.outcome === 'skipped') this.reference.skipped++;
    else this.reference.sent++;
    if (result.outcome === 'error') this.reference.errors++;
  }

  baselineDropped(): void {
    if (this.baseline) this.baseline.dropped++;
  }

  captureRead(): void {
    this.readCount++;
  }

  deadLetter(): void {
    this.deadLetterCount++;
  }

  result(result: Result): void {
    if (result.outcome === 'skipped') {
      const reason = result.skipReason ?? 'unknown';
      this.skipped[reason] = (this.skipped[reason] ?? 0) + 1;
      return;
    }
    this.sentCount++;
    this.firstScheduled = Math.min(this.firstScheduled, result.scheduledTime);
    this.lastScheduled = Math.max(this.lastScheduled, result.scheduledTime);
    const late = latenessMicros(result);
    if (late !== null) this.lateness.recordMicros(late);
    if (result.outcome === 'error' && result.error) this.errors[result.error.kind]++;
    if (result.response) {
      this.responseCount++;
      const statusClass = `${Math.floor(result.response.status / 100)}xx`;
      this.statusClasses[statusClass] = (this.statusClasses[statusClass] ?? 0) + 1;
    }
    if (result.latencyMicros !== null) this.latency.recordMicros(result.latencyMicros);
  }

  lag(ms: number): void {
    this.lastLag = ms;
    this.maxLag = Math.max(this.maxLag, ms);
  }

  circuit(open: boolean): void {
    if (open) this.circuitOpens++;
  }

  commitFailed(): void {
    this.commitFailures++;
  }

  get elapsedMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  /** Counts for progress lines, cheap enough to call a few times a second. */
  get counts(): { read: number; sent: number; errors: number; skipped: number; dropped: number } {
    const errors = Object.values(this.errors).reduce((a, b) => a + b, 0);
    const skipped = Object.values(this.skipped).reduce((a, b) => a + b, 0);
    return { read: this.readCount, sent: this.sentCount, errors, skipped, dropped: this.skipped.dropped ?? 0 };
  }

  /** n sends scheduled over a span make n − 1 intervals; one send alone falls back to the run's duration. */
  private achievedRate(durationMs: number): number {
    const spanMicros = this.lastScheduled - this.firstScheduled;
    const perSecond = spanMicros > 0 ? ((this.sentCount - 1) / spanMicros) * 1e6 : durationMs > 0 ? (this.sentCount / durationMs) * 1000 : 0;
    return Math.round(perSecond * 10) / 10;
  }

  summary(): ReplaySummary {
    const durationMs = this.elapsedMs;
    return {
      read: this.readCount,
      sent: this.sentCount,
      responses: this.responseCount,
      statusClasses: { ...this.statusClasses },
      errors: { ...this.errors },
      skipped: { ...this.skipped },
      dropped: this.skipped.dropped ?? 0,
      deadLetters: this.deadLetterCount,
      circuitOpens: this.circuitOpens,
      commitFailures: this.commitFailures,
      durationMs,
      achievedRate: this.achievedRate(durationMs),
      latenessMs: this.lateness.percentilesMs(),
      shadowLatencyMs: this.latency.percentilesMs(),
      lag: this.lastLag === undefined ? null : { lastMs: this.lastLag, maxMs: this.maxLag },
      baseline: this.baseline && { ...this.baseline },
      reference: this.reference && { ...this.reference },
    };
  }
}
