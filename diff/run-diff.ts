import { resultKind, type RecordLog } from '../shared/log/record-log.js';
import type { Capture, HttpResponse, Result } from '../shared/records/types.js';
import { decodeBody } from './body-decode.js';
import { compactDifference, type PairRecord } from './pair-record.js';
import { comparePair, compileRules, type CompareRules, type PairVerdict, type RuleOptions } from './compare-pair.js';
import type { Difference, VerdictKind } from './difference.js';
import type { NoiseThresholds } from './field-calibration.js';
import type { LatencyBasis } from './latency-stats.js';
import { joinPairs } from './pair-join.js';
import { withReferences } from './reference-pairing.js';
import { buildReport, validateThresholds, type DiffReport, type Thresholds } from './report.js';
import { maskedParts } from '../shared/redaction/redaction-entry.js';
import { redactedFields } from './redaction-view.js';
import { parseRoutePattern, routeKey, routeTemplate, type RoutePattern } from './route-template.js';
import { addBaselineOutcome, addOutcome, newSummary, type DiffSummary, type SamplePair, type SideSample } from './summary.js';
import { diffDefaults } from './diff-defaults.js';

export interface DiffOptions extends RuleOptions {
  captures: RecordLog<Capture>;
  results: RecordLog<Result>;
  /** Window of captures, ms since the epoch; results are read from fromMs on. */
  fromMs?: number;
  toMs?: number;
  /** Keep tailing both logs until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Route patterns such as /users/:id that override detected templates. */
  routes?: readonly string[];
  thresholds?: Thresholds;
  samplesPerRoute?: number;
  /** Most captures (and, apart, most early results) held in memory while pairing. */
  joinWindow?: number;
  /** Size of the time buckets of the report, ms. */
  bucketMs?: number;
  /** Told each pair's verdict as it is decided (for JSON Lines output). */
  onVerdict?: (record: PairRecord) => void;
  /** Told in one line about damage met in the logs (a damaged block, a cut tail). */
  onWarning?: (message: string) => void;
  /**
   * Results sent to this target (a second instance of stable) are A/A results: they calibrate
   * which fields differ for no reason (field-calibration.ts) instead of being judged.
   */
  baselineTarget?: string;
  noiseThresholds?: NoiseThresholds;
}

const bodyExcerptChars = 2048;

/** The diff stage: pairs captures with results, judges each pair, and summarises or reports. */
export interface Diff {
  /** Pairs, compares and summarises; the summary can be merged with other workers' (mergeSummaries). */
  summarize(): Promise<DiffSummary>;
  /** Pairs, compares and builds the report the renderers read. */
  run(): Promise<DiffReport>;
}

/**
 * The diff stage's factory: defaults come from diff-defaults.ts, and rules, route patterns and
 * thresholds are checked here, so a bad option fails before anything is read.
 */
export function createDiff(options: DiffOptions): Diff {
  const resolved: DiffOptions = {
    ...options,
    joinWindow: options.joinWindow ?? diffDefaults.joinWindow,
    samplesPerRoute: options.samplesPerRoute ?? diffDefaults.samplesPerRoute,
    bucketMs: options.bucketMs ?? diffDefaults.bucketMs,
    noiseThresholds: options.noiseThresholds ?? diffDefaults.noiseThresholds,
  };
  const rules = compileRules(resolved);
  const patterns = (resolved.routes ?? []).map(parseRoutePattern);
  if (resolved.thresholds) validateThresholds(resolved.thresholds);
  const summarize = () => summarizeWith(resolved, rules, patterns);
  return {
    summarize,
    run: async () =>
      buildReport(await summarize(), {
        thresholds: resolved.thresholds,
        fromMs: resolved.fromMs,
        toMs: resolved.toMs,
        baselineTarget: resolved.baselineTarget,
        noiseThresholds: resolved.noiseThresholds,
      }),
  };
}

/** createDiff(options).summarize(). */
export function summarizeDiff(options: DiffOptions): Promise<DiffSummary> {
  return createDiff(options).summarize();
}

/** createDiff(options).run(). */
export function runDiff(options: DiffOptions): Promise<DiffReport> {
  return createDiff(options).run();
}

