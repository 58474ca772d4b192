import type { LogEntry, Position } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { CommitTracker } from './commit-tracker.js';
import type { ReplayObserver } from './replay-observer.js';
import type { CaptureSource, ResultSink } from './replay-options.js';
import type { ReplayStats } from './replay-stats.js';
import { ResultWriter, resultWriterDefaults } from './result-writer.js';

export interface ReplaySinkOptions {
  results: ResultSink;
  source: CaptureSource;
  /** Commit positions for this group once their Results are written; undefined: no commits. */
  group: string | undefined;
  stats: ReplayStats;
  observers: ReplayObserver[];
  onResult?: (result: Result, entry: LogEntry<Capture>) => void;
  onWarning?: (message: string) => void;
}

/**
 * Positions are committed at most this often (and once more when the run ends): each commit is a
 * file written and renamed (file log) or a round trip (Kafka), and one per batch of Results cost
 * the worker more than the batch's own append. A worker killed between two commits replays at
 * most this much more on restart, as it does for the Results of batches still in flight.
 */
const commitIntervalMs = 200;

/**
 * The end of the chain: Results go to the log in batches (result-writer.ts), and a capture's
 * position is committed only once all its Results are written (commit-tracker.ts).
 */
export class ReplaySink {
  private readonly writer: ResultWriter;
  private readonly tracker: CommitTracker | undefined;
  /** The commit loop while it runs; it ends when no written Result waits for a commit. */
  private committing: Promise<void> | undefined;
  private commitWanted = false;
  private lastCommitMs = -Infinity;
  /** Ends the wait for the next commit (the run is ending). */
  private commitNow: (() => void) | undefined;
  private ending = false;

  constructor(private readonly options: ReplaySinkOptions) {
    const tracker = options.group === undefined ? undefined : new CommitTracker();
    this.tracker = tracker;
    this.writer = new ResultWriter(options.results, async (batch) => {
      if (!tracker) return;
      for (const result of batch) tracker.written(result.source);
      this.commitWanted = true;
      this.committing ??= this.commitWhileWanted().finally(() => (this.committing = undefined));
    });
  }

  /** Commits what is committable, then again while more Results were written meanwhile, at most every commitIntervalMs. */
  private async commitWhileWanted(): Promise<void> {
    const { source, group, stats } = this.options;
    while (this.commitWanted) {
      const waitMs = this.lastCommitMs + commitIntervalMs - performance.now();
      if (waitMs > 0 && !this.ending) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          this.commitNow = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.commitNow = undefined;
      }
      this.commitWanted = false;
      this.lastCommitMs = performance.now();
      const positions = this.tracker!.takeCommittable();
      if (positions.length === 0) continue;
      try {
        await source.commit(group!, positions);
      } catch (error) {
        // Not fatal: the Results are written, and the next commit covers these positions too; at
        // worst a restart replays them again (a consumer group rebalance can refuse a commit).
        stats.commitFailed();
        this.options.onWarning?.(`commit for group ${group} failed, continuing: ${(error as Error).message}`);
      }
    }
  }

  /** Results accepted and not yet written that the source waits below: memory stays bounded when the log is slower than the shadow. */
  static backlogLimit(concurrency: number): number {
    return 4 * concurrency + resultWriterDefaults.maxInFlight * resultWriterDefaults.maxBatch;
  }

  /** A capture was read; `results` Results must be written before its position commits. */
  track(position: Position, results: number): void {
    this.tracker?.track(position, results);
  }

  /** One more Result is due for the capture at `position` (a peer's); call it before the target's Result is written. */
  expect(position: Position): void {
    this.tracker?.expectMore(position);
  }

  /** The target's Result: observed, told to onResult, written. */
  record(result: Result, entry: LogEntry<Capture>): void {
    for (const observer of this.options.observers) observer.result(result);
    this.options.onResult?.(result, entry);
    this.writer.add(result);
  }

  /** A peer's Result (reference, baseline), counted apart by its own step. */
  add(result: Result): void {
    this.writer.add(result);
  }

  belowBacklog(limit: number): Promise<void> {
    return this.writer.belowBacklog(limit);
  }

  /** Writes every Result accepted and commits what they complete. */
  async flush(): Promise<void> {
    await this.writer.flush();
    this.ending = true;
    this.commitNow?.();
    await this.committing;
  }

  /** The first write or commit failure: the run stops on it. */
  get failure(): Error | undefined {
    return this.writer.failure;
  }
}
