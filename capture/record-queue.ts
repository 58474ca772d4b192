import type { ResolvedQueue } from './capture-options.js';
import type { DiskSpool } from './disk-spool.js';

export type DropReason = 'memory-full' | 'spool-full' | 'shutdown';

export interface QueueEvents {
  onDelivered(count: number): void;
  onSpooled(count: number): void;
  onDropped(count: number, reason: DropReason): void;
  /** An append failed; it is retried with backoff. */
  onSinkError(error: Error): void;
  /** An append succeeded after failures. */
  onSinkRecovered(): void;
}

interface Sink<T> {
  append(records: T[]): Promise<void>;
}

interface Batch<T> {
  records: T[];
  ack(): Promise<void> | void;
}

/**
 * Takes records off the user's path and appends them to the log in batches, one append at a time.
 * Memory is bounded in bytes; beyond it records go to the disk spool, and while the spool holds
 * anything new records follow them there, so the log receives records in the order they came.
 * Beyond both bounds a record is dropped and reported.
 */
export class RecordQueue<T> {
  private readonly memory: { record: T; bytes: number }[] = [];
  private memBytes = 0;
  private running = false;
  private failing = false;
  private stopped = false;
  private closing = false;
  private wakeUp: (() => void) | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly sink: Sink<T>,
    private readonly sizeOf: (record: T) => number,
    private readonly options: ResolvedQueue,
    private readonly spool: DiskSpool<T> | null,
    private readonly events: QueueEvents,
  ) {
    // Records a previous run left in the spool are delivered without waiting for new traffic.
    void spool?.ready().then(() => this.kick());
  }

  get memoryBytes(): number {
    return this.memBytes;
  }

  get spoolBytes(): number {
    return this.spool?.bytes ?? 0;
  }

  push(record: T): 'memory' | 'spool' | 'dropped' {
    if (this.stopped) {
      this.events.onDropped(1, 'shutdown');
      return 'dropped';
    }
    const bytes = this.sizeOf(record);
    const memoryHasRoom = this.memBytes + bytes <= this.options.memoryBytes;
    const spoolHolds = this.spool !== null && !this.spool.isEmpty;
    if (!memoryHasRoom || spoolHolds) {
      if (this.spool?.write(record)) {
        this.events.onSpooled(1);
        this.kick();
        return 'spool';
      }
      // A full spool with room in memory: keeping the record beats keeping strict order.
      if (!memoryHasRoom) {
        this.events.onDropped(1, this.spool ? 'spool-full' : 'memory-full');
        return 'dropped';
      }
    }
    this.memory.push({ record, bytes });
    this.memBytes += bytes;
    this.kick();
    return 'memory';
  }

  /**
   * Delivers what is queued until done or until `timeoutMs` passes. Then records still in memory
   * are put back in front of the spool (when there is one) so a restart delivers them; the rest
   * are reported as dropped. A batch whose append was still pending may so be delivered twice:
   * at least once is the promise, and the diff counts each id once.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.whenIdle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.stopped = true;
    this.wakeUp?.();
    const left = this.memory.splice(0).map((m) => m.record);
    this.memBytes = 0;
    const kept = this.spool && left.length > 0 ? await this.spool.putBack(left).catch(() => 0) : 0;
    if (kept > 0) this.events.onSpooled(kept);
    if (left.length > kept) this.events.onDropped(left.length - kept, 'shutdown');
    await this.spool?.close();
  }

  private whenIdle(): Promise<void> {
    if (this.isEmpty() && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isEmpty(): boolean {
    return this.memory.length === 0 && (this.spool?.isEmpty ?? true);
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    let backoff = this.options.retryMinMs;
    try {
      while (!this.stopped) {
        let batch: Batch<T> | null;
        try {
          batch = await this.nextBatch();
          if (!batch || this.stopped) break;
          await this.sink.append(batch.records);
        } catch (error) {
          this.failing = true;
          this.events.onSinkError(error as Error);
          await this.sleep(backoff);
          backoff = Math.min(backoff * 2, this.options.retryMaxMs);
          continue;
        }
        // Stopped meanwhile: close() already moved this batch to the spool.
        if (this.stopped) break;
        await batch.ack();
        this.events.onDelivered(batch.records.length);
        backoff = this.options.retryMinMs;
        if (this.failing) {
          this.failing = false;
          this.events.onSinkRecovered();
        }
      }
    } finally {
      this.running = false;
      if (this.isEmpty() || this.stopped) for (const resolve of this.idleWaiters.splice(0)) resolve();
      else this.kick();
    }
  }

  private async nextBatch(): Promise<Batch<T> | null> {
    if (this.memory.length > 0) {
      const taken = this.memory.slice(0, this.options.batchRecords);
      return {
        records: taken.map((m) => m.record),
        ack: () => {
          this.memory.splice(0, taken.length);
          for (const m of taken) this.memBytes -= m.bytes;
        },
      };
    }
    if (this.spool && !this.spool.isEmpty) {
      const batch = await this.spool.peek(this.options.batchRecords);
      return batch.records.length > 0 ? batch : null;
    }
    return null;
  }

  /** Waits before a retry; closing cuts the wait short so the deadline is kept. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