async function summarizeWith(options: DiffOptions, rules: CompareRules, patterns: RoutePattern[]): Promise<DiffSummary> {
  const summary = newSummary({ samplesPerRoute: options.samplesPerRoute, bucketMs: options.bucketMs });
  const onDeadLetter = () => void summary.deadLetters++;
  const captures = options.captures.read({ fromMs: options.fromMs, toMs: options.toMs, follow: options.follow, signal: options.signal, onDeadLetter, onWarning: options.onWarning });
  // Results of the last captures of a window, and of soaks of an old window, are sent after toMs.
  const results = options.results.read({ fromMs: options.fromMs, follow: options.follow, signal: options.signal, onDeadLetter, onWarning: options.onWarning });
  const judge = createPairJudge(rules, patterns);
  const baselineOrigin = options.baselineTarget === undefined ? undefined : originOf(options.baselineTarget);
  // Results name few targets: their origins are worked out once each, not per result.
  const origins = new Map<string, string>();
  const isBaseline =
    baselineOrigin === undefined
      ? undefined
      : (result: Result) => {
          let origin = origins.get(result.target);
          if (origin === undefined) {
            origin = originOf(result.target);
            if (origins.size < 1000) origins.set(result.target, origin);
          }
          return origin === baselineOrigin;
        };
  const joinWindow = options.joinWindow ?? diffDefaults.joinWindow;
  const join = withReferences(joinPairs(captures, results, { joinWindow, follow: options.follow, isBaseline }), {
    follow: options.follow ?? false,
    maxPending: joinWindow,
  });

  for await (const event of join) {
    if (event.type === 'unmatched-reference') summary.unmatchedReferences++;
    else if (event.type === 'pair' && event.role === 'baseline') judgeBaseline(summary, rules, patterns, event.capture, event.result);
    else if (event.type === 'duplicate') {
      // As unpaired results: a copy sent past the window belongs to a later window's report.
      if (event.role === 'shadow' && (options.toMs === undefined || resultKind.timestampMs(event.result) < options.toMs)) summary.duplicates++;
    } else if (event.type === 'unpaired') {
      // Results past the window belong to captures of a later window, not to this report.
      if (event.role === 'shadow' && (options.toMs === undefined || event.timestampMs < options.toMs)) summary.unpaired++;
    } else {
      if (event.type === 'missing' && event.evicted) summary.evicted++;
      const judged = event.type === 'pair' ? judge(event.capture, event.result, event.reference) : judge(event.capture, null);
      addOutcome(summary, judged.outcome);
      options.onVerdict?.(judged.record());
    }
    if (options.signal?.aborted) break;
  }
  return summary;
}

/** The origin replay writes as a Result's target (`http://host:port`), so URLs with paths or a trailing slash still match. */
export function originOf(target: string): string {
  try {
    return new URL(target).origin;
  } catch {
    return target.replace(/\/+$/, '');
  }
}

/** An A/A pair only feeds the calibration; failures and request-only captures have nothing to compare. */
export function judgeBaseline(summary: DiffSummary, rules: CompareRules, patterns: readonly RoutePattern[], capture: Capture, result: Result): void {
  if (!capture.response || !result.response || result.outcome !== 'response') return;
  const route = routeKey(capture.request.method, routeTemplate(capture.request.path, patterns));
  addBaselineOutcome(summary, { route, differences: comparePair(capture.response, result.response, rules, route, { redacted: redactedFields(capture, result, capture.redactionMode) }).differences });
}

/**
 * How stable's timing of a pair was taken, and whether it is comparable with the shadow's: a
 * reference asked at the same moment, or capture's timing in live mirroring; otherwise the
 * replay mode that makes it a different load.
 */
function latencyBasisOf(result: Result | null, reference: Result | null): LatencyBasis {
  if (reference) return 'reference';
  switch (result?.replayMode) {
    case 'follow':
      return 'live';
    case 'window':
    case 'soak':
      return result.replayMode;
    default:
      return 'unknown';
  }
}

