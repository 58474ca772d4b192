import { configError } from '../shared/errors.js';

/**
 * Groups request paths into route templates so statistics are per endpoint, not per URL:
 * `/users/42/orders/3f2a…` becomes `/users/{id}/orders/{uuid}`. User patterns such as
 * `/users/:id` win over detection.
 */
export interface RoutePattern {
  source: string;
  /** A literal segment, a named parameter, or `*` matching the rest of the path. */
  segments: Array<{ literal: string } | { param: string } | { rest: true }>;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const date = /^\d{4}-\d{2}-\d{2}$/;
const hex = /^(?=.*\d)[0-9a-f]{8,}$/i;
/** Letters and digits, optionally joined by - _ ~ : (`GH-4444`, `ord_8F3k2`); no dots, so file names stay. */
const token = /^[A-Za-z0-9]+(?:[-_~:][A-Za-z0-9]+)*$/;
/** API versions: v1, V2, v1beta1, v2alpha, v10rc2. */
const version = /^v\d+(?:(?:alpha|beta|rc|preview)\d*)?$/i;
/** Numeronyms (i18n, k8s, a11y) and ordinals (1st, 2nd), in lower case: `A1B` is an id. */
const wordShape = /^(?:[a-z]\d{1,2}[a-z]|\d+(?:st|nd|rd|th))$/;

/**
 * Words that contain a digit yet name a thing, not an instance. A list, not a shape: `user123`
 * and `page2` look like `oauth2` but are ids, and guessing wrong the other way splits one
 * endpoint into thousands of routes. `--route` covers what the list lacks.
 */
const digitWords = new Set([
  'oauth1', 'oauth2', 'http1', 'http2', 'http3', 'h2c', 's3', 'ec2', 'ipv4', 'ipv6', 'md5', 'sha1', 'sha224', 'sha256', 'sha384',
  'sha512', 'utf8', 'utf-8', 'utf16', 'utf-16', 'base32', 'base58', 'base64', 'x509', 'pkcs7', 'pkcs8', 'pkcs12', 'web3', 'mp3',
  'mp4', 'h264', 'h265', 'e2e', 'b2b', 'b2c', 'p2p', 'm2m', 's2s', '2fa', 'u2f', '3ds', '3ds2', '2d', '3d', '4k', 'html5', 'css3',
  'es5', 'es6', 'w3c', 'iso8601', 'rfc3339', 'saml2',
]);

/**
 * The placeholder for a path segment that names an instance, or the segment itself. Beyond
 * plain numbers, uuids, dates and long hex, a segment is an id when it mixes letters and digits
 * (`GH-4444`, `AB-1`, `SKU-123`, `a1b2c3`, `ord_8F3k2`): at least 3 characters, at least one
 * digit and one letter, and not a version (`v2`) nor a known digit word (`oauth2`, `2fa`).
 */
export function detectSegment(segment: string): string {
  // Every id shape needs a digit, but the uuid, which needs dashes: literal segments stop here.
  if (!/[\d-]/.test(segment)) return segment;
  if (/^\d+$/.test(segment)) return '{id}';
  if (uuid.test(segment)) return '{uuid}';
  if (date.test(segment)) return '{date}';
  if (hex.test(segment)) return '{hex}';
  if (segment.length >= 3 && token.test(segment) && /\d/.test(segment) && /[A-Za-z]/.test(segment)) {
    if (version.test(segment) || wordShape.test(segment) || digitWords.has(segment.toLowerCase())) return segment;
    return '{id}';
  }
  return segment;
}

function splitPath(path: string): string[] {
  const query = path.indexOf('?');
  return (query < 0 ? path : path.slice(0, query)).split('/').filter((s) => s.length > 0);
}

export function parseRoutePattern(source: string): RoutePattern {
  if (!source.startsWith('/')) throw configError(`--route "${source}" must start with /, for example /users/:id`);
  const parts = splitPath(source);
  const segments: RoutePattern['segments'] = parts.map((part, index) => {
    if (part === '*') {
      if (index !== parts.length - 1) throw configError(`--route "${source}": * is only allowed as the last segment`);
      return { rest: true as const };
    }
    const param = /^(?::(\w+)|\{(\w+)\})$/.exec(part);
    return param ? { param: (param[1] ?? param[2])! } : { literal: part };
  });
  return { source, segments };
}

function patternTemplate(pattern: RoutePattern, parts: string[]): string | undefined {
  const out: string[] = [];
  for (let i = 0; i < pattern.segments.length; i++) {
    const segment = pattern.segments[i]!;
    if ('rest' in segment) return `/${[...out, '*'].join('/')}`;
    const part = parts[i];
    if (part === undefined) return undefined;
    if ('literal' in segment) {
      if (segment.literal !== part) return undefined;
      out.push(part);
    } else {
      out.push(`{${segment.param}}`);
    }
  }
  return parts.length === pattern.segments.length ? `/${out.join('/')}` : undefined;
}

/** The route template of a request path: the first matching user pattern, else detected segments. */
export function routeTemplate(path: string, patterns: readonly RoutePattern[] = []): string {
  const parts = splitPath(path).map((p) => {
    if (!p.includes('%')) return p;
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  for (const pattern of patterns) {
    const template = patternTemplate(pattern, parts);
    if (template) return template;
  }
  return `/${parts.map(detectWithMatrix).join('/')}`;
}

/** `cart;jsessionid=…;lang=en`: the segment and each matrix parameter's value detected alike, names kept. */
function detectWithMatrix(segment: string): string {
  if (!segment.includes(';')) return detectSegment(segment);
  const [head, ...params] = segment.split(';');
  return [detectSegment(head!), ...params.map((p) => (p.includes('=') ? `${p.slice(0, p.indexOf('='))}=${detectSegment(p.slice(p.indexOf('=') + 1))}` : p))].join(';');
}

/**
 * Whether a route named in a rule (`/users/{id}`, `/users/:id`, `GET /users/*`, `*`) covers a
 * route key `METHOD /template`; parameter names need not agree.
 */
export function routeSelectorMatches(selector: string, routeKey: string): boolean {
  if (selector === '*') return true;
  const [method, template] = splitRouteKey(routeKey);
  let pathSelector = selector;
  const spaced = /^([A-Z]+)\s+(\/.*)$/.exec(selector);
  if (spaced) {
    if (spaced[1] !== method) return false;
    pathSelector = spaced[2]!;
  }
  const want = splitPath(pathSelector);
  const have = splitPath(template);
  const isParam = (s: string) => /^(?::\w+|\{[\w*]+\})$/.test(s);
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '*' && i === want.length - 1) return true;
    const h = have[i];
    if (h === undefined) return false;
    if (!isParam(want[i]!) && want[i] !== h) return false;
  }
  return want.length === have.length;
}

export function routeKey(method: string, template: string): string {
  return `${method.toUpperCase()} ${template}`;
}

function splitRouteKey(key: string): [string, string] {
  const space = key.indexOf(' ');
  return space < 0 ? ['', key] : [key.slice(0, space), key.slice(space + 1)];
}
