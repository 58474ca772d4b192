import { usageError } from '../shared/errors.js';
import type { LogEntry, RecordLog } from '../shared/log/record-log.js';
import type { Capture, Header, Result } from '../shared/records/types.js';
import { defaultCircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import type { ReplayProgress } from './progress.js';
import type { ReplayObserver } from './replay-observer.js';
import { resolveSetHeaders, type RequestRules } from './request-builder.js';
import { defaultAllowedMethods } from './side-effect-guard.js';

/** Where captures come from: any RecordLog of captures (Kafka or the file log). */
export type CaptureSource = Pick<RecordLog<Capture>, 'name' | 'read' | 'commit'>;
export type ResultSink = Pick<RecordLog<Result>, 'append'>;

export interface ReplayOptions {
  source: CaptureSource;
  results: ResultSink;
  /** The shadow's origin, e.g. http://shadow:8080; the only host ever contacted. */
  target: string;
  /**
   * A second stable instance for A/A calibration: every capture sent to the target with a safe
   * method is sent here too, as stable got it (recorded path and Host), and gets a Result of its
   * own (role 'baseline') whose `target` is this origin (diff --baseline-target).
   */
  baseline?: string;
  /**
   * A stable instance the diff compares the shadow with, Diffy-style: every request sent to the
   * target with a safe method is sent here at the same moment, as stable got it, and its Result
   * (role 'reference', same id) is written just before the shadow's. Needed to compare answers of
   * request-only captures (capture --mirror-target); `false` replays those without one (load and
   * error checks only).
   */
  reference?: string | false;
  /** Recorded in each Result; default 'follow' with `follow`, else 'window' (soak passes 'soak'). */
  replayMode?: ReplayMode;
  /** Keep tailing the log instead of stopping at its end. */
  follow?: boolean;
  fromMs?: number;
  toMs?: number;
  /** Consumer group whose committed positions the read resumes from. */
  group?: string;
  /** Commit positions for `group` (default true); soak replays a fixed window and does not. */
  commit?: boolean;
  pace?: 'asap' | 'recorded';
  /** With pace 'recorded': 2 replays twice as fast as recorded. */
  speed?: number;
  /** Open model: requests per second at exact intervals; excludes pace 'recorded'. */
  rate?: number;
  concurrency?: number;
  /** Methods sent; others are skipped as unsafe-method. */
  allowMethods?: string[];
  /** Added or replacing headers; a value `env:NAME` is read from the environment. */
  setHeaders?: Header[];
  removeHeaders?: string[];
  pathPrefixRewrite?: { from: string; to: string };
  /** Host header sent instead of the recorded one (the connection goes to `target` either way). */
  hostRewrite?: string;
  timeoutMs?: number;
  /** Extra attempts after a connection failure (refused, reset); nothing else is retried. */
  retries?: number;
  circuitBreaker?: Partial<CircuitBreakerOptions>;
  /** Shadow response bodies kept up to this size. */
  maxBodyBytes?: number;
  /** After `signal` aborts, how long sends in flight may still finish and be recorded. */
  drainTimeoutMs?: number;
  /** Stops reading; in-flight sends drain, their Results are written and committed. */
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
  /** Problems the run survives (a refused commit), one line each. */
  onWarning?: (message: string) => void;
  /** Extra listeners, e.g. ReplayMetrics. */
  observers?: ReplayObserver[];
  /** Result ids to send for one capture (soak: `<id>~<n>` copies); default just the capture id. */
  copies?: (entry: LogEntry<Capture>) => string[];
  /** Recorded pacing relative to this time instead of the first capture (soak: the window start). */
  paceOriginMs?: number;
  /** Told about every Result with the entry it came from (soak buckets). */
  onResult?: (result: Result, entry: LogEntry<Capture>) => void;
}

export const replayDefaults = {
  /** The live mirroring group (`--follow`); see defaultGroup. */
  group: 'shadowtap-replay',
  concurrency: 64,
  speed: 1,
  timeoutMs: 10_000,
  retries: 0,
  maxBodyBytes: 1024 * 1024,
  drainTimeoutMs: 10_000,
};

export type ReplayMode = 'follow' | 'window' | 'soak';

export type PaceConfig = { kind: 'asap' } | { kind: 'recorded'; speed: number; originMs?: number } | { kind: 'rate'; rate: number };

/** Options with defaults applied and checked once; what the worker uses inside. */
export interface ReplayConfig {
  target: URL;
  baseline?: PeerConfig;
  reference?: PeerConfig;
  /** Request-only captures may be replayed without a reference (the user said --no-reference). */
  referenceOptional: boolean;
  replayMode: ReplayMode;
  group: string;
  commit: boolean;
  pace: PaceConfig;
  concurrency: number;
  allowedMethods: ReadonlySet<string>;
  rules: RequestRules;
  timeoutMs: number;
  retries: number;
  circuitBreaker: CircuitBreakerOptions;
  maxBodyBytes: number;
  drainTimeoutMs: number;
  copies: (entry: LogEntry<Capture>) => string[];
}

/** A stable instance sent the same requests as the target: the A/A baseline or the reference. */
export interface PeerConfig {
  target: URL;
  rules: RequestRules;
  /** The allowed methods that are also safe: an unsafe method never reaches a stable instance. */
  allowedMethods: ReadonlySet<string>;
}

/**
 * The consumer group when none is given. Live mirroring (`--follow`) uses one group, so the
 * workers of a deployment share the partitions and a restarted one resumes (a relative `--from`
 * such as -5m differs on every start, so it cannot name the group). A bounded replay (a window,
 * or the whole log once) gets a group of its own window and target: it resumes after a crash,
 * yet never starts where another window or another shadow's replay stopped (with one shared
 * group, a window replayed after any other replay found everything committed and sent nothing).
 */
export function defaultGroup(scope: { follow?: boolean; fromMs?: number; toMs?: number; target: URL }): string {
  if (scope.follow) return replayDefaults.group;
  return `${replayDefaults.group}.${scope.fromMs ?? 'start'}-${scope.toMs ?? 'end'}.${scope.target.host}`;
}

export function resolveReplayOptions(options: ReplayOptions): ReplayConfig {
  const target = parseTarget(options.target, '--target');
  const baselineTarget = options.baseline === undefined ? undefined : parseTarget(options.baseline, '--baseline');
  if (baselineTarget?.origin === target.origin) throw usageError(`--baseline must be another origin than --target; both are ${target.origin}`);
  const referenceTarget = typeof options.reference === 'string' ? parseTarget(options.reference, '--reference') : undefined;
  if (referenceTarget?.origin === target.origin) throw usageError(`--reference must be a stable instance, another origin than --target; both are ${target.origin}`);
  if (referenceTarget && referenceTarget.origin === baselineTarget?.origin) {
    throw usageError(`--baseline must be a second stable instance, another origin than --reference; both are ${referenceTarget.origin}`);
  }
  const positive = (value: number | undefined, fallback: number, name: string, integer = false): number => {
    const n = value ?? fallback;
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw usageError(`${name} must be a positive ${integer ? 'integer' : 'number'}; got ${value}`);
    return n;
  };
  const retries = options.retries ?? replayDefaults.retries;
  if (!Number.isInteger(retries) || retries < 0) throw usageError(`--retries must be 0 or more; got ${options.retries}`);
  if (options.fromMs !== undefined && options.toMs !== undefined && options.fromMs >= options.toMs) {
    throw usageError('--from must be before --to');
  }
  if (options.rate !== undefined && options.pace === 'recorded') {
    throw usageError('--rate and --pace recorded exclude each other: pick one way to pace');
  }
  const pace: PaceConfig =
    options.rate !== undefined
      ? { kind: 'rate', rate: positive(options.rate, 1, '--rate') }
      : options.pace === 'recorded'
        ? { kind: 'recorded', speed: positive(options.speed, replayDefaults.speed, '--speed'), originMs: options.paceOriginMs }
        : { kind: 'asap' };
  const prefix = options.pathPrefixRewrite;
  if (prefix && !prefix.from.startsWith('/')) throw usageError(`--path-prefix-rewrite must rewrite a path starting with /; got "${prefix.from}"`);
  const allowedMethods = new Set((options.allowMethods ?? defaultAllowedMethods).map((m) => m.toUpperCase()));
  if (options.setHeaders?.some((h) => h.name.toLowerCase() === 'host')) throw usageError('--set-header cannot set Host: use --host-rewrite <host>');
  const setHeaders = resolveSetHeaders(options.setHeaders ?? []);
  const removeHeaders = new Set((options.removeHeaders ?? []).map((h) => h.toLowerCase()));
  // The shadow's path and Host rewrites are for the new version; a stable gets the recorded request.
  const peer = (peerTarget: URL): PeerConfig => ({
    target: peerTarget,
    rules: { target: peerTarget, setHeaders, removeHeaders },
    allowedMethods: new Set(defaultAllowedMethods.filter((m) => allowedMethods.has(m))),
  });
  return {
    target,
    baseline: baselineTarget && peer(baselineTarget),
    reference: referenceTarget && peer(referenceTarget),
    referenceOptional: options.reference === false,
    replayMode: options.replayMode ?? (options.follow ? 'follow' : 'window'),
    group: options.group ?? defaultGroup({ follow: options.follow, fromMs: options.fromMs, toMs: options.toMs, target }),
    commit: options.commit ?? true,
    pace,
    concurrency: positive(options.concurrency, replayDefaults.concurrency, '--concurrency', true),
    allowedMethods,
    rules: { target, hostRewrite: options.hostRewrite, pathPrefixRewrite: prefix, setHeaders, removeHeaders },
    timeoutMs: positive(options.timeoutMs, replayDefaults.timeoutMs, '--timeout'),
    retries,
    circuitBreaker: {
      failureThreshold: positive(options.circuitBreaker?.failureThreshold, defaultCircuitBreaker.failureThreshold, '--breaker-failures', true),
      probeIntervalMs: positive(options.circuitBreaker?.probeIntervalMs, defaultCircuitBreaker.probeIntervalMs, '--breaker-probe-interval'),
    },
    maxBodyBytes: positive(options.maxBodyBytes, replayDefaults.maxBodyBytes, '--max-body', true),
    drainTimeoutMs: positive(options.drainTimeoutMs, replayDefaults.drainTimeoutMs, '--drain-timeout'),
    copies: options.copies ?? ((entry) => [entry.value.id]),
  };
}

function parseTarget(value: string, flag: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usageError(`${flag} must be an http(s) URL such as http://shadow:8080; got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`${flag} must be an http(s) URL such as http://shadow:8080; got "${value}"`);
  }
  return url;
}
