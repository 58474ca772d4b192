import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Result } from '../shared/records/types.js';
import { latenessMicros, type ReplayObserver } from './replay-observer.js';

/** Prometheus metrics of one replay worker, in their own Registry so tests and embedders do not collide. */
export class ReplayMetrics implements ReplayObserver {
  readonly registry = new Registry();
  private readonly sent = new Counter({
    name: 'shadowtap_replay_sent_total',
    help: 'Replay Results by outcome (response, error, skipped).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'shadowtap_replay_errors_total',
    help: 'Requests to the shadow that failed, by kind.',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly skipped = new Counter({
    name: 'shadowtap_replay_skipped_total',
    help: 'Captures not sent, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly dropped = new Counter({
    name: 'shadowtap_replay_dropped_total',
    help: 'Open-model sends that could not start on time.',
    registers: [this.registry],
  });
  private readonly deadLetters = new Counter({
    name: 'shadowtap_replay_dead_letters_total',
    help: 'Capture records that could not be decoded.',
    registers: [this.registry],
  });
  private readonly lagSeconds = new Gauge({
    name: 'shadowtap_replay_lag_seconds',
    help: 'Now minus the capture time of the request being sent.',
    registers: [this.registry],
  });
  private readonly lateness = new Histogram({
    name: 'shadowtap_replay_lateness_seconds',
    help: 'Actual minus scheduled send time.',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'shadowtap_replay_shadow_latency_seconds',
    help: 'Send to end of the shadow response body.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly circuitOpen = new Gauge({
    name: 'shadowtap_replay_circuit_open',
    help: '1 while the circuit breaker holds sending back.',
    registers: [this.registry],
  });

  captureRead(): void {}

  deadLetter(): void {
    this.deadLetters.inc();
  }

  result(result: Result): void {
    this.sent.inc({ outcome: result.outcome });
    if (result.error) this.errors.inc({ kind: result.error.kind });
    if (result.skipReason) this.skipped.inc({ reason: result.skipReason });
    if (result.skipReason === 'dropped') this.dropped.inc();
    const late = latenessMicros(result);
    if (late !== null) this.lateness.observe(late / 1e6);
    if (result.latencyMicros !== null) this.latency.observe(result.latencyMicros / 1e6);
  }

  lag(ms: number): void {
    this.lagSeconds.set(ms / 1000);
  }

  circuit(open: boolean): void {
    this.circuitOpen.set(open ? 1 : 0);
  }
}
