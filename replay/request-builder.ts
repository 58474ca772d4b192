import { isSensitiveName } from '../shared/redaction/sensitive-names.js';
import { configError } from '../shared/errors.js';
import { hopByHopHeaders } from '../shared/http/hop-by-hop.js';
import type { Header, HttpRequest, RequestChange } from '../shared/records/types.js';
import { replayMarkers } from '../shared/records/replay-markers.js';
import { originFormPath } from './side-effect-guard.js';

/** The request as undici takes it: headers as a flat name/value list so order and duplicates survive. */
export interface OutgoingRequest {
  method: string;
  path: string;
  headers: string[];
  /** An array of one chunk when stable received the body chunked (no content-length), so undici chunks it too. */
  body: Buffer | Buffer[] | undefined;
  /** Everything the replay changed from the recorded request, for Result.requestChanges. */
  changes: RequestChange[];
}

/**
 * What a RequestChange's kind says (the diff reads them to explain echoed differences):
 * - marker-added: a marker header the recorded request did not carry (or carried with another value);
 * - host-kept: the recorded Host sent as is (connections still go to the target only);
 * - host-rewritten: --host-rewrite replaced the recorded Host;
 * - host-set: the recording had no Host, the target's host was sent;
 * - header-set / header-removed: --set-header / --remove-header;
 * - path-prefix-rewritten: --path-prefix-rewrite (from/to are the prefixes);
 * - hop-by-hop-dropped: a per-connection header of the recording (imported captures) not sent;
 * - content-length-set: the body sent is not as long as the recorded content-length said.
 */
export type RequestChangeKind =
  | 'marker-added'
  | 'host-kept'
  | 'host-rewritten'
  | 'host-set'
  | 'header-set'
  | 'header-removed'
  | 'path-prefix-rewritten'
  | 'hop-by-hop-dropped'
  | 'content-length-set';

/** A --set-header, its value resolved, with what a Result may show of it. */
export interface SetHeader extends Header {
  /** `env:NAME` for a value read from the environment, null for a sensitive name, else the value. */
  shown: string | null;
}

export interface RequestRules {
  /** The origin requests go to; its host is the Host header only when the recording has none. */
  target: URL;
  /** Host header sent instead of the recorded one. */
  hostRewrite?: string;
  pathPrefixRewrite?: { from: string; to: string };
  /** Added or replacing recorded headers of the same name; already resolved (no `env:`). */
  setHeaders: SetHeader[];
  /** Lower-case names dropped from the recorded headers. */
  removeHeaders: ReadonlySet<string>;
}

/**
 * Per-connection headers (RFC 9110 §7.6.1) and ones undici refuses; captures already leave them
 * out, imported or older ones may not. Host and content-length are handled on their own.
 */
const hopByHop = new Set([...hopByHopHeaders, 'expect', 'http2-settings']);


/** Resolves `env:NAME` header values once at start-up; a missing variable is a configuration mistake. */
export function resolveSetHeaders(headers: Header[], env: NodeJS.ProcessEnv = process.env): SetHeader[] {
  return headers.map(({ name, value }) => {
    if (!value.startsWith('env:')) return { name, value, shown: isSensitiveName(name) ? null : value };
    const variable = value.slice('env:'.length);
    const resolved = env[variable];
    if (resolved === undefined) throw configError(`--set-header ${name}: environment variable ${variable} is not set`);
    return { name, value: resolved, shown: value };
  });
}

/** What buildRequest derives from the rules alone, computed once per rules instead of once per request. */
interface DerivedRules {
  /** Recorded headers these replace (set headers and markers), lower-case. */
  replaced: ReadonlySet<string>;
  /** Appended after the recorded headers: markers not overridden by --set-header, then the set headers. */
  appended: string[];
  markers: Header[];
  /** The markers' changes when the recording had none of them: the common case, built once. */
  markerChanges: RequestChange[];
}

const derived = new WeakMap<RequestRules, DerivedRules>();

function derive(rules: RequestRules): DerivedRules {
  let found = derived.get(rules);
  if (!found) {
    const setNames = new Set(rules.setHeaders.map((h) => h.name.toLowerCase()));
    // Markers are always sent (--remove-header applies to recorded headers only); --set-header may change their value.
    const markers = replayMarkers.filter((h) => !setNames.has(h.name.toLowerCase()));
    const appended = [...markers, ...rules.setHeaders].flatMap(({ name, value }) => [name, value]);
    const markerChanges = markers.map((h) => Object.freeze({ kind: 'marker-added', name: h.name, from: null, to: h.value }));
    found = { replaced: new Set([...rules.setHeaders, ...replayMarkers].map((h) => h.name.toLowerCase())), appended, markers, markerChanges };
    derived.set(rules, found);
  }
  return found;
}

