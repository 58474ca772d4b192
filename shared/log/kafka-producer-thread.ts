import { Worker } from 'node:worker_threads';
import type { ProducerThreadConfig, SendReply, SendRequest } from './kafka-produce-protocol.js';

/**
 * The producer thread's young generation, in MiB. V8's default (48 MiB for a 64-bit heap) lets
 * the thread's short-lived produce buffers reach 32 MiB of new space before a scavenge: a
 * replay writing Results peaked 24 MiB higher in RSS for it (277 vs 247 MiB with 6 MiB, 200,000
 * Results). What the thread keeps alive is a batch or two, so a small one costs little CPU.
 */
const producerThreadYoungGenerationMb = 8;
/** How long close() lets the thread disconnect its producer before ending it. */
const closeTimeoutMs = 5000;

/**
 * How a batch's records become Kafka messages: the key and the value written in place. (Kafka's
 * timestamp is the time of the send: retention counts from it, so a record appended today is
 * never taken for an old one; the record's own time is inside it.)
 */
export interface RecordWriter<T> {
  key(record: T): string;
  /** Writes the value into `target` at `offset`; returns the end offset, or a negative number when `target` is too small. */
  writeValue(record: T, target: Buffer, offset: number): number;
}

/** A failed send, as the producer thread described it; `retriable` says whether the broker may come back. */
export class ProducerThreadError extends Error {
  readonly retriable: boolean;

  constructor(message: string, name: string, retriable: boolean) {
    super(message);
    this.name = name;
    this.retriable = retriable;
  }
}

/**
 * The main thread's handle on the producer thread: packs a batch of encoded records into one
 * buffer, transfers it, and resolves when the broker acknowledged it. The thread is started on
 * the first send and keeps the process alive only while a send is pending.
 */
export class ProducerThread {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(): void; reject(error: Error): void }>();

  constructor(private readonly config: ProducerThreadConfig) {}

  /** Bytes per record of the last batch: the next batch's buffer starts about that large and rarely grows. */
  private bytesPerRecord = 2048;

  /**
   * Encodes the records straight into one buffer (no buffer per record, no copy) and transfers it.
   * A buffer of its own, never one from Buffer's shared pool: transferring detaches it.
   */
  send<T>(records: readonly T[], writer: RecordWriter<T>): Promise<void> {
    const count = records.length;
    let bytes = Buffer.allocUnsafeSlow(Math.ceil(count * this.bytesPerRecord * 1.25) + 1024);
    const grow = (needed: number) => {
      const larger = Buffer.allocUnsafeSlow(Math.max(2 * bytes.length, needed));
      bytes.copy(larger, 0, 0, offset);
      bytes = larger;
    };
    const bounds = new Uint32Array(2 * count + 1);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const record = records[i];
      const key = writer.key(record);
      const keyBytes = Buffer.byteLength(key);
      if (offset + keyBytes > bytes.length) grow(offset + keyBytes);
      bounds[2 * i] = offset;
      offset += bytes.write(key, offset);
      bounds[2 * i + 1] = offset;
      let end = writer.writeValue(record, bytes, offset);
      if (end < 0) {
        grow(bytes.length - end);
        end = writer.writeValue(record, bytes, offset);
      }
      offset = end;
    }
    bounds[2 * count] = offset;
    this.bytesPerRecord = Math.max(64, Math.ceil(offset / Math.max(1, count)));
    const id = this.nextId++;
    const request: SendRequest = { type: 'send', id, bytes: bytes.buffer as ArrayBuffer, bounds };
    const sent = new Promise<void>((resolve, reject) => {
      const worker = this.started();
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage(request, [request.bytes, bounds.buffer]);
    });
    const settled = sent.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return sent;
  }

  /** Sends still waiting for the broker's answer, settled or not. */
  private readonly inFlight = new Set<Promise<void>>();

  /**
   * Lets the sends in flight finish (an append before close is not lost to the close), then ends
   * the thread; each step bounded by closeTimeoutMs, so a broker that is away never holds a shutdown.
   */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = () => new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), closeTimeoutMs)));
    await Promise.race([Promise.all(this.inFlight), timedOut()]);
    clearTimeout(timer);
    this.worker = null;
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close' });
    if (await Promise.race([exited.then(() => false), timedOut()])) await worker.terminate();
    clearTimeout(timer);
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(new URL('./kafka-produce-worker.js', import.meta.url), this.config);
    worker.on('message', (reply: SendReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.error) waiter.reject(new ProducerThreadError(reply.error.message, reply.error.name, reply.error.transient));
      else waiter.resolve();
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    worker.on('error', (error) => fail(new ProducerThreadError(`the Kafka producer thread failed: ${error.message}`, 'Error', false)));
    worker.on('exit', () => fail(new ProducerThreadError('the Kafka producer thread stopped', 'Error', false)));
    this.worker = worker;
    return worker;
  }
}

/**
 * Inherited flags apply to the worker's own entry file (--cpu-prof, --enable-source-maps), but
 * --input-type (of `node -e` scripts) would refuse it, and workers refuse process-wide V8 flags
 * (--expose-gc, --max-old-space-size, ...): with such a flag the worker starts without any.
 */
function startWorker(entry: URL, workerData: unknown): Worker {
  const inherited = process.execArgv.filter((arg) => !arg.startsWith('--input-type') && arg !== '--expose-gc');
  const resourceLimits = { maxYoungGenerationSizeMb: producerThreadYoungGenerationMb };
  try {
    return new Worker(entry, { workerData, execArgv: inherited, resourceLimits });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(entry, { workerData, execArgv: [], resourceLimits });
  }
}
