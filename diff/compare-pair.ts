import { configError } from '../shared/errors.js';
import { headerValue, type HttpResponse, type RequestChange } from '../shared/records/types.js';
import { decodeBody, jsonBytes, type DecodedBody } from './body-decode.js';
import { bySeverity, excerpt, isReal, severityOf, type Change, type Difference, type DifferenceKind } from './difference.js';
import { diffHeaders } from './header-diff.js';
import { parseArrayKeys, parseIgnoreRules, rulesForRoute, type ArrayKeyRule, type IgnoreRules, type RouteRules } from './ignore-rules.js';
import { diffJson, type JsonDiffOptions, type JsonDifference } from './json-diff.js';
import { diffJsonLockstep } from './json-lockstep.js';
import { diffSideEffects, type SideEffectPair } from './side-effect-diff.js';
import { fieldOf, formatPath, type PathSegment } from './json-path.js';
import { maskVolatile, noiseReason } from './noise-heuristics.js';
import { redactionEffect, type RedactedFields } from './redaction-view.js';
import { replayInduced } from './replay-induced.js';
import { findReview, noReviewedDifferences, parseReviewedDifferences, type ReviewedDifferences } from './reviewed-differences.js';
import { diffText } from './text-diff.js';
import { compareTruncatedBodies } from './truncated-bodies.js';

/** Everything that decides how two responses compare; built once by compileRules. */
export interface CompareRules {
  ignore: IgnoreRules;
  arrayKeys: ArrayKeyRule[];
  /** Numbers closer than this (absolute) are equal. */
  numberTolerance: number;
  reviewed: ReviewedDifferences;
  /** Timestamp, id and counter heuristics; on by default. */
  heuristics: boolean;
  /** Differences listed per pair before the list is cut. */
  maxDifferences: number;
  /** The rules of each route seen, so route selectors are matched once per route, not per difference. */
  routeRules: Map<string | undefined, RouteRules>;
}

/** Routes whose rules are kept; past it the cache starts over (routes are capped by the summary anyway). */
const maxCachedRoutes = 2000;

function rulesOf(rules: CompareRules, route: string | undefined): RouteRules {
  let found = rules.routeRules.get(route);
  if (!found) {
    if (rules.routeRules.size >= maxCachedRoutes) rules.routeRules.clear();
    found = rulesForRoute(rules.ignore, rules.arrayKeys, route);
    rules.routeRules.set(route, found);
  }
  return found;
}

export interface RuleOptions {
  ignore?: readonly string[];
  arrayKeys?: readonly string[];
  numberTolerance?: number;
  /** Content of the reviewed-differences YAML file. */
  accepted?: string;
  heuristics?: boolean;
  maxDifferences?: number;
}

/** Validates and compiles rules; mistakes throw one configError naming the rule. */
export function compileRules(options: RuleOptions = {}): CompareRules {
  const tolerance = options.numberTolerance ?? 0;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw configError(`number tolerance must be 0 or more; got ${tolerance}`);
  return {
    ignore: parseIgnoreRules(options.ignore ?? []),
    arrayKeys: parseArrayKeys(options.arrayKeys ?? []),
    numberTolerance: tolerance,
    reviewed: options.accepted ? parseReviewedDifferences(options.accepted) : noReviewedDifferences,
    heuristics: options.heuristics ?? true,
    maxDifferences: options.maxDifferences ?? 100,
    routeRules: new Map(),
  };
}

export type CompareVerdict = 'match' | 'mismatch' | 'noise' | 'accepted' | 'not-compared';

/** What is known about the pair besides both responses; each field explains differences the tool itself caused. */
/** What the comparison knows beyond the two answers. */
export interface PairContext {
  /** What the replay changed in the request (Result.requestChanges): differences they explain are replay-induced noise. */
  requestChanges?: readonly RequestChange[];
  /** The fields redaction touched on either side. */
  redacted?: RedactedFields;
  /** Side effects of both sides. */
  effects?: SideEffectPair;
}

export interface PairVerdict {
  verdict: CompareVerdict;
  /** Most severe first. */
  differences: Difference[];
  /** More differences existed than maxDifferences. */
  truncated: boolean;
  /** Anything that limited the comparison, e.g. a truncated or undecodable body. */
  notes: string[];
  /** Unified diff of text bodies, only when they differ. */
  textPatch?: string;
  /** Why the bodies could not be compared (a short fixed phrase; the notes say more); the verdict is then `not-compared` unless a real difference exists. */
  notCompared?: string;
}

const statusClass = (status: number) => Math.floor(status / 100);

/** What a difference at a redacted field shows instead of a value. */
const hiddenValue = '(redacted)';

/**
 * Compares stable's and shadow's responses for one request. `route` (`GET /users/{id}`)
 * selects route-scoped rules and reviewed entries; `context` says which fields redaction touched
 * and, when given, the side effects of both sides, which are compared too.
 */
