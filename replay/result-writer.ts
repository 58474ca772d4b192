import { BatchBuffer } from '../shared/log/batch-buffer.js';
import type { RecordLog } from '../shared/log/record-log.js';
import type { Result } from '../shared/records/types.js';

export interface ResultWriterOptions {
  /** Results per append. */
  maxBatch: number;
  /** How long a partial batch waits for more before it is written. */
  lingerMs: number;
  /**
   * Appends in flight at once. Kafka answers an append with acks=all in tens of ms; one at a
   * time, that round trip capped the whole replay's rate.
   */
  maxInFlight: number;
}

export const resultWriterDefaults: ResultWriterOptions = { maxBatch: 500, lingerMs: 20, maxInFlight: 4 };

/**
 * Appends Results in batches, a few appends in flight, and calls `afterWrite` with each batch once
 * it is durable: the place where commits happen, so a position is never committed before its
 * Result. `afterWrite` calls run one at a time, in the order the appends finished, so commits
 * never overtake each other.
 */
export class ResultWriter {
  private readonly pending: BatchBuffer<Result>;
  private writing = 0;
  private inFlight = new Set<Promise<void>>();
  private afterWrites: Promise<void> = Promise.resolve();
  /** The linger of the partial batch; kick() ends it. */
  private lingering: Promise<void> | undefined;
  /** The first append or commit failure; the worker stops on it. */
  failure: Error | undefined;

  constructor(
    private readonly sink: Pick<RecordLog<Result>, 'append'>,
    private readonly afterWrite: (batch: Result[]) => Promise<void>,
    private readonly options: ResultWriterOptions = resultWriterDefaults,
  ) {
    this.pending = new BatchBuffer({ records: options.maxBatch, bytes: Infinity });
  }

  /** Results accepted and not yet written. */
  get backlog(): number {
    return this.pending.length + this.writing;
  }

  add(result: Result): void {
    this.pending.push(result, 0);
    this.schedule();
  }

  /** Resolves once the backlog is at most `limit` (or a write failed): back-pressure without draining everything. */
  async belowBacklog(limit: number): Promise<void> {
    if (this.backlog > limit) this.kick();
    while (this.backlog > limit && this.inFlight.size > 0 && !this.failure) await Promise.race(this.inFlight);
  }

  /** Writes everything accepted so far. */
  async flush(): Promise<void> {
    this.kick();
    while (this.inFlight.size > 0 || this.pending.length > 0) {
      await Promise.all(this.inFlight);
      this.kick();
    }
  }

  /** A full batch goes at once; a partial one after the linger time. */
  private schedule(): void {
    if (this.pending.full) this.kick();
    else if (this.pending.length > 0 && !this.lingering) {
      const linger: Promise<void> = (this.lingering = this.pending.linger(this.options.lingerMs).then(() => {
        // Not when kick() already ended it.
        if (this.lingering === linger) this.kick();
      }));
    }
  }

  private kick(): void {
    this.lingering = undefined;
    this.pending.endLinger();
    while (this.pending.length > 0 && this.inFlight.size < this.options.maxInFlight) {
      const batch = this.pending.take().records;
      this.writing += batch.length;
      const write = this.write(batch).finally(() => {
        this.inFlight.delete(write);
        this.writing -= batch.length;
        // Results that came while every slot was busy.
        this.schedule();
      });
      this.inFlight.add(write);
    }
  }

  private async write(batch: Result[]): Promise<void> {
    try {
      if (this.failure) return;
      await this.sink.append(batch);
    } catch (error) {
      this.failure ??= error as Error;
      return;
    }
    const after = this.afterWrites.then(async () => {
      try {
        if (!this.failure) await this.afterWrite(batch);
      } catch (error) {
        this.failure ??= error as Error;
      }
    });
    this.afterWrites = after;
    await after;
  }
}
