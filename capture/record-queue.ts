import { BatchBuffer, Delay } from '../shared/log/batch-buffer.js';
import type { ResolvedQueue } from './capture-options.js';
import type { DiskSpool } from './disk-spool.js';

export type DropReason = 'memory-full' | 'spool-full' | 'shutdown';

export interface QueueEvents {
  onDelivered(count: number): void;
  onSpooled(count: number): void;
  onDropped(count: number, reason: DropReason): void;
  /** An append failed; the same batch is retried with backoff. */
  onSinkError(error: Error): void;
  /** An append succeeded after failures. */
  onSinkRecovered(): void;
}

/**
 * The smallest batch worth waiting `busyLingerMs` for. Each append has a fixed cost: measured with
 * the producer thread and 1.4 KB captures, the agent's CPU per record (every thread) was 72 µs in
 * batches of 22, 49 in batches of 50 and 25 in batches of 100 (file log: 14.4, 10.0, 8.4 µs), about
 * 0.85 ms a Kafka append; the broker's fell from 14 µs (30 a send) to 5 µs (100). So from about 250
 * records/s on (a batch of 5 within 20 ms) records wait for a batch four times larger than the
 * short linger makes: at 1,100 records/s that is batches of 22 instead of 6, 63 instead of 96–118
 * µs a record appended to Kafka.
 */
const BUSY_BATCH_RECORDS = 5;
const RATE_WINDOW_MS = 250;

interface Sink<T> {
  append(records: T[]): Promise<void>;
}

interface Batch<T> {
  records: T[];
  /** Taken from memory (else read from the spool). */
  fromMemory: boolean;
  ack(): Promise<void> | void;
}

/**
 * Takes records off the user's path and appends them to the log in batches, one append at a time.
 * A batch leaves as soon as the previous append is done, once it is full or its oldest record has
 * waited `lingerMs` (`busyLingerMs` under a sustained high rate), so a quiet agent delivers within
 * milliseconds and a busy one sends fewer, larger batches. A failed batch is retried as it was, record for record, so an idempotent
 * producer recognises a retry of a batch the log had in fact stored.
 * Memory is bounded in bytes; beyond it records go to the disk spool, and while the spool holds
 * anything new records follow them there, so the log receives records in the order they came.
 * Beyond both bounds a record is dropped and reported.
 */
export class RecordQueue<T> {
  private readonly waiting: BatchBuffer<T>;
  private memBytes = 0;
  private inflight: Batch<T> | null = null;
  private running = false;
  private failing = false;
  private stopped = false;
  private closing = false;
  /** The backoff before a retry; closing ends it. */
  private backingOff: Delay | null = null;
  private idleWaiters: (() => void)[] = [];
  /** Sustained arrival rate (records per ms), smoothed over windows of RATE_WINDOW_MS, so bursts do not count as load. */
  private ratePerMs = 0;
  private windowStart = performance.now();
  private windowArrivals = 0;

  constructor(
    private readonly sink: Sink<T>,
    private readonly sizeOf: (record: T) => number,
    private readonly options: ResolvedQueue,
    private readonly spool: DiskSpool<T> | null,
    private readonly events: QueueEvents,
  ) {
    this.waiting = new BatchBuffer({ records: options.batchRecords, bytes: options.batchBytes });
    // Records a previous run left in the spool are delivered without waiting for new traffic.
    void spool?.ready().then(() => this.kick());
  }

  get memoryBytes(): number {
    return this.memBytes;
  }

  get spoolBytes(): number {
    return this.spool?.bytes ?? 0;
  }

  /** Records held only in memory (waiting, or in an append under way): what a crash would lose. */
  get memoryRecords(): number {
    return this.waiting.length + (this.inflight?.fromMemory ? this.inflight.records.length : 0);
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
    this.noteArrival(performance.now());
    // A batch filled while it lingers leaves at once.
    this.waiting.push(record, bytes);
    this.memBytes += bytes;
    if (!this.running) this.kick();
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
    this.waiting.endLinger();
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.whenIdle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.stopped = true;
    this.backingOff?.end();
    const left = [...(this.inflight?.fromMemory ? this.inflight.records : []), ...this.waiting.takeAll()];
    this.inflight = null;
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
    return this.inflight === null && this.waiting.length === 0 && (this.spool?.isEmpty ?? true);
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
        try {
          this.inflight ??= await this.nextBatch();
          if (!this.inflight || this.stopped) break;
          await this.sink.append(this.inflight.records);
        } catch (error) {
          this.failing = true;
          this.events.onSinkError(error as Error);
          await this.backoff(backoff);
          backoff = Math.min(backoff * 2, this.options.retryMaxMs);
          continue;
        }
        // Stopped meanwhile: close() already moved this batch to the spool.
        if (this.stopped) break;
        const batch = this.inflight;
        this.inflight = null;
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
    if (this.waiting.length > 0) {
      const wait = this.lingerLeft();
      if (wait > 0 && !this.closing && !this.waiting.full) await this.waiting.linger(wait);
      if (this.stopped) return null;
      const { records, bytes } = this.waiting.take();
      return { records, fromMemory: true, ack: () => void (this.memBytes -= bytes) };
    }
    if (this.spool && !this.spool.isEmpty) {
      const batch = await this.spool.peek(this.options.batchRecords);
      return batch.records.length > 0 ? { ...batch, fromMemory: false } : null;
    }
    return null;
  }

  private noteArrival(now: number): void {
    this.windowArrivals++;
    const elapsed = now - this.windowStart;
    if (elapsed < RATE_WINDOW_MS) return;
    const fresh = this.windowArrivals / elapsed;
    // After a quiet spell the old rate says nothing any more.
    this.ratePerMs = elapsed > 4 * RATE_WINDOW_MS ? fresh : (this.ratePerMs + fresh) / 2;
    this.windowStart = now;
    this.windowArrivals = 0;
  }

  /**
   * How much longer the waiting records should wait for company: up to `lingerMs` after the
   * oldest arrived, or up to `busyLingerMs` while the sustained arrival rate fills a batch of
   * BUSY_BATCH_RECORDS within it (each append costs the log a fixed overhead, so a busy agent sends
   * fewer, larger ones, while a lightly loaded one keeps the short linger and its low lag).
   */
  private lingerLeft(): number {
    const { lingerMs, busyLingerMs } = this.options;
    const busy = lingerMs > 0 && this.ratePerMs * busyLingerMs >= BUSY_BATCH_RECORDS;
    return Math.max(0, (busy ? busyLingerMs : lingerMs) - this.waiting.age);
  }

  /** Waits before a retry; closing cuts the wait short so the deadline is kept. */
  private async backoff(ms: number): Promise<void> {
    const delay = (this.backingOff = new Delay(ms, true));
    await delay.done;
    this.backingOff = null;
  }
}
