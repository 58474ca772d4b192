import * as hdr from 'hdr-histogram-js';

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  count: number;
}

/** Values beyond an hour are clamped; a fixed range keeps memory fixed however long the run. */
const highestMicros = 3_600_000_000;

/** Microsecond values in an HDR histogram (bounded memory), reported in ms. */
export class LatencyHistogram {
  private readonly histogram;

  /** 2 digits (1% precision) for the many small histograms of soak buckets, 3 for the run. */
  constructor(significantDigits: 2 | 3 = 3) {
    this.histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: highestMicros,
      numberOfSignificantValueDigits: significantDigits,
      autoResize: false,
    });
  }

  recordMicros(micros: number): void {
    this.histogram.recordValue(Math.min(highestMicros, Math.max(0, Math.round(micros))));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** Percentiles in milliseconds, zeros when nothing was recorded. */
  percentilesMs(): Percentiles {
    const at = (p: number) => round(this.histogram.getValueAtPercentile(p) / 1000);
    return { p50: at(50), p90: at(90), p99: at(99), max: round(this.histogram.maxValue / 1000), count: this.histogram.totalCount };
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
