import { parseHttpUrl } from '../shared/http/http-url.js';
import { resolveRedaction, type RedactionOptions, type ResolvedRedaction } from '../shared/redaction/redaction-options.js';
import { usageError } from '../shared/errors.js';
import type { LogEntry, RecordLog } from '../shared/log/record-log.js';
import type { Capture, Header, Result } from '../shared/records/types.js';
import type { OpeningKey } from '../shared/redaction/seal.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import { defaultGroup, replayDefaults } from './replay-defaults.js';
import type { ReplayProgress } from './progress.js';
import type { RequestSecrets } from './redacted-request.js';
import type { ReplayObserver } from './replay-observer.js';
import { resolveSetHeaders, type RequestRules } from './request-builder.js';

/** Where captures come from: any RecordLog of captures (Kafka or the file log), or a wrapper around one. */
export interface CaptureSource extends Pick<RecordLog<Capture>, 'name' | 'read' | 'commit'> {
  /** Result ids to send for one entry (a soak's amplified copies); default just the capture id. */
  copies?(entry: LogEntry<Capture>): string[];
  /**
   * Set by a source that replays a plan rather than a position in the log (soak-source.ts): its
   * mode is recorded in every Result, nothing is committed, and recorded pacing counts from originMs.
   */
  readonly plan?: { replayMode: ReplayMode; originMs: number };
}
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
  /** Keep tailing the log instead of stopping at its end. */
  follow?: boolean;
  /**
   * With follow on Kafka: read every partition directly, not as a member of the group, so the
   * first request leaves without waiting for the group's join; for a group's only worker.
   */
  solo?: boolean;
  fromMs?: number;
  toMs?: number;
  /** Consumer group whose committed positions the read resumes from; default defaultGroup(). */
  group?: string;
  pace?: 'asap' | 'recorded';
  /** With pace 'recorded': 2 replays twice as fast as recorded. */
  speed?: number;
  /** Open model: requests per second at exact intervals; excludes pace 'recorded'. */
  rate?: number;
  /** With rate: a send waiting longer than this past its slot for a free concurrency slot is dropped. */
  maxLatenessMs?: number;
  /** With rate: drop any send later than maxLatenessMs, also when the worker itself was late. */
  strictOpenModel?: boolean;
  concurrency?: number;
  /** Methods sent; others are skipped as unsafe-method, unless guardedWrites finds the shadow guarded. */
  allowMethods?: readonly string[];
  /**
   * Send unsafe methods not in allowMethods to a shadow that proves it is guarded (its
   * shadow-mode library marks every answer); default true. See guard-proof.ts.
   */
  guardedWrites?: boolean;
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
  /**
   * The capture's redaction policy (its flags), applied to every answer before its Result is
   * written; each capture's recorded mode takes precedence over `mode`. On by default.
   */
  redaction?: RedactionOptions;
  /** Private keys that open sealed captures; several during a key rotation, picked by key id. */
  sealKeys?: OpeningKey[];
  /** A capture sealed to a key not held is sent masked (verdict `altered`) instead of stopping the replay. */
  allowMasked?: boolean;
  /** After `signal` aborts, how long sends in flight may still finish and be recorded. */
  drainTimeoutMs?: number;
  /** Stops reading; in-flight sends drain, their Results are written and committed. */
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
  /** Problems the run survives (a refused commit), one line each. */
  onWarning?: (message: string) => void;
  /** Extra listeners, e.g. ReplayMetrics. */
  observers?: ReplayObserver[];
  /** Told about every Result with the entry it came from. */
  onResult?: (result: Result, entry: LogEntry<Capture>) => void;
}

export type ReplayMode = 'follow' | 'window' | 'soak';

export type PaceConfig = { kind: 'asap' } | { kind: 'recorded'; speed: number; originMs?: number } | { kind: 'rate'; rate: number; maxLatenessMs: number; strict: boolean };

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
  guardedWrites: boolean;
  rules: RequestRules;
  timeoutMs: number;
  retries: number;
  circuitBreaker: CircuitBreakerOptions;
  maxBodyBytes: number;
  drainTimeoutMs: number;
  redaction: ResolvedRedaction;
  secrets: RequestSecrets;
}

/** A stable instance sent the same requests as the target: the A/A baseline or the reference. */
export interface PeerConfig {
  target: URL;
  rules: RequestRules;
  /** The allowed methods that are also safe: an unsafe method never reaches a stable instance. */
  allowedMethods: ReadonlySet<string>;
}

