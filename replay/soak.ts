import { usageError } from '../shared/errors.js';
import type { LogEntry } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { soakDefaults } from './replay-defaults.js';
import { LatencyHistogram } from './latency-histogram.js';
import { formatDuration } from './progress-reporter.js';
import { soakSource, type SoakEntry } from './soak-source.js';
import type { ReplayOptions } from './replay-options.js';
import type { ReplaySummary } from './replay-stats.js';
import { createReplay } from './replay-worker.js';

export { copyId } from './soak-source.js';

export interface SoakOptions
  extends Omit<ReplayOptions, 'fromMs' | 'toMs' | 'follow' | 'pace' | 'speed' | 'rate' | 'group' | 'onResult'> {
  /** The recorded window [fromMs, toMs) whose shape is reproduced. */
  fromMs: number;
  toMs: number;
  /** 24 plays a 24-hour window in one hour. */
  compress?: number;
  /** Passes over the window, back to back. */
  loop?: number;
  /** Each request is sent this many times. */
  amplify?: number;
  /** Time buckets of the per-bucket summary, over the recorded pattern. */
  buckets?: number;
  /** A plan whose run would last longer than this is refused. */
  maxDurationMs?: number;
  /** Told the plan once it is made, before the first send. */
  onPlan?: (plan: SoakPlan) => void;
}

/** What a soak will do, worked out from the captures before anything is sent. */
export interface SoakPlan {
  captures: number;
  /** Capture times of the first and last capture inside the window, ms since the epoch. */
  firstMs: number;
  lastMs: number;
  /** The recorded pattern: first to last capture, plus one mean gap before the next pass starts. */
  patternMs: number;
  /** One pass in compressed time. */
  passMs: number;
  loop: number;
  amplify: number;
  /** The whole run: loop passes. */
  runMs: number;
  /** Requests sent: captures × amplify × loop. */
  requests: number;
  /** Highest rate of the plan over any second of compressed time, requests/s. */
  peakRate: number;
}

/**
 * Reads the window once to plan the soak: the pattern spans its first to its last capture (a
 * window wider than its traffic does not make the soak wait for empty time), and the peak rate
 * is counted per second of compressed time.
 */