export function comparePair(stable: HttpResponse, shadow: HttpResponse, rules: CompareRules, route?: string, context: PairContext = {}): PairVerdict {
  const { redacted, effects } = context;
  const differences: Difference[] = [];
  const notes: string[] = [];
  let textPatch: string | undefined;
  let truncated = false;
  let notCompared: string | undefined;
  const changes = context.requestChanges !== undefined && context.requestChanges.length > 0 ? context.requestChanges : undefined;

  // The side a difference lacks follows from its change: nothing stable for `added`, nothing shadow for `removed`.
  const add: Add = (kind, path, field, change, stableValue, shadowValue, noise, segments) => {
    const effect = redacted && kind !== 'side-effect' && redactionEffect(redacted, kind, path, segments, [stableValue, shadowValue]);
    // A redacted field is never a value difference; in hash mode a different secret still differs, unseen.
    if (effect === 'not-compared' && (change === 'value-changed' || change === 'type-changed')) return;
    if (effect) [stableValue, shadowValue] = [hiddenValue, hiddenValue];
    if (changes) noise = replayInduced(changes, nameOf(kind, path, segments), change, stableValue, shadowValue) ?? noise;
    const review = rules.reviewed.compiled.length > 0 ? findReview(rules.reviewed, route, kind, path, segments) : undefined;
    const elementChange = segments !== undefined && typeof segments.at(-1) !== 'string' && (change === 'removed' || change === 'added');
    // An array element coming or going changes a value, not the schema.
    const d: Difference = { kind, path, field, change, severity: elementChange ? 'value' : severityOf[change] };
    if (change !== 'added') d.stable = excerpt(stableValue);
    if (change !== 'removed') d.shadow = excerpt(shadowValue);
    if (noise) d.noise = noise;
    if (review) d.review = { status: review.status, reason: review.reason };
    differences.push(d);
  };

  const classChanged = statusClass(stable.status) !== statusClass(shadow.status);
  if (stable.status !== shadow.status) {
    add('status', 'status', 'status', classChanged ? 'status-class-changed' : 'value-changed', stable.status, shadow.status, undefined);
  }

  const routeRules = rulesOf(rules, route);
  const bodyStart = differences.length;
  let bodiesDecoded = false;
  let lockstep: { truncated: boolean } | undefined;
  if (classChanged) {
    // A 200 body and a 500 body are different documents; listing every field of both would bury the status change.
    notes.push(`status class changed (${stable.status} → ${shadow.status}); bodies not compared field by field`);
  } else if (stable.truncated || shadow.truncated) {
    const large = compareTruncatedBodies(stable, shadow, headerValue(stable.headers, 'content-encoding'), headerValue(shadow.headers, 'content-encoding'));
    if (large.outcome === 'equal') bodiesDecoded = true;
    else if (large.outcome === 'not-compared') {
      notCompared = large.reason;
      notes.push(large.detail);
    } else {
      notes.push(large.note);
      add('body', '$', '$', 'value-changed', large.stable, large.shadow, undefined, []);
    }
  } else if (sameBytes(stable, shadow)) {
    // The common case costs a memcmp: equal bytes under equal type and encoding are equal content.
    bodiesDecoded = true;
  } else if ((lockstep = compareJsonBytes(stable, shadow, rules, routeRules, add))) {
    // JSON bodies that differ in a few values: compared as bytes, neither parsed.
    truncated = lockstep.truncated;
    bodiesDecoded = true;
  } else {
    const a = decodeBody(stable);
    const b = decodeBody(shadow);
    for (const note of [a.note && `stable: ${a.note}`, b.note && `shadow: ${b.note}`]) if (note) notes.push(note);
    const body = compareBodies(a.body, b.body, rules, routeRules, add);
    textPatch = body.textPatch;
    truncated = body.truncated;
    bodiesDecoded = a.note === undefined && b.note === undefined;
  }
  // Equal content sent with another content-encoding (gzip vs identity, br vs gzip) is a transport
  // choice, usually the client's accept-encoding, not a different answer.
  const sameContent = bodiesDecoded && !differences.slice(bodyStart).some((d) => d.noise === undefined);

  for (const h of diffHeaders(stable.headers, shadow.headers, rules.ignore.silentHeaders)) {
    if (h.name === 'content-encoding' && sameContent) continue;
    const rule = routeRules.headerRule(h.name);
    const heuristic = rules.heuristics && h.stable !== undefined && h.shadow !== undefined ? noiseReason(h.stable, h.shadow) : undefined;
    const path = `header:${h.name}`;
    add('header', path, path, h.change, h.stable, h.shadow, rule ? `rule ${rule.source}` : heuristic);
  }

  if (effects) {
    const compared = diffSideEffects(effects);
    if (compared.note) notes.push(compared.note);
    for (const d of compared.differences) {
      const review = rules.reviewed.compiled.length > 0 ? findReview(rules.reviewed, route, d.kind, d.path, undefined) : undefined;
      differences.push(review ? { ...d, review: { status: review.status, reason: review.reason } } : d);
    }
  }

  differences.sort(bySeverity);
  const verdict = notCompared !== undefined && !differences.some(isReal) ? 'not-compared' : verdictOf(differences);
  return { verdict, differences, truncated, notes, ...(textPatch !== undefined && { textPatch }), ...(notCompared !== undefined && { notCompared }) };
}