/** Decides the verdict of one capture and its result (or none), for the summary and for JSON Lines. */
export function createPairJudge(rules: CompareRules, patterns: readonly RoutePattern[] = []) {
  return (capture: Capture, result: Result | null, reference: Result | null = null) => {
    const { method, path, query } = capture.request;
    const route = routeKey(method, routeTemplate(path, patterns));
    const url = query ? `${path}?${query}` : path;
    // A reference that failed gives neither an answer nor a timing worth comparing.
    const answered = reference?.outcome === 'response' && reference.response ? reference : null;
    // Stable's recorded answer is what the user got; a request-only capture is compared with the reference's.
    const stableResponse = capture.response ?? answered?.response ?? null;
    const latencyBasis = latencyBasisOf(result, answered);
    const stableMicros = answered ? answered.latencyMicros : capture.timings.end !== null ? capture.timings.end - capture.timings.start : null;
    // A failed send has no service latency worth comparing (a timeout would only measure the timeout).
    const shadowMicros = result?.response ? (result.latencyMicros ?? null) : null;
    let verdict: VerdictKind;
    let compared: PairVerdict | undefined;
    let error: string | undefined;
    let alteredReason: string | undefined;
    let redactedCount = 0;
    const masked = result ? maskedParts(result.requestChanges) : [];
    if (!result) verdict = 'missing';
    else if (result.outcome === 'skipped') verdict = 'skipped';
    else if (result.outcome === 'error' || !result.response) {
      verdict = 'shadow-error';
      error = result.error ? `${result.error.kind}: ${result.error.message}` : 'no response recorded';
    } else if (masked.length > 0) {
      // The shadow answered another request than stable did: a difference would prove nothing.
      verdict = 'altered';
      alteredReason = `request altered by redaction (${masked.join(', ')})`;
    } else if (!stableResponse) verdict = 'no-baseline';
    else {
      // Stable's side is the recorded answer, or the reference's for a request-only capture.
      const redacted = redactedFields(capture.response ? capture : answered!, result, capture.redactionMode);
      compared = comparePair(stableResponse, result.response, rules, route, {
        requestChanges: result.requestChanges,
        redacted,
        effects: { stable: capture.sideEffects, shadow: result.sideEffects, shadowGuarded: result.guarded },
      });
      redactedCount = redacted?.notCompared ?? 0;
      verdict = compared.verdict;
    }
    const differences: Difference[] = compared?.differences ?? [];
    const id = result?.id ?? capture.id;
    const timeMs = Math.floor((result?.sentTime ?? result?.scheduledTime ?? capture.captureTime) / 1000);
    // Built only when asked for (JSON Lines output): most runs only summarise.
    const record = (): PairRecord => ({
      id,
      captureId: capture.id,
      method,
      url,
      route,
      verdict,
      differences: differences.map(compactDifference),
      ...(error !== undefined && { error }),
      ...((alteredReason ?? compared?.notCompared) !== undefined && { notCompared: alteredReason ?? compared?.notCompared }),
      ...(redactedCount > 0 && { redactedFields: redactedCount }),
      ...(result?.skipReason ? { skipReason: result.skipReason } : {}),
      ...(!stableResponse && result?.response ? { shadowStatus: result.response.status } : {}),
      ...(!capture.response && answered ? { baseline: 'reference' as const } : {}),
      ...(stableMicros !== null && shadowMicros !== null && { latency: { basis: latencyBasis, stableMs: stableMicros / 1000, shadowMs: shadowMicros / 1000 } }),
    });
    const sample = (): SamplePair => ({
      id,
      method,
      url,
      route,
      verdict,
      stable: stableResponse ? side(stableResponse, stableMicros) : null,
      shadow: result?.response ? side(result.response, shadowMicros) : null,
      differences: differences.slice(0, 50),
      notes: compared?.notes ?? [],
      ...(compared?.textPatch !== undefined && { textPatch: compared.textPatch }),
      ...(error !== undefined && { error }),
    });
    const notCompared = compared?.notCompared;
    return { record, outcome: { id, route, verdict, timeMs, differences, stableMicros, shadowMicros, latencyBasis, redactedFields: redactedCount, ...(notCompared !== undefined && { notCompared }), sample } };
  };
}

function side(response: HttpResponse, micros: number | null): SideSample {
  const { body } = decodeBody(response);
  let text: string;
  if (body.type === 'json') text = JSON.stringify(body.value, null, 2);
  else if (body.type === 'text') text = body.text;
  else if (body.type === 'binary') text = `(${body.size} bytes of binary, sha256 ${body.sha256})`;
  else text = '';
  return {
    status: response.status,
    headers: response.headers.slice(0, 40),
    body: text.length > bodyExcerptChars ? `${text.slice(0, bodyExcerptChars)}\n… (${text.length - bodyExcerptChars} more characters)` : text,
    latencyMs: micros === null ? null : Math.round(micros) / 1000,
  };
}
