/**
 * Records waiting to be appended to a log, taken as batches bounded in records and in bytes, and
 * the linger a partial batch waits for company. What the two appenders (capture's record queue,
 * replay's result writer) share; their policies stay with them: the queue's single append, retry
 * and spool, the writer's appends in flight and commits in order.
 */
export class BatchBuffer<T> {
  private waiting: T[] = [];
  private sizes: number[] = [];
  private waitingBytes = 0;
  /** When the oldest waiting record arrived; -Infinity when it has already waited through an append. */
  private oldest = 0;
  private lingering: Delay | null = null;

  constructor(private readonly limits: { records: number; bytes: number }) {}

  get length(): number {
    return this.waiting.length;
  }

  get bytes(): number {
    return this.waitingBytes;
  }

  /** Milliseconds the oldest waiting record has waited (Infinity once it waited through an append). */
  get age(): number {
    return performance.now() - this.oldest;
  }

  get full(): boolean {
    return this.waiting.length >= this.limits.records || this.waitingBytes >= this.limits.bytes;
  }

  push(record: T, bytes: number): void {
    if (this.waiting.length === 0) this.oldest = performance.now();
    this.waiting.push(record);
    this.sizes.push(bytes);
    this.waitingBytes += bytes;
    if (this.lingering && this.full) this.lingering.end();
  }

  /** The oldest records, up to the bounds but at least one (even one larger than a batch may be). */
  take(): { records: T[]; bytes: number } {
    let count = 0;
    let bytes = 0;
    const { records: maxRecords, bytes: maxBytes } = this.limits;
    while (count < this.waiting.length && count < maxRecords && (count === 0 || bytes + this.sizes[count]! <= maxBytes)) {
      bytes += this.sizes[count]!;
      count++;
    }
    this.sizes.splice(0, count);
    this.waitingBytes -= bytes;
    // What stays behind has waited at least as long as this append: it goes with the next one.
    this.oldest = -Infinity;
    return { records: this.waiting.splice(0, count), bytes };
  }

  /** Everything waiting, in order. */
  takeAll(): T[] {
    const all = this.waiting;
    this.waiting = [];
    this.sizes = [];
    this.waitingBytes = 0;
    return all;
  }

  /** Waits up to `ms` for the batch to fill; a full batch or endLinger() ends the wait. */
  async linger(ms: number): Promise<void> {
    const delay = (this.lingering = new Delay(ms));
    await delay.done;
    if (this.lingering === delay) this.lingering = null;
  }

  endLinger(): void {
    this.lingering?.end();
  }
}

/** A delay that can be cut short: a full batch ends a linger, closing ends a retry's backoff. */
export class Delay {
  readonly done: Promise<void>;
  private timer: NodeJS.Timeout | undefined;
  private resolve: (() => void) | undefined;

  /** `unref`: the delay alone does not keep the process alive. */
  constructor(ms: number, unref = false) {
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(resolve, ms);
      if (unref) this.timer.unref();
    });
  }

  end(): void {
    clearTimeout(this.timer);
    this.resolve?.();
  }
}