/** The header or JSON member name a difference is about, for matching it to a request change. */
function nameOf(kind: DifferenceKind, path: string, segments: PathSegment[] | undefined): string | undefined {
  if (kind === 'header') return path.slice('header:'.length);
  const last = segments?.at(-1);
  return typeof last === 'string' ? last : undefined;
}

function sameBytes(a: HttpResponse, b: HttpResponse): boolean {
  return (
    a.body.equals(b.body) &&
    headerValue(a.headers, 'content-type') === headerValue(b.headers, 'content-type') &&
    headerValue(a.headers, 'content-encoding') === headerValue(b.headers, 'content-encoding')
  );
}

function verdictOf(differences: readonly Difference[]): CompareVerdict {
  if (differences.some(isReal)) return 'mismatch';
  if (differences.some((d) => d.review?.status === 'accepted' && d.noise === undefined)) return 'accepted';
  return differences.length > 0 ? 'noise' : 'match';
}

type Add = (
  kind: DifferenceKind,
  path: string,
  field: string,
  change: Change,
  stable: unknown,
  shadow: unknown,
  noise: string | undefined,
  segments?: PathSegment[],
) => void;

const jsonOptions = (rules: CompareRules, routeRules: RouteRules): JsonDiffOptions => ({
  numberTolerance: rules.numberTolerance,
  maxDifferences: rules.maxDifferences,
  arrayKey: routeRules.arrayKey,
});

/** Two JSON bodies compared without parsing them, when both are UTF-8 JSON that differ in scalar values alone (see diffJsonLockstep); undefined otherwise. */
function compareJsonBytes(stable: HttpResponse, shadow: HttpResponse, rules: CompareRules, routeRules: RouteRules, add: Add): { truncated: boolean } | undefined {
  const a = jsonBytes(stable);
  const b = a && jsonBytes(shadow);
  const compared = b && diffJsonLockstep(a, b, jsonOptions(rules, routeRules));
  return compared ? addJsonDifferences(compared, rules, routeRules, add) : undefined;
}

function addJsonDifferences(compared: { differences: JsonDifference[]; truncated: boolean }, rules: CompareRules, routeRules: RouteRules, add: Add): { truncated: boolean } {
  for (const d of compared.differences) {
    const rule = routeRules.pathRule(d.path);
    const last = d.path.at(-1);
    const heuristic =
      rules.heuristics && d.change === 'value-changed' ? noiseReason(d.stable, d.shadow, typeof last === 'string' ? last : undefined) : undefined;
    add('body', formatPath(d.path), fieldOf(d.path), d.change, d.stable, d.shadow, rule ? `rule ${rule.source}` : heuristic, d.path);
  }
  return { truncated: compared.truncated };
}

function compareBodies(
  a: DecodedBody,
  b: DecodedBody,
  rules: CompareRules,
  routeRules: RouteRules,
  add: Add,
): { textPatch?: string; truncated: boolean } {
  if (a.type === 'json' && b.type === 'json') return addJsonDifferences(diffJson(a.value, b.value, jsonOptions(rules, routeRules)), rules, routeRules, add);
  if (a.type === 'text' && b.type === 'text') {
    if (a.text === b.text) return { truncated: false };
    const { differences, patch, truncated } = diffText(a.text, b.text);
    for (const d of differences) {
      const noise =
        rules.heuristics && d.stable !== undefined && d.shadow !== undefined && maskVolatile(d.stable) === maskVolatile(d.shadow)
          ? 'embedded-id'
          : undefined;
      add('body', `line:${d.line}`, 'line:*', d.change, d.stable, d.shadow, noise);
    }
    return { textPatch: patch, truncated };
  }
  if (a.type === 'binary' && b.type === 'binary') {
    if (a.sha256 !== b.sha256) {
      add('body', '$', '$', 'value-changed', `${a.size} bytes sha256:${a.sha256.slice(0, 16)}`, `${b.size} bytes sha256:${b.sha256.slice(0, 16)}`, undefined, []);
    }
    return { truncated: false };
  }
  if (a.type === 'empty' && b.type === 'empty') return { truncated: false };
  add('body', '$', '$', 'type-changed', describe(a), describe(b), undefined, []);
  return { truncated: false };
}

function describe(body: DecodedBody): string {
  switch (body.type) {
    case 'empty':
      return '(empty body)';
    case 'json':
      return `JSON ${body.text.slice(0, 80)}`;
    case 'text':
      return `text ${body.text.slice(0, 80)}`;
    default:
      return `${body.size} bytes of binary`;
  }
}
