import type { RecordLog } from '../shared/log/record-log.js';
import type { Capture, HttpResponse, Result } from '../shared/records/types.js';
import { decodeBody } from './body-decode.js';
import { compactDifference, type PairRecord } from './pair-record.js';
import { comparePair, compileRules, type CompareRules, type PairVerdict, type RuleOptions } from './compare-pair.js';
import type { Difference, VerdictKind } from './difference.js';
import type { NoiseThresholds } from './field-calibration.js';
import { joinPairs } from './pair-join.js';
import { buildReport, validateThresholds, type DiffReport, type Thresholds } from './report.js';
import { parseRoutePattern, routeKey, routeTemplate, type RoutePattern } from './route-template.js';
import { addBaselineOutcome, addOutcome, newSummary, type DiffSummary, type SamplePair, type SideSample, type SummaryLimits } from './summary.js';

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

export const defaultJoinWindow = 20_000;

const bodyExcerptChars = 2048;

/** Pairs, compares and summarises; the summary can be merged with other workers' (mergeSummaries). */
export async function summarizeDiff(options: DiffOptions): Promise<DiffSummary> {
  const rules = compileRules(options);
  const patterns = (options.routes ?? []).map(parseRoutePattern);
  if (options.thresholds) validateThresholds(options.thresholds);
  const limits: Partial<SummaryLimits> = {
    ...(options.samplesPerRoute !== undefined && { samplesPerRoute: options.samplesPerRoute }),
    ...(options.bucketMs !== undefined && { bucketMs: options.bucketMs }),
  };
  const summary = newSummary(limits);
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
  const join = joinPairs(captures, results, { joinWindow: options.joinWindow ?? defaultJoinWindow, follow: options.follow, isBaseline });

  for await (const event of join) {
    if (event.type !== 'missing' && event.baseline) {
      if (event.type === 'pair') judgeBaseline(summary, rules, patterns, event.capture, event.result);
    } else if (event.type === 'duplicate') summary.duplicates++;
    else if (event.type === 'unpaired') {
      // Results past the window belong to captures of a later window, not to this report.
      if (options.toMs === undefined || event.timestampMs < options.toMs) summary.unpaired++;
    } else {
      if (event.type === 'missing' && event.evicted) summary.evicted++;
      const judged = event.type === 'pair' ? judge(event.capture, event.result) : judge(event.capture, null);
      addOutcome(summary, judged.outcome);
      options.onVerdict?.(judged.record());
    }
    if (options.signal?.aborted) break;
  }
  return summary;
}

export async function runDiff(options: DiffOptions): Promise<DiffReport> {
  const summary = await summarizeDiff(options);
  return buildReport(summary, {
    thresholds: options.thresholds,
    fromMs: options.fromMs,
    toMs: options.toMs,
    baselineTarget: options.baselineTarget,
    noiseThresholds: options.noiseThresholds,
  });
}

/** The origin replay writes as a Result's target (`http://host:port`), so URLs with paths or a trailing slash still match. */
function originOf(target: string): string {
  try {
    return new URL(target).origin;
  } catch {
    return target.replace(/\/+$/, '');
  }
}

/** An A/A pair only feeds the calibration; failures and request-only captures have nothing to compare. */
function judgeBaseline(summary: DiffSummary, rules: CompareRules, patterns: readonly RoutePattern[], capture: Capture, result: Result): void {
  if (!capture.response || !result.response || result.outcome !== 'response') return;
  const route = routeKey(capture.request.method, routeTemplate(capture.request.path, patterns));
  addBaselineOutcome(summary, { route, differences: comparePair(capture.response, result.response, rules, route).differences });
}

/** Decides the verdict of one capture and its result (or none), for the summary and for JSON Lines. */
export function createPairJudge(rules: CompareRules, patterns: readonly RoutePattern[] = []) {
  return (capture: Capture, result: Result | null) => {
    const { method, path, query } = capture.request;
    const route = routeKey(method, routeTemplate(path, patterns));
    const url = query ? `${path}?${query}` : path;
    const stableMicros = capture.timings.end !== null ? capture.timings.end - capture.timings.start : null;
    // A failed send has no service latency worth comparing (a timeout would only measure the timeout).
    const shadowMicros = result?.response ? (result.latencyMicros ?? null) : null;
    let verdict: VerdictKind;
    let compared: PairVerdict | undefined;
    let error: string | undefined;
    if (!result) verdict = 'missing';
    else if (result.outcome === 'skipped') verdict = 'skipped';
    else if (result.outcome === 'error' || !result.response) {
      verdict = 'shadow-error';
      error = result.error ? `${result.error.kind}: ${result.error.message}` : 'no response recorded';
    } else if (!capture.response) verdict = 'no-baseline';
    else {
      compared = comparePair(capture.response, result.response, rules, route);
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
      ...(result?.skipReason ? { skipReason: result.skipReason } : {}),
      ...(!capture.response && result?.response ? { shadowStatus: result.response.status } : {}),
    });
    const sample = (): SamplePair => ({
      id,
      method,
      url,
      route,
      verdict,
      stable: capture.response ? side(capture.response, stableMicros) : null,
      shadow: result?.response ? side(result.response, shadowMicros) : null,
      differences: differences.slice(0, 50),
      notes: compared?.notes ?? [],
      ...(compared?.textPatch !== undefined && { textPatch: compared.textPatch }),
      ...(error !== undefined && { error }),
    });
    return { record, outcome: { id, route, verdict, timeMs, differences, stableMicros, shadowMicros, sample } };
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
