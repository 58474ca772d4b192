import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { BackgroundLog, LogState } from '../shared/log/background-log.js';
import { captureCodec } from '../shared/records/codec.js';
import type { Capture, Header, SideEffect } from '../shared/records/types.js';
import { captureV2Defaults, nowMicros } from '../shared/records/types.js';
import { BodyTap, ByteBudget } from '../shared/http/body-tap.js';
import { resolveRecorderOptions, type RecorderOptions, type ResolvedRecorderOptions } from './capture-options.js';
import { createCaptureLogger } from './capture-logger.js';
import { CaptureMetrics } from './capture-metrics.js';
import { CrashLedger } from './crash-ledger.js';
import { DiskSpool } from './disk-spool.js';
import { endToEndFromRaw, splitTarget } from './http-headers.js';
import { RecordQueue } from './record-queue.js';
import { Redactor } from '../shared/redaction/redactor.js';
import { Sampler, type SamplingDecision } from './sampler.js';

/** One request on its way through the proxy or the middleware. */
export interface Exchange {
  /** Always generated here: clients cannot make two requests share a capture. */
  id: string;
  /** The request id header the client sent, kept as an attribute. */
  clientRequestId: string | null;
  method: string;
  path: string;
  query: string;
  /** What the service received (the proxy puts the headers it sends stable here). */
  requestHeaders: Header[];
  sampling: SamplingDecision;
  start: number;
}

export interface ExchangeOutcome {
  requestBody: BodyTap;
  /** Stable's answer; `headers` are its end-to-end headers (hop-by-hop ones already left out). */
  response: { status: number; headers: Header[]; body: BodyTap } | null;
  upstreamError: string | null;
  firstByte: number | null;
  end: number | null;
  /** What the app called out to while answering (capture middleware only). */
  sideEffects?: SideEffect[];
}

const DROP_LOG_INTERVAL_MS = 5000;

/** Rough bytes a capture holds in memory; bounds the queue without encoding on the hot path. */
function estimateBytes(capture: Capture): number {
  let bytes = 256 + capture.request.path.length + capture.request.query.length + capture.request.body.length;
  for (const h of capture.request.headers) bytes += h.name.length + h.value.length + 16;
  if (capture.response) {
    bytes += capture.response.body.length;
    for (const h of capture.response.headers) bytes += h.name.length + h.value.length + 16;
  }
  return bytes;
}

/**
 * The core the proxy and the middleware share: decides sampling, builds the Capture, redacts it,
 * and hands it to the bounded queue, all after the user's response is on its way.
 */
export class CaptureRecorder {
  readonly options: ResolvedRecorderOptions;
  readonly metrics: CaptureMetrics;
  readonly logger: Logger;
  private readonly sampler: Sampler;
  private readonly redactor: Redactor;
  private readonly queue: RecordQueue<Capture>;
  private readonly bodyBudget: ByteBudget;
  /** Captures waiting to be redacted and queued, in the order their exchanges completed. */
  private pending: Capture[] = [];
  /** The pass redacting `pending`, one per event-loop turn rather than one promise per capture. */
  private draining: Promise<void> | null = null;
  /** Captures the drain pass took from `pending` and has not queued yet. */
  private redacting = 0;
  /** How many captures live only in memory, saved in the spool folder for the next agent should this one be killed. */
  private readonly ledger: CrashLedger | null = null;
  private dropsSinceLog = 0;
  private lastDropLog = 0;
  /** Whether the last append failed; the outage is logged once, not once per retry. */
  private failing = false;
  /** Recorded exchanges begun and not yet complete: close() lets them finish (a cut one completes a moment after its socket closed). */
  private open = 0;
  private allComplete: (() => void) | null = null;

