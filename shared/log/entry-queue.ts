/** A fetch loop blocked on a full queue resumes once it has drained to this share. */
const resumeShare = 0.5;
/** How often a put blocked on a slow caller runs its `whileWaiting` (a group member heartbeats there). */
const whileWaitingEveryMs = 1000;

/**
 * What a read's fetch loops hand to its iterator (decoded entries, or record batches decoded as
 * they are taken). Bounded by bytes and by records (an item counts as the records it holds):
 * while it is full, the fetch loop waits, so a slow caller pauses fetching instead of filling
 * memory. A blocked fetch loop is woken only once the queue has drained to half, not after every
 * item taken, so a full queue costs no wake-up per item.
 */
export class EntryQueue<E> {
  private items: Array<E | undefined> = [];
  private sizes: number[] = [];
  private counts: number[] = [];
  private head = 0;
  private bytes = 0;
  private records = 0;
  private ended = false;
  private error: Error | undefined;
  private takers: Array<() => void> = [];
  private putters: Array<() => void> = [];

  constructor(private readonly limits: { bytes: number; entries: number }) {}

  get closed(): boolean {
    return this.ended;
  }

  private get length(): number {
    return this.items.length - this.head;
  }

  /** One item always fits, however large. */
  private get full(): boolean {
    return this.length > 0 && (this.bytes >= this.limits.bytes || this.records >= this.limits.entries);
  }

  /** Adds an item of `size` bytes and `count` records when there is room now; false (nothing added) when full or closed. */
  offer(entry: E, size: number, count = 1): boolean {
    if (this.ended || this.full) return false;
    this.items.push(entry);
    this.sizes.push(size);
    this.counts.push(count);
    this.bytes += size;
    this.records += count;
    if (this.takers.length > 0) wakeAll(this.takers.splice(0));
    return true;
  }

  /**
   * Adds an entry, waiting while full; `whileWaiting` runs every second of waiting. False, and
   * nothing added, once the queue is closed or `stillWanted` says the entry is outdated.
   */
  async put(entry: E, size: number, whileWaiting: () => Promise<void>, stillWanted: () => boolean, count = 1): Promise<boolean> {
    while (!this.ended && stillWanted() && this.full) {
      await this.changed(this.putters, whileWaitingEveryMs);
      if (!this.ended && stillWanted() && this.full) await whileWaiting();
    }
    if (!stillWanted()) return false;
    return this.offer(entry, size, count);
  }

  /** The next entry if one is queued. */
  poll(): E | undefined {
    if (this.length === 0) return undefined;
    const entry = this.items[this.head];
    this.items[this.head] = undefined;
    this.bytes -= this.sizes[this.head]!;
    this.records -= this.counts[this.head]!;
    this.head++;
    if (this.length === 0) {
      this.items = [];
      this.sizes = [];
      this.counts = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.counts = this.counts.slice(this.head);
      this.head = 0;
    }
    if (this.putters.length > 0 && this.records <= this.limits.entries * resumeShare && this.bytes <= this.limits.bytes * resumeShare) {
      wakeAll(this.putters.splice(0));
    }
    return entry;
  }

  /** The next entry, waiting for one; undefined once the queue is closed and drained. */
  async take(): Promise<E | undefined> {
    for (;;) {
      const entry = this.poll();
      if (entry !== undefined) return entry;
      if (this.error) throw this.error;
      if (this.ended) return undefined;
      await this.changed(this.takers);
    }
  }

  /** Drops the entries not taken yet. */
  clear(): void {
    this.items = [];
    this.sizes = [];
    this.counts = [];
    this.head = 0;
    this.bytes = 0;
    this.records = 0;
    wakeAll(this.putters.splice(0));
  }

  /** No more entries will be added; the ones queued are still taken. */
  close(): void {
    this.ended = true;
    wakeAll(this.putters.splice(0));
    wakeAll(this.takers.splice(0));
  }

  fail(error: Error): void {
    this.error ??= error;
    this.close();
  }

  private changed(waiters: Array<() => void>, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(resolve, timeoutMs);
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function wakeAll(waiters: Array<() => void>): void {
  for (const wake of waiters) wake();
}
