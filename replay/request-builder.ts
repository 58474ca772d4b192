import { configError } from '../shared/errors.js';
import type { Header, HttpRequest } from '../shared/records/types.js';
import { originFormPath } from './side-effect-guard.js';

/** The request as undici takes it: headers as a flat name/value list so order and duplicates survive. */
export interface OutgoingRequest {
  method: string;
  path: string;
  headers: string[];
  body: Buffer | undefined;
}

export interface RequestRules {
  /** The shadow's origin; its host becomes the Host header unless hostRewrite is given. */
  target: URL;
  hostRewrite?: string;
  pathPrefixRewrite?: { from: string; to: string };
  /** Added or replacing recorded headers of the same name; already resolved (no `env:`). */
  setHeaders: Header[];
  /** Lower-case names dropped from the recorded headers. */
  removeHeaders: ReadonlySet<string>;
}

/** Per-connection headers (RFC 9110 §7.6.1) and ones undici computes or refuses. */
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'host', 'expect', 'http2-settings']);

/** Every replayed request carries both, so the shadow can switch into its shadow mode. */
export const markerHeaders: Header[] = [
  { name: 'x-shadowtap-replay', value: '1' },
  { name: 'X-Mirrored-Request', value: 'true' },
];

/** Resolves `env:NAME` header values once at start-up; a missing variable is a configuration mistake. */
export function resolveSetHeaders(headers: Header[], env: NodeJS.ProcessEnv = process.env): Header[] {
  return headers.map(({ name, value }) => {
    if (!value.startsWith('env:')) return { name, value };
    const variable = value.slice('env:'.length);
    const resolved = env[variable];
    if (resolved === undefined) throw configError(`--set-header ${name}: environment variable ${variable} is not set`);
    return { name, value: resolved };
  });
}

/** What buildRequest derives from the rules alone, computed once per rules instead of once per request. */
interface DerivedRules {
  /** Recorded headers these replace (set headers and markers), lower-case. */
  replaced: ReadonlySet<string>;
  /** Appended after the recorded headers: markers not overridden by --set-header, then the set headers. */
  appended: string[];
}

const derived = new WeakMap<RequestRules, DerivedRules>();

function derive(rules: RequestRules): DerivedRules {
  let found = derived.get(rules);
  if (!found) {
    const setNames = new Set(rules.setHeaders.map((h) => h.name.toLowerCase()));
    // Markers are always sent (--remove-header applies to recorded headers only); --set-header may change their value.
    const appended = [...markerHeaders.filter((h) => !setNames.has(h.name.toLowerCase())), ...rules.setHeaders].flatMap(({ name, value }) => [name, value]);
    found = { replaced: new Set([...rules.setHeaders, ...markerHeaders].map((h) => h.name.toLowerCase())), appended };
    derived.set(rules, found);
  }
  return found;
}

/** Rebuilds a recorded request for the shadow: target-only path, cleaned headers, markers, rewrites. */
export function buildRequest(request: HttpRequest, rules: RequestRules): OutgoingRequest {
  let path = originFormPath(request.path, request.query);
  const rewrite = rules.pathPrefixRewrite;
  if (rewrite && path.startsWith(rewrite.from)) path = rewrite.to + path.slice(rewrite.from.length);

  const { replaced, appended } = derive(rules);
  // Names listed in Connection are hop-by-hop for this one message too.
  let connectionListed: Set<string> | undefined;
  for (const h of request.headers) {
    if (h.name.toLowerCase() !== 'connection') continue;
    connectionListed ??= new Set();
    for (const token of h.value.split(',')) connectionListed.add(token.trim().toLowerCase());
  }
  const headers: string[] = ['host', rules.hostRewrite ?? rules.target.host];
  for (const { name, value } of request.headers) {
    const lower = name.toLowerCase();
    if (hopByHop.has(lower) || lower.startsWith('proxy-') || connectionListed?.has(lower)) continue;
    if (replaced.has(lower) || rules.removeHeaders.has(lower)) continue;
    headers.push(name, value);
  }
  for (const item of appended) headers.push(item);
  const body = request.body.length > 0 ? request.body : undefined;
  return { method: request.method.toUpperCase(), path, headers, body };
}