  constructor(options: RecorderOptions) {
    this.options = resolveRecorderOptions(options);
    this.logger = options.logger ?? createCaptureLogger();
    this.sampler = new Sampler(this.options.sampling);
    this.bodyBudget = new ByteBudget(this.options.maxInflightBodyBytes);
    this.redactor = new Redactor(this.options.redaction);
    const q = this.options.queue;
    const spool = q.spoolDir
      ? new DiskSpool<Capture>(q.spoolDir, q.spoolBytes, captureCodec, {
          onLoss: (count, error) => {
            this.metrics.dropped(count, 'spool-error');
            this.logger.error({ count, error: error.message }, 'captures lost in the disk spool');
          },
          onWritten: () => this.ledger?.saveSoon(),
        })
      : null;
    this.metrics = new CaptureMetrics({ queueBytes: () => this.queue.memoryBytes, spoolBytes: () => this.queue.spoolBytes, logUp: () => (this.logState === 'connected' ? 1 : 0) });
    this.queue = new RecordQueue<Capture>(this.options.sink, estimateBytes, q, spool, {
      onDelivered: (count) => {
        this.metrics.delivered(count);
        this.ledger?.saveSoon();
      },
      onSpooled: (count) => {
        this.metrics.spooled(count);
        this.ledger?.saveSoon();
      },
      onDropped: (count, reason) => {
        this.noteDrop(count, reason);
        this.ledger?.saveSoon();
      },
      onSinkError: (error) => {
        if (!this.failing) {
          this.logger.warn({ log: this.options.sink.name, error: error.message }, 'log append failed; captures wait in memory and spool');
        }
        this.failing = true;
        this.metrics.logError();
      },
      onSinkRecovered: () => {
        this.failing = false;
        this.logger.info({ log: this.options.sink.name }, 'log append works again; draining');
      },
    });
    if (q.spoolDir) this.ledger = this.openLedger(q.spoolDir, spool);
  }

  /** Takes the spool folder's crash ledger over, reporting what a killed predecessor lost. */
  private openLedger(dir: string, spool: DiskSpool<Capture> | null): CrashLedger | null {
    try {
      const inMemory = () => this.open + this.pending.length + this.redacting + this.queue.memoryRecords + (spool?.unwrittenRecords ?? 0);
      const { ledger, previous, shared } = CrashLedger.open(dir, inMemory);
      if (shared) this.logger.warn({ spoolDir: dir }, 'another running capture agent uses this spool folder: give each agent its own --spool-dir; captures lost if this one is killed are not counted');
      if (previous && previous.captures > 0) {
        this.metrics.dropped(previous.captures, 'crash');
        this.logger.error(
          { lost: previous.captures, pid: previous.pid, savedAt: previous.savedAt },
          'the previous capture agent on this spool folder was killed: the captures it held only in memory were lost (at most this many: exchanges and an append under way at the kill may not have been)',
        );
      }
      return ledger;
    } catch (error) {
      this.logger.warn({ spoolDir: dir, error: (error as Error).message }, 'cannot keep the crash ledger in the spool folder: captures lost if the agent is killed are not counted');
      return null;
    }
  }

  /** Reads the request line and headers, generates the id and decides whether the exchange is recorded. */
  begin(mode: 'proxy' | 'mirror' | 'middleware', method: string, target: string, rawHeaders: readonly string[], headers: IncomingHttpHeaders): Exchange {
    const start = nowMicros();
    this.metrics.request(mode);
    const { path, query } = splitTarget(target);
    const given = headers[this.options.requestIdHeader];
    const fromRequest = (Array.isArray(given) ? given[0] : given)?.trim();
    const sampling = this.sampler.decide(method, path, query, headers);
    if (!sampling.sampled) this.metrics.sampledOut(sampling.reason ?? 'rate');
    else {
      this.open++;
      // Saved before stable can answer (a later turn): a client that got its answer is always counted.
      this.ledger?.saveSoon();
    }
    return {
      id: randomUUID(),
      clientRequestId: fromRequest || null,
      method,
      path,
      query,
      requestHeaders: endToEndFromRaw(rawHeaders),
      sampling,
      start,
    };
  }