/** Checks the options once and applies the defaults (replay-defaults.ts), destructured as kafkajs's producer factory does. */
export function resolveReplayOptions(options: ReplayOptions): ReplayConfig {
  const {
    source,
    follow = false,
    fromMs,
    toMs,
    pace: paceMode = replayDefaults.pace,
    speed = replayDefaults.speed,
    rate,
    maxLatenessMs = replayDefaults.maxLatenessMs,
    strictOpenModel = replayDefaults.strictOpenModel,
    concurrency = replayDefaults.concurrency,
    allowMethods = replayDefaults.allowMethods,
    guardedWrites = replayDefaults.guardedWrites,
    setHeaders: setHeaderList = [],
    removeHeaders: removeHeaderList = [],
    pathPrefixRewrite: prefix,
    hostRewrite,
    timeoutMs = replayDefaults.timeoutMs,
    retries = replayDefaults.retries,
    circuitBreaker: { failureThreshold = replayDefaults.breakerFailures, probeIntervalMs = replayDefaults.breakerProbeIntervalMs } = {},
    maxBodyBytes = replayDefaults.maxBodyBytes,
    drainTimeoutMs = replayDefaults.drainTimeoutMs,
    sealKeys = [],
    allowMasked = replayDefaults.allowMasked,
  } = options;
  const target = parseHttpUrl(options.target, '--target');
  const baselineTarget = options.baseline === undefined ? undefined : parseHttpUrl(options.baseline, '--baseline');
  if (baselineTarget?.origin === target.origin) throw usageError(`--baseline must be another origin than --target; both are ${target.origin}`);
  const referenceTarget = typeof options.reference === 'string' ? parseHttpUrl(options.reference, '--reference') : undefined;
  if (referenceTarget?.origin === target.origin) throw usageError(`--reference must be a stable instance, another origin than --target; both are ${target.origin}`);
  if (referenceTarget && referenceTarget.origin === baselineTarget?.origin) {
    throw usageError(`--baseline must be a second stable instance, another origin than --reference; both are ${referenceTarget.origin}`);
  }
  const positive = (n: number, name: string, integer = false): number => {
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw usageError(`${name} must be a positive ${integer ? 'integer' : 'number'}; got ${n}`);
    return n;
  };
  if (!Number.isFinite(maxLatenessMs) || maxLatenessMs < 0) throw usageError(`--max-lateness must be a number of 0 or more; got ${maxLatenessMs}`);
  if (!Number.isInteger(retries) || retries < 0) throw usageError(`--retries must be 0 or more; got ${retries}`);
  if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs) throw usageError('--from must be before --to');
  if (rate !== undefined && paceMode === 'recorded') throw usageError('--rate and --pace recorded exclude each other: pick one way to pace');
  const pace: PaceConfig =
    rate !== undefined
      ? { kind: 'rate', rate: positive(rate, '--rate'), maxLatenessMs, strict: strictOpenModel }
      : paceMode === 'recorded'
        ? { kind: 'recorded', speed: positive(speed, '--speed'), originMs: source.plan?.originMs }
        : { kind: 'asap' };
  if (prefix && !prefix.from.startsWith('/')) throw usageError(`--path-prefix-rewrite must rewrite a path starting with /; got "${prefix.from}"`);
  const allowedMethods = new Set(allowMethods.map((m) => m.toUpperCase()));
  if (setHeaderList.some((h) => h.name.toLowerCase() === 'host')) throw usageError('--set-header cannot set Host: use --host-rewrite <host>');
  const setHeaders = resolveSetHeaders(setHeaderList);
  const removeHeaders = new Set(removeHeaderList.map((h) => h.toLowerCase()));
  // The shadow's path and Host rewrites are for the new version; a stable gets the recorded request.
  const peer = (peerTarget: URL): PeerConfig => ({
    target: peerTarget,
    rules: { target: peerTarget, setHeaders, removeHeaders },
    allowedMethods: new Set(replayDefaults.allowMethods.filter((m) => allowedMethods.has(m))),
  });
  return {
    target,
    baseline: baselineTarget && peer(baselineTarget),
    reference: referenceTarget && peer(referenceTarget),
    referenceOptional: options.reference === false,
    replayMode: source.plan?.replayMode ?? (follow ? 'follow' : 'window'),
    group: options.group ?? defaultGroup({ follow, fromMs, toMs, target }),
    // A source that replays a plan (a soak) holds no position worth committing.
    commit: source.plan === undefined,
    pace,
    concurrency: positive(concurrency, '--concurrency', true),
    allowedMethods,
    guardedWrites,
    rules: { target, hostRewrite, pathPrefixRewrite: prefix, setHeaders, removeHeaders },
    timeoutMs: positive(timeoutMs, '--timeout'),
    retries,
    circuitBreaker: { failureThreshold: positive(failureThreshold, '--breaker-failures', true), probeIntervalMs: positive(probeIntervalMs, '--breaker-probe-interval') },
    maxBodyBytes: positive(maxBodyBytes, '--max-body', true),
    drainTimeoutMs: positive(drainTimeoutMs, '--drain-timeout'),
    // The replay only redacts answers: seal mode needs no public key here.
    redaction: resolveRedaction(options.redaction, { sealing: false }),
    secrets: {
      openingKeys: new Map(sealKeys.map((key) => [key.keyId, key])),
      allowMasked,
      replacedHeaders: new Set(setHeaders.map((h) => h.name.toLowerCase())),
    },
  };
}
