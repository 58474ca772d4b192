import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Live counts of one capture agent, for tests, benchmarks and embedding apps. */
export interface CaptureCounters {
  /** Requests seen, recorded or not. */
  readonly requests: number;
  readonly sampledOut: number;
  /** Captures handed to the queue. */
  readonly recorded: number;
  /** Individual redactions applied (headers, params, fields). */
  readonly redactions: number;
  /** Captures the log has accepted. */
  readonly delivered: number;
  readonly spooled: number;
  readonly dropped: number;
  /** Failed appends to the log. */
  readonly logErrors: number;
  readonly queueBytes: number;
  readonly spoolBytes: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const requestModes = ['proxy', 'mirror', 'middleware', 'upgrade'] as const;
type RequestMode = (typeof requestModes)[number];

/**
 * Counters and Prometheus metrics of one capture agent, in a registry of its own so several
 * agents (as in tests) never collide.
 */
export class CaptureMetrics {
  readonly registry = new Registry();
  private readonly counts: Mutable<Omit<CaptureCounters, 'queueBytes' | 'spoolBytes'>> = {
    requests: 0,
    sampledOut: 0,
    recorded: 0,
    redactions: 0,
    delivered: 0,
    spooled: 0,
    dropped: 0,
    logErrors: 0,
  };
  readonly counters: CaptureCounters;
  /** Requests by mode not yet added to the shadowtap_capture_requests_total counter. */
  private readonly unreportedRequests: Record<RequestMode, number> = { proxy: 0, mirror: 0, middleware: 0, upgrade: 0 };
  private readonly sampledOutTotal: Counter<'reason'>;
  private readonly redactionsTotal: Counter;
  private readonly spooledTotal: Counter;
  private readonly droppedTotal: Counter<'reason'>;
  private readonly logErrorsTotal: Counter;
  private readonly deliveredTotal: Counter;
  private readonly addedLatency: Histogram;

  constructor(gauges: { queueBytes: () => number; spoolBytes: () => number; logUp: () => number }) {
    const registers = [this.registry];
    const counts = this.counts;
    this.counters = Object.defineProperties(counts, {
      queueBytes: { get: gauges.queueBytes, enumerable: true },
      spoolBytes: { get: gauges.spoolBytes, enumerable: true },
    }) as CaptureCounters;
    const unreported = this.unreportedRequests;
    new Counter({
      name: 'shadowtap_capture_requests_total',
      help: 'Requests seen by the capture agent',
      labelNames: ['mode'],
      registers,
      // Counted per request in a plain field, handed to prom-client when the metric is read: its
      // inc({ mode }) hashes and validates the labels on every call.
      collect() {
        for (const mode of requestModes) {
          if (unreported[mode] === 0) continue;
          this.inc({ mode }, unreported[mode]);
          unreported[mode] = 0;
        }
      },
    });
    this.sampledOutTotal = new Counter({
      name: 'shadowtap_capture_sampled_out_total',
      help: 'Requests not recorded, by reason (replayed, filter or rate)',
      labelNames: ['reason'],
      registers,
    });
    this.redactionsTotal = new Counter({ name: 'shadowtap_capture_redactions_total', help: 'Headers, parameters and body fields redacted', registers });
    this.spooledTotal = new Counter({ name: 'shadowtap_capture_spooled_total', help: 'Captures written to the disk spool', registers });
    this.droppedTotal = new Counter({
      name: 'shadowtap_capture_dropped_total',
      help: 'Captures dropped beyond the memory and spool bounds, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.logErrorsTotal = new Counter({ name: 'shadowtap_capture_log_errors_total', help: 'Failed appends to the log', registers });
    this.deliveredTotal = new Counter({ name: 'shadowtap_capture_delivered_total', help: 'Captures accepted by the log', registers });
    new Gauge({ name: 'shadowtap_capture_queue_bytes', help: 'Bytes in the in-memory queue', registers, collect() { this.set(gauges.queueBytes()); } });
    new Gauge({ name: 'shadowtap_capture_spool_bytes', help: 'Bytes in the disk spool', registers, collect() { this.set(gauges.spoolBytes()); } });
    new Gauge({ name: 'shadowtap_capture_log_up', help: '1 while the log accepts appends, 0 while it is unreachable (captures wait in memory and spool)', registers, collect() { this.set(gauges.logUp()); } });
    this.addedLatency = new Histogram({
      name: 'shadowtap_capture_added_latency_seconds',
      help: 'Time the capture agent adds to a request, excluding the time stable takes',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    });
  }

  request(mode: RequestMode): void {
    this.counts.requests++;
    this.unreportedRequests[mode]++;
  }

  sampledOut(reason: string): void {
    this.counts.sampledOut++;
    this.sampledOutTotal.inc({ reason });
  }

  recorded(): void {
    this.counts.recorded++;
  }

  redacted(count: number): void {
    if (count === 0) return;
    this.counts.redactions += count;
    this.redactionsTotal.inc(count);
  }

  delivered(count: number): void {
    this.counts.delivered += count;
    this.deliveredTotal.inc(count);
  }

  spooled(count: number): void {
    this.counts.spooled += count;
    this.spooledTotal.inc(count);
  }

  dropped(count: number, reason: string): void {
    this.counts.dropped += count;
    this.droppedTotal.inc({ reason }, count);
  }

  logError(): void {
    this.counts.logErrors++;
    this.logErrorsTotal.inc();
  }

  observeAddedLatency(seconds: number): void {
    this.addedLatency.observe(seconds);
  }
}

/** Serves GET /metrics from one registry (the admin port). */