  /** A body copy for one exchange, bounded by maxBodyBytes and by the budget shared by all exchanges. */
  bodyTap(): BodyTap {
    return new BodyTap(this.options.maxBodyBytes, this.bodyBudget);
  }

  /** Builds the capture of a finished exchange and queues it; never throws into the caller's path. */
  complete(exchange: Exchange, outcome: ExchangeOutcome): void {
    if (!exchange.sampling.sampled) return;
    if (--this.open === 0) this.allComplete?.();
    const { options } = this;
    const capture: Capture = {
      id: exchange.id,
      captureTime: exchange.start,
      agent: options.agent,
      service: options.service,
      request: {
        method: exchange.method,
        path: exchange.path,
        query: exchange.query,
        headers: exchange.requestHeaders,
        body: outcome.requestBody.body(),
        size: outcome.requestBody.size,
        truncated: outcome.requestBody.truncated,
        sha256: outcome.requestBody.sha256(),
      },
      response: outcome.response && {
        status: outcome.response.status,
        headers: outcome.response.headers,
        body: outcome.response.body.body(),
        size: outcome.response.body.size,
        truncated: outcome.response.body.truncated,
        sha256: outcome.response.body.sha256(),
      },
      upstreamError: outcome.upstreamError,
      timings: { start: exchange.start, firstByte: outcome.firstByte, end: outcome.end },
      redactions: [],
      sampling: { rate: exchange.sampling.rate, mode: exchange.sampling.mode },
      ...captureV2Defaults(),
      clientRequestId: exchange.clientRequestId,
      sideEffects: outcome.sideEffects ?? [],
    };
    outcome.requestBody.release();
    outcome.response?.body.release();
    this.record(capture);
  }

  /**
   * Queues a capture for redaction (importers and the proxy alike). Redaction happens in a later
   * turn of the event loop, for every capture that completed meanwhile, so the user's response
   * never waits for it.
   */
  record(capture: Capture): void {
    this.metrics.recorded();
    this.pending.push(capture);
    this.draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const captures = this.pending;
        this.pending = [];
        this.redacting = captures.length;
        for (const capture of captures) {
          try {
            // Synchronous unless a compressed body must be inflated; order is kept either way.
            const result = this.redactor.redact(capture);
            const redacted = result instanceof Promise ? await result : result;
            this.metrics.redacted(redacted.redactions.length);
            this.queue.push(redacted);
          } catch (error) {
            // A capture that could not be redacted is never queued: its secrets must not leave.
            this.noteDrop(1, 'redaction-error');
            this.logger.error({ id: capture.id, error: (error as Error).message }, 'capture dropped: redaction failed');
          }
          this.redacting--;
        }
        // The captures of this turn are now counted where a killed agent's successor finds them.
        this.ledger?.save();
      }
    } finally {
      this.draining = null;
    }
  }

  /** Whether the log is reached: a background log says so before any append, a failing append says it is not. */
  get logState(): LogState {
    if (this.failing) return 'unreachable';
    const sink = this.options.sink as Partial<BackgroundLog<Capture>>;
    return sink.state ?? 'connected';
  }

  /** Delivers what is queued within `timeoutMs`; what is left goes to the spool or is counted as dropped. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (this.open > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.allComplete = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
      this.allComplete = null;
    }
    while (this.draining) await this.draining;
    await this.queue.close(Math.max(0, deadline - Date.now()));
    this.ledger?.close();
    if (this.dropsSinceLog > 0) this.flushDropLog();
  }

  private noteDrop(count: number, reason: string): void {
    this.metrics.dropped(count, reason);
    this.dropsSinceLog += count;
    if (Date.now() - this.lastDropLog >= DROP_LOG_INTERVAL_MS) this.flushDropLog(reason);
  }

  private flushDropLog(reason?: string): void {
    this.logger.error(
      { dropped: this.dropsSinceLog, droppedTotal: this.metrics.counters.dropped, reason },
      'captures dropped: memory queue and disk spool are full or the agent is stopping',
    );
    this.dropsSinceLog = 0;
    this.lastDropLog = Date.now();
  }
}
