import type { RecordLog } from '../shared/log/record-log.js';
import type { Result } from '../shared/records/types.js';

export interface ResultWriterOptions {
  /** Results per append. */
  maxBatch: number;
  /** How long a partial batch waits for more before it is written. */
  lingerMs: number;
}

/**
 * Appends Results in batches, one append at a time, and calls `afterWrite` with each batch once
 * it is durable: the place where commits happen, so a position is never committed before its Result.
 */
export class ResultWriter {
  private pending: Result[] = [];
  private writing = 0;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** The first append or commit failure; the worker stops on it. */
  failure: Error | undefined;

  constructor(
    private readonly sink: Pick<RecordLog<Result>, 'append'>,
    private readonly afterWrite: (batch: Result[]) => Promise<void>,
    private readonly options: ResultWriterOptions = { maxBatch: 500, lingerMs: 20 },
  ) {}

  /** Results accepted and not yet written. */
  get backlog(): number {
    return this.pending.length + this.writing;
  }

  add(result: Result): void {
    this.pending.push(result);
    if (this.pending.length >= this.options.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.options.lingerMs);
  }

  /** Writes everything accepted so far. */
  flush(): Promise<void> {
    this.kick();
    return this.chain;
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.writing += batch.length;
    this.chain = this.chain.then(async () => {
      try {
        if (!this.failure) {
          await this.sink.append(batch);
          await this.afterWrite(batch);
        }
      } catch (error) {
        this.failure ??= error as Error;
      } finally {
        this.writing -= batch.length;
      }
    });
  }
}