export async function planSoak(options: Pick<SoakOptions, 'source' | 'fromMs' | 'toMs' | 'compress' | 'loop' | 'amplify' | 'signal'>): Promise<SoakPlan | undefined> {
  const { fromMs, toMs, compress = soakDefaults.compress, loop = soakDefaults.loop, amplify = soakDefaults.amplify } = options;
  let captures = 0;
  let firstMs = Infinity;
  let lastMs = -Infinity;
  // Captures per second of compressed time: only seconds that hold captures take memory.
  const perSecond = new Map<number, number>();
  for await (const entry of options.source.read({ fromMs, toMs, signal: options.signal })) {
    captures++;
    firstMs = Math.min(firstMs, entry.timestampMs);
    lastMs = Math.max(lastMs, entry.timestampMs);
    const second = Math.floor(entry.timestampMs / (1000 * compress));
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  if (captures === 0) return undefined;
  const meanGapMs = captures > 1 ? (lastMs - firstMs) / (captures - 1) : 1000;
  const patternMs = lastMs - firstMs + Math.max(1, meanGapMs);
  const passMs = patternMs / compress;
  return {
    captures,
    firstMs,
    lastMs,
    patternMs,
    passMs,
    loop,
    amplify,
    runMs: passMs * loop,
    requests: captures * amplify * loop,
    peakRate: Math.max(...perSecond.values()) * amplify,
  };
}

export interface SoakBucket {
  /** Recorded window slice [startMs, endMs), ms since the epoch. */
  startMs: number;
  endMs: number;
  /** Captures recorded in the slice (one pass, before amplify). */
  captures: number;
  /** Requests/s recorded in the slice. */
  recordedRate: number;
  /** recordedRate × compress × amplify: what the soak should offer. */
  targetRate: number;
  /** Requests/s actually sent in the slice's compressed time, averaged over the passes. */
  achievedRate: number;
  sent: number;
  errors: number;
  skipped: number;
  latencyP99Ms: number;
}

export interface SoakSummary extends ReplaySummary {
  compress: number;
  loop: number;
  amplify: number;
  /** Length of one compressed pass, ms. */
  passMs: number;
  buckets: SoakBucket[];
}

interface BucketState {
  captures: number;
  sent: number;
  errors: number;
  skipped: number;
  latency: LatencyHistogram;
}

/**
 * Reproduces a recorded pattern: the window's shape kept in (to − from)/compress time, looped,
 * each request sent `amplify` times. Results of copies carry `<id>~<n>` and the original captureId.
 */
export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const {
    fromMs,
    toMs,
    compress = soakDefaults.compress,
    loop = soakDefaults.loop,
    amplify = soakDefaults.amplify,
    buckets: bucketCount = soakDefaults.buckets,
    maxDurationMs = soakDefaults.maxDurationMs,
    onPlan,
    ...replayOptions
  } = options;
  if (!(fromMs < toMs)) throw usageError('soak needs --from before --to');
  if (!(compress > 0)) throw usageError(`--compress must be a positive number; got ${compress}`);
  for (const [flag, value] of [['--loop', loop], ['--amplify', amplify], ['--buckets', bucketCount]] as const) {
    if (!Number.isInteger(value) || value <= 0) throw usageError(`${flag} must be a positive integer; got ${value}`);
  }
  const plan = await planSoak({ source: options.source, fromMs, toMs, compress, loop, amplify, signal: options.signal });
  if (!plan) {
    throw usageError(`no captures between ${new Date(fromMs).toISOString()} and ${new Date(toMs).toISOString()} in ${options.source.name}: nothing to soak with; check --from/--to and the log (--store/--brokers)`);
  }
  if (plan.runMs > maxDurationMs) {
    throw usageError(
      `this soak would run ${formatDuration(plan.runMs)} (a ${formatDuration(plan.patternMs)} pattern, compressed ${compress}×, ${loop} loop${loop === 1 ? '' : 's'}), longer than --max-duration ${formatDuration(maxDurationMs)}: raise --compress or --max-duration, or narrow --from/--to`,
    );
  }
  onPlan?.(plan);
  const spanMs = plan.patternMs;
  const patternStart = plan.firstMs;
  const bucketMs = spanMs / bucketCount;
  const buckets: BucketState[] = Array.from({ length: bucketCount }, () => ({
    captures: 0,
    sent: 0,
    errors: 0,
    skipped: 0,
    latency: new LatencyHistogram(2),
  }));
  const bucketOf = (entry: LogEntry<Capture>) => buckets[Math.min(bucketCount - 1, Math.floor(((entry as SoakEntry).recordedMs - patternStart) / bucketMs))]!;
  const source = soakSource(options.source, { fromMs, toMs, startMs: patternStart, spanMs, compress, loop, amplify }, (entry) => {
    if (entry.pass === 0) bucketOf(entry).captures++;
  });

  const summary = await createReplay({
    ...replayOptions,
    source,
    // The soak in compressed time, for the progress fraction.
    fromMs: patternStart,
    toMs: patternStart + plan.runMs,
    pace: 'recorded',
    onResult: (result: Result, entry: LogEntry<Capture>) => {
      const bucket = bucketOf(entry);
      if (result.outcome === 'skipped') bucket.skipped++;
      else bucket.sent++;
      if (result.outcome === 'error') bucket.errors++;
      if (result.latencyMicros !== null) bucket.latency.recordMicros(result.latencyMicros);
    },
  }).run();

  const rate = (count: number, ms: number) => Math.round((count / (ms / 1000)) * 100) / 100;
  return {
    ...summary,
    compress,
    loop,
    amplify,
    passMs: Math.round(spanMs / compress),
    buckets: buckets.map((b, i) => ({
      startMs: Math.round(patternStart + i * bucketMs),
      endMs: Math.round(patternStart + (i + 1) * bucketMs),
      captures: b.captures,
      recordedRate: rate(b.captures, bucketMs),
      targetRate: rate(b.captures * compress * amplify, bucketMs),
      achievedRate: rate(b.sent, (loop * bucketMs) / compress),
      sent: b.sent,
      errors: b.errors,
      skipped: b.skipped,
      latencyP99Ms: b.latency.percentilesMs().p99,
    })),
  };
}

