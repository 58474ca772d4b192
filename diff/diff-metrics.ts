import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { comparableBases } from './latency-stats.js';
import type { PairRecord } from './pair-record.js';
import { mismatchRateOf, type RollingSummary } from './rolling-summary.js';

/**
 * Prometheus metrics of a following diff, in their own Registry so tests and embedders do not
 * collide. Route labels are capped by the rolling summary (past its limit they read
 * `(other routes)`), so a path with ids that templates badly cannot explode the series count.
 */
export class DiffMetrics {
  readonly registry = new Registry();
  private readonly pairs = new Counter({
    name: 'shadowtap_diff_pairs_total',
    help: 'Pairs judged, by route template and verdict (match, mismatch, noise, accepted, shadow-error, missing, skipped, no-baseline, not-compared).',
    labelNames: ['route', 'verdict'],
    registers: [this.registry],
  });
  /** Only timings taken alike (a reference at the same moment, or live mirroring), so stable and shadow quantiles can be set against each other. */
  private readonly latency = new Histogram({
    name: 'shadowtap_diff_latency_seconds',
    help: "Latency of pairs timed alike, by side (stable, shadow) and basis (reference: stable asked at the same moment; live: live mirroring against capture's timing).",
    labelNames: ['side', 'basis'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(private readonly rolling: RollingSummary) {
    const window = rolling;
    new Gauge({
      name: 'shadowtap_diff_mismatch_rate',
      help: 'Share of compared pairs that mismatched or failed on the shadow, per route, over the rolling window.',
      labelNames: ['route'],
      registers: [this.registry],
      collect() {
        const { routes } = window.snapshot();
        for (const route of window.labels()) {
          const counts = routes.get(route);
          this.set({ route }, counts ? mismatchRateOf(counts) : 0);
        }
      },
    });
  }

  observe(record: PairRecord, nowMs = Date.now()): void {
    this.rolling.add(record.route, record.verdict, nowMs);
    this.pairs.inc({ route: this.rolling.label(record.route), verdict: record.verdict });
    if (record.latency && comparableBases.has(record.latency.basis)) {
      this.latency.observe({ side: 'stable', basis: record.latency.basis }, record.latency.stableMs / 1000);
      this.latency.observe({ side: 'shadow', basis: record.latency.basis }, record.latency.shadowMs / 1000);
    }
  }
}