/** A recorded value as a change may show it: the capture already holds it redacted, but a sensitive name never shows one. */
const shownValue = (name: string, value: string | undefined): string | null => (value === undefined || isSensitiveName(name) ? null : value);

/**
 * Rebuilds a recorded request as stable received it, for the target: origin-form path (the
 * connection only ever goes to the target), the recorded headers with the recorded Host, the
 * markers and the configured rewrites, each change listed.
 */
export function buildRequest(request: HttpRequest, rules: RequestRules): OutgoingRequest {
  const changes: RequestChange[] = [];
  let path = originFormPath(request.path, request.query);
  const rewrite = rules.pathPrefixRewrite;
  if (rewrite && path.startsWith(rewrite.from)) {
    path = rewrite.to + path.slice(rewrite.from.length);
    changes.push({ kind: 'path-prefix-rewritten', name: 'path', from: rewrite.from, to: rewrite.to });
  }

  const { replaced, appended, markers, markerChanges } = derive(rules);
  // Names listed in Connection are hop-by-hop for this one message too.
  let connectionListed: Set<string> | undefined;
  for (const h of request.headers) {
    if (h.name.toLowerCase() !== 'connection') continue;
    connectionListed ??= new Set();
    for (const token of h.value.split(',')) connectionListed.add(token.trim().toLowerCase());
  }
  const headers: string[] = [];
  let recordedHost: string | undefined;
  let contentLength: string | undefined;
  /** Recorded values of the headers the markers and --set-header replace (rare: made only when needed). */
  let recorded: Map<string, string> | undefined;
  for (const { name, value } of request.headers) {
    const lower = name.toLowerCase();
    if (lower === 'host') {
      recordedHost ??= value;
      continue;
    }
    if (lower === 'content-length') {
      contentLength ??= value;
      continue;
    }
    if (hopByHop.has(lower) || lower.startsWith('proxy-') || connectionListed?.has(lower)) {
      changes.push({ kind: 'hop-by-hop-dropped', name, from: shownValue(name, value), to: null });
      continue;
    }
    if (replaced.has(lower)) {
      recorded ??= new Map();
      if (!recorded.has(lower)) recorded.set(lower, value);
      continue;
    }
    if (rules.removeHeaders.has(lower)) {
      changes.push({ kind: 'header-removed', name, from: shownValue(name, value), to: null });
      continue;
    }
    headers.push(name, value);
  }
  for (const item of appended) headers.push(item);
  if (!recorded) changes.push(...markerChanges);
  else {
    for (const marker of markers) {
      const before = recorded.get(marker.name.toLowerCase());
      if (before !== marker.value) changes.push({ kind: 'marker-added', name: marker.name, from: before ?? null, to: marker.value });
    }
  }
  for (const set of rules.setHeaders) {
    const before = recorded?.get(set.name.toLowerCase());
    if (before !== set.value) changes.push({ kind: 'header-set', name: set.name, from: shownValue(set.name, before), to: set.shown });
  }

  // undici writes Host first whatever its place in the list, as stable's proxy (undici too) did.
  const host = rules.hostRewrite ?? recordedHost ?? rules.target.host;
  headers.unshift('host', host);
  if (rules.hostRewrite !== undefined) changes.push({ kind: 'host-rewritten', name: 'host', from: recordedHost ?? null, to: host });
  else if (recordedHost !== undefined) changes.push({ kind: 'host-kept', name: 'host', from: recordedHost, to: host });
  else changes.push({ kind: 'host-set', name: 'host', from: null, to: host });

  let body: OutgoingRequest['body'];
  if (request.body.length > 0) {
    // undici computes content-length from the body; without a recorded one stable got the body chunked.
    body = contentLength === undefined ? [request.body] : request.body;
    if (contentLength !== undefined && Number(contentLength) !== request.body.length) {
      changes.push({ kind: 'content-length-set', name: 'content-length', from: contentLength, to: String(request.body.length) });
    }
  } else if (contentLength !== undefined && contentLength.trim() !== '0') {
    changes.push({ kind: 'content-length-set', name: 'content-length', from: contentLength, to: '0' });
  }
  return { method: request.method.toUpperCase(), path, headers, body, changes };
}
