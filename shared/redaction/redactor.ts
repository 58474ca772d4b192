import { createHmac } from 'node:crypto';
import type { Capture, Header, HttpRequest, HttpResponse } from '../records/types.js';
import { headerValue } from '../records/types.js';
import { canDecode, decodeContent } from '../http/content-coding.js';
import { formatPath, matchesPath, type PathSegment } from './body-path.js';
import { bodyKind, multipartBoundary, multipartParts, type BodyKind } from './body-formats.js';
import { hashKeyId, type ResolvedRedaction } from './redaction-options.js';
import { sealRequest, type SealedRequest } from './seal.js';
import { findSecretValues, MAY_HOLD_NAME, MAY_HOLD_VALUE, mayHoldSecretValue, prefilterBody, type ValueMatch } from './secret-values.js';
import { isSensitiveName } from './sensitive-names.js';

/**
 * The one redaction policy of shadowtap, applied by the capture agent to what it records and by
 * the replay worker to the shadow's answers, so both sides of a comparison are redacted alike.
 *
 * API (stable):
 *   const redactor = new Redactor(resolveRedaction(options));       // options: redaction-options.ts
 *   redactor.redact(capture)                 → Capture | Promise<Capture>
 *     Redacts a capture in place (request, and stable's response when there is one) and returns
 *     it; a promise only when a compressed body had to be inflated. Sets capture.redactionMode
 *     (null when redaction is off; `hash:<key id>` in hash mode), adds to capture.redactions, and in seal mode sets
 *     capture.sealed to the sealed originals of the request parts that changed (see
 *     `originalRequest` below for what they hold).
 *   await redactor.redactResponse(response, request) → { response, redactions }
 *     Redacts an answer on its own (the shadow's), with the same rules and key, given the request
 *     it answered as it was sent (with the originals, in seal mode): the secrets of that request
 *     are removed from the answer too, wherever it echoes them. Returns a redacted copy (the
 *     arguments are not changed) and its redactions list, entries starting with `response.`.
 *     In seal mode answers are masked.
 *   originalRequest(recorded, unsealRequest(openingKey, capture.sealed)) → HttpRequest
 *     The request as stable received it, for the replay worker holding the private key.
 *
 * Redactions entries (names and paths, never values):
 *   `<where>.header:<lower-case name>`    a header's value, or part of it (Cookie and Set-Cookie
 *                                          keep their cookie names, Authorization its scheme)
 *   `request.query:<name>`                 a query parameter's value, or part of it
 *   `request.path:;<name>`                 a matrix parameter's value (`;jsessionid=…`)
 *   `request.path:segment(<rule>)`         a secret found by value in a path segment (jwt, ...)
 *   `<where>.body:<$.json.path>`           a JSON field (arrays as [*]), a form or multipart field
 *   `<where>.body:text(<what>)`            in a text body: a `name=value` pair's value, a secret
 *                                          found by value (its rule: jwt, card-number, ...) or an echo
 *   `<where>.body:unparseable(json)`       a body declared JSON that does not parse was scanned as
 *                                          text (kept as is when nothing was found)
 *   `<where>.body:scanned-as-text(too-deep)` JSON nested deeper than MAX_JSON_DEPTH: scanned as text
 *   `<where>.body:not-scanned(<why>)`      truncated (a cut JSON, form, multipart or compressed body;
 *                                          a cut text is searched on its kept part), too-large
 *                                          (inflated past the limit) or compressed (unknown or
 *                                          broken encoding): the body is not kept
 * where `<where>` is `request` or `response`.
 *
 * What is a secret: names by their words (sensitive-names.ts), values by their form wherever
 * they are (secret-values.ts), and any value found so, wherever else it appears in the same
 * exchange (an echo: a URL in a body, a Location header, a body repeating a header). Booleans,
 * numbers and nulls are never touched, unless a number is a card number.
 */

export const MASK = '[redacted]';
/** Decompressed bodies larger than this are not scanned (and so not kept): a guard against zip bombs. */
const MAX_INFLATED_BYTES = 16 * 1024 * 1024;
/** Deeper JSON is scanned as text: JSON.stringify recurses and would overflow the stack. */
export const MAX_JSON_DEPTH = 1000;
/** Shorter secrets are not searched for elsewhere: "1234" would be found in ordinary values. */
const MIN_ECHO_LENGTH = 6;
/** Distinct names whose verdict is remembered; APIs reuse a small set of names. */
const NAME_CACHE_SIZE = 4096;

type Where = 'request' | 'response';

interface Part {
  headers: Header[];
  body: Buffer;
  truncated: boolean;
  sha256: string | null;
}

/** A body being redacted: its decoded text while it is worked on. */
interface BodyState {
  part: Part;
  where: Where;
  kind: BodyKind;
  /** latin1 for bytes-preserving kinds, utf8 for JSON. */
  text: string;
  compressed: boolean;
  changed: boolean;
  /** JSON only: the parsed document, when it parsed and is shallow enough to write back. */
  doc?: unknown;
  /** The bytes of a body found to hold nothing to redact, until an echo search needs its text. */
  undecoded?: Buffer;
}

const decodedText = (plain: Buffer, kind: BodyKind) => plain.toString(kind === 'json' ? 'utf8' : 'latin1');

export class Redactor {
  private readonly nameVerdicts = new Map<string, boolean>();
  /** What captures record as their mode: hash mode names its key (hashKeyId). */
  private readonly recordedMode: string;

  constructor(private readonly options: ResolvedRedaction) {
    this.recordedMode = options.mode === 'hash' ? `hash:${hashKeyId(options.hashKey!)}` : options.mode;
  }

  redact(capture: Capture): Capture | Promise<Capture> {
    if (!this.options.enabled) {
      capture.redactionMode = null;
      return capture;
    }
    capture.redactionMode = this.recordedMode;
    const sealing = this.options.sealingKey;
    const original = sealing ? { path: capture.request.path, headers: capture.request.headers, query: capture.request.query, body: capture.request.body } : null;
    const exchange = new ExchangeRedaction(this, capture.request);
    const done = (): Capture => {
      exchange.finish(capture.request, capture.response);
      if (exchange.found.length > 0) capture.redactions = [...new Set([...capture.redactions, ...exchange.found])];
      if (sealing && original) {
        const sealed = changedOriginals(original, capture.request);
        if (sealed) capture.sealed = sealRequest(sealing, sealed);
      }
      return capture;
    };
    const pending = exchange.scan(capture.request, capture.response);
    return pending ? pending.then(done) : done();
  }

  async redactResponse(response: HttpResponse, request: HttpRequest): Promise<{ response: HttpResponse; redactions: string[] }> {
    // Shallow copies: redaction replaces a header list, query or body it changes, never edits one in place.
    const answer: HttpResponse = { ...response };
    if (!this.options.enabled) return { response: answer, redactions: [] };
    // The request is scanned on a copy, for its secrets only.
    const asked: HttpRequest = { ...request };
    const exchange = new ExchangeRedaction(this, asked);
    await exchange.scan(asked, answer);
    exchange.finish(asked, answer);
    return { response: answer, redactions: [...new Set(exchange.found.filter((entry) => entry.startsWith('response.')))] };
  }

  /** Whether a name is secret by default; remembered, since the same names recur in every request. */
  sensitiveName(name: string, json = false): boolean {
    if (!this.options.defaultNames) return false;
    const key = json ? `\u0000${name}` : name;
    let verdict = this.nameVerdicts.get(key);
    if (verdict === undefined) {
      verdict = isSensitiveName(name, { json });
      if (this.nameVerdicts.size >= NAME_CACHE_SIZE) this.nameVerdicts.clear();
      this.nameVerdicts.set(key, verdict);
    }
    return verdict;
  }

  get policy(): ResolvedRedaction {
    return this.options;
  }

  /** What a secret becomes: the mask, its keyed hash, or nothing (drop). */
  replacement(secret: string): string {
    switch (this.options.mode) {
      case 'hash':
        return `hmac:${createHmac('sha256', this.options.hashKey!).update(secret).digest('hex').slice(0, 32)}`;
      case 'drop':
        return '';
      default:
        return MASK;
    }
  }
}

/**
 * The request as stable received it: the recorded request with the sealed originals put back.
 * `headers` holds every original header when a header or the body changed (the body's encoding
 * and length go with it), `query` the original query when it changed (else ''), `body` the
 * original bytes when they changed (else null), `path` the original path when it changed.
 */
export function originalRequest(recorded: HttpRequest, sealed: SealedRequest): HttpRequest {
  return {
    ...recorded,
    path: sealed.path ?? recorded.path,
    headers: sealed.headers.length > 0 ? sealed.headers : recorded.headers,
    query: sealed.query !== '' ? sealed.query : recorded.query,
    body: sealed.body !== null ? Buffer.from(sealed.body, 'base64') : recorded.body,
  };
}

function changedOriginals(original: { path: string; headers: Header[]; query: string; body: Buffer }, now: HttpRequest): SealedRequest | null {
  const bodyChanged = original.body !== now.body;
  const headersChanged = original.headers !== now.headers;
  const queryChanged = original.query !== now.query;
  const pathChanged = original.path !== now.path;
  if (!bodyChanged && !headersChanged && !queryChanged && !pathChanged) return null;
  return {
    ...(pathChanged && { path: original.path }),
    headers: headersChanged || bodyChanged ? original.headers : [],
    query: queryChanged ? original.query : '',
    body: bodyChanged ? original.body.toString('base64') : null,
  };
}

/** Whether a request is an OAuth callback or token request, where a lone `code` is a secret. */
function isOAuthRequest(request: HttpRequest): boolean {
  return /callback|oauth|authori[sz]e|\/token\b/i.test(request.path) || /(?:^|&)(?:state|redirect_uri|grant_type|code_verifier)=/.test(request.query);
}

const authorizationHeaders = new Set(['authorization', 'proxy-authorization']);

/** The redaction of one exchange: what was found, and the secret values to remove wherever else they appear. */
class ExchangeRedaction {
  readonly found: string[] = [];
  private readonly secrets = new Set<string>();
  private readonly bodies: BodyState[] = [];
  private readonly oauth: boolean;

  constructor(
    private readonly redactor: Redactor,
    request: HttpRequest,
  ) {
    this.oauth = isOAuthRequest(request);
  }

  /** Redacts every part by name and by value; returns a promise only when a body must be inflated. */
  scan(request: HttpRequest, response: HttpResponse | null): Promise<void> | undefined {
    request.path = this.path(request.path);
    request.headers = this.headers(request.headers, 'request');
    request.query = this.pairs(request.query, 'request', 'query');
    const afterRequest = (): Promise<void> | undefined => {
      if (!response) return;
      response.headers = this.headers(response.headers, 'response');
      return this.body(response, 'response');
    };
    const inflating = this.body(request, 'request');
    return inflating ? inflating.then(afterRequest) : afterRequest();
  }

  /** Removes echoes, then writes the bodies back. */
  finish(request: HttpRequest, response: HttpResponse | null): void {
    if (this.secrets.size > 0) this.removeEchoes(request, response);
    for (const state of this.bodies) if (state.changed) this.writeBody(state);
  }

  /**
   * Remembers a secret to remove wherever else it appears. Short values and plain words (a
   * `theme=darkmode` cookie) are not searched for: they would be found in ordinary text. Values
   * already replaced (a masked or hashed record replayed) are not secrets of their own.
   */
  private addSecret(value: string): void {
    if (value.length < MIN_ECHO_LENGTH || value === MASK || value.startsWith('hmac:')) return;
    if (value.length < 12 && /^[A-Za-z]+$/.test(value)) return;
    this.secrets.add(value);
  }

  private nameIsSecret(name: string): boolean {
    return this.redactor.sensitiveName(name) || (this.oauth && name.toLowerCase() === 'code' && this.redactor.policy.defaultNames);
  }

  /** Replaces the found spans of a text; each span's value becomes a secret of the exchange. */
  private replaceSpans(text: string, spans: readonly { start: number; end: number }[], encode = (s: string) => s): string {
    let out = '';
    let at = 0;
    for (const span of spans) {
      const secret = text.slice(span.start, span.end);
      this.addSecret(secret);
      out += text.slice(at, span.start) + encode(this.redactor.replacement(secret));
      at = span.end;
    }
    return out + text.slice(at);
  }

  // ---- headers -------------------------------------------------------------------------------

  /** Returns the same list when nothing is secret, a new one otherwise. */
  private headers(headers: Header[], where: Where): Header[] {
    const { policy } = this.redactor;
    let out: Header[] | null = null;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i];
      const lower = h.name.toLowerCase();
      let value: string | null = h.value;
      if (policy.headers.includes(lower) || this.nameIsSecret(h.name)) {
        value = policy.mode === 'drop' ? null : this.secretHeaderValue(lower, h.value);
        if (policy.mode === 'drop') this.addSecret(h.value);
      } else if (mayHoldSecretValue(h.value)) {
        const spans = findSecretValues(h.value);
        if (spans.length > 0) value = this.replaceSpans(h.value, spans);
      }
      if (value === h.value) {
        out?.push(h);
        continue;
      }
      out ??= headers.slice(0, i);
      this.found.push(`${where}.header:${lower}`);
      if (value !== null) out.push({ name: h.name, value });
    }
    return out ?? headers;
  }

  /** Cookies keep their names and attributes, credentials their scheme: what a diff may still compare. */
  private secretHeaderValue(lower: string, value: string): string {
    const replace = (secret: string) => {
      this.addSecret(secret);
      return this.redactor.replacement(secret);
    };
    if (lower === 'cookie') {
      return value.replace(/([^=;\s]+=)([^;]*)/g, (_, name: string, v: string) => name + replace(v));
    }
    if (lower === 'set-cookie') {
      return value.replace(/^([^=;]+=)([^;]*)/, (_, name: string, v: string) => name + replace(v));
    }
    const scheme = authorizationHeaders.has(lower) ? /^([A-Za-z][\w-]*)\s+(\S.*)$/.exec(value) : null;
    if (scheme) {
      if (scheme[1].toLowerCase() === 'basic') {
        const decoded = Buffer.from(scheme[2], 'base64').toString('latin1');
        this.addSecret(decoded);
        this.addSecret(decoded.slice(decoded.indexOf(':') + 1));
      }
      return `${scheme[1]} ${replace(scheme[2])}`;
    }
    return replace(value);
  }

  // ---- the path ------------------------------------------------------------------------------

  /**
   * Secrets in the path: matrix parameters with a secret name (`/cart;jsessionid=…`, servlet URL
   * rewriting) and segments holding a secret by value (`/reset/<jwt>`, `/keys/sk_live_…`). Both
   * are rare, so two cheap tests come first. Masks are percent-encoded: the path stays a path.
   */
  private path(path: string): string {
    if (!path.includes(';') && !mayHoldSecretValue(path)) return path;
    const segments = path.split('/');
    let changed = false;
    for (let i = 0; i < segments.length; i++) {
      const [head, ...params] = segments[i]!.split(';');
      const parts = [this.pathValue(head!)];
      for (const param of params) {
        const eq = param.indexOf('=');
        const name = eq === -1 ? param : param.slice(0, eq);
        const value = eq === -1 ? '' : param.slice(eq + 1);
        if (value !== '' && this.nameIsSecret(decodeFormComponent(name))) {
          this.found.push(`request.path:;${name}`);
          this.addSecret(decodeFormComponent(value));
          parts.push(`${name}=${encodeURIComponent(this.redactor.replacement(value))}`);
        } else {
          parts.push(eq === -1 ? param : `${name}=${this.pathValue(value)}`);
        }
      }
      const segment = parts.join(';');
      if (segment !== segments[i]) {
        segments[i] = segment;
        changed = true;
      }
    }
    return changed ? segments.join('/') : path;
  }

  /** A path segment (or matrix value) with the secrets found in it by value replaced. */
  private pathValue(text: string): string {
    if (!mayHoldSecretValue(text)) return text;
    const spans = findSecretValues(text);
    if (spans.length === 0) return text;
    for (const span of spans) this.found.push(`request.path:segment(${span.rule})`);
    return this.replaceSpans(text, spans, encodeURIComponent);
  }

  // ---- name=value pairs: query strings and forms ---------------------------------------------

  /** Rewrites only the secret pairs; the rest keeps its exact encoding. */
  private pairs(text: string, where: Where, label: 'query' | 'body'): string {
    if (!text) return text;
    const { policy } = this.redactor;
    const configured = label === 'query' ? policy.queryParams : [];
    const out: string[] = [];
    let changed = false;
    for (const pair of text.split('&')) {
      const eq = pair.indexOf('=');
      const rawName = eq === -1 ? pair : pair.slice(0, eq);
      const name = decodeFormComponent(rawName);
      const value = eq === -1 ? '' : decodeFormComponent(pair.slice(eq + 1));
      const entry = label === 'query' ? `request.query:${name}` : `${where}.body:${formatPath([name])}`;
      if (configured.includes(name.toLowerCase()) || policy.bodyPaths.some((p) => matchesPath(p, [name])) || this.nameIsSecret(name)) {
        changed = true;
        this.found.push(entry);
        this.addSecret(value);
        if (policy.mode !== 'drop') out.push(`${rawName}=${encodeURIComponent(this.redactor.replacement(value))}`);
        continue;
      }
      if (value && mayHoldSecretValue(value)) {
        const spans = findSecretValues(value);
        if (spans.length > 0) {
          changed = true;
          this.found.push(entry);
          out.push(`${rawName}=${encodeURIComponent(this.replaceSpans(value, spans))}`);
          continue;
        }
      }
      out.push(pair);
    }
    return changed ? out.join('&') : text;
  }

  // ---- bodies --------------------------------------------------------------------------------

  /** Decodes a body and redacts it; returns a promise only when the body must be inflated first. */
  private body(part: Part, where: Where): Promise<void> | undefined {
    if (part.body.length === 0) return;
    const encoding = (headerValue(part.headers, 'content-encoding') ?? 'identity').trim().toLowerCase();
    const compressed = encoding !== 'identity' && encoding !== '';
    if (part.truncated) {
      // A cut JSON, form or multipart body cannot be parsed, nor a cut compressed one decoded: it is
      // not kept, the safe choice. A cut text is searched on what was kept; a binary one is kept as is.
      const kind = compressed ? 'json' : bodyKind(headerValue(part.headers, 'content-type'), part.body);
      if (kind !== 'text' && kind !== null) return this.notScanned(part, where, 'truncated');
    }
    if (!compressed) {
      this.plainBody(part, part.body, false, where);
      return;
    }
    if (!canDecode(encoding)) return this.notScanned(part, where, 'compressed');
    return decodeContent(part.body, encoding, { maxOutputLength: MAX_INFLATED_BYTES }).then(
      (plain) => this.plainBody(part, plain, true, where),
      (error: NodeJS.ErrnoException) => this.notScanned(part, where, error.code === 'ERR_BUFFER_TOO_LARGE' ? 'too-large' : 'compressed'),
    );
  }

  private notScanned(part: Part, where: Where, why: string): undefined {
    part.body = Buffer.alloc(0);
    part.sha256 = null;
    this.found.push(`${where}.body:not-scanned(${why})`);
    return undefined;
  }

  private plainBody(part: Part, plain: Buffer, compressed: boolean, where: Where): void {
    const contentType = headerValue(part.headers, 'content-type');
    const kind = bodyKind(contentType, plain);
    if (!kind) return;
    const state: BodyState = { part, where, kind, text: '', compressed, changed: false };
    this.bodies.push(state);
    const { policy } = this.redactor;
    // Most bodies name no secret and hold none: one byte scan proves both.
    const byPath = policy.bodyPaths.length > 0 || this.oauth;
    const may = prefilterBody(plain, policy.defaultNames && !byPath);
    const names = byPath || (may & MAY_HOLD_NAME) !== 0;
    const values = (may & MAY_HOLD_VALUE) !== 0;
    if (!names && !values) {
      // Nothing to redact by name or value: decoded only should an echo be searched for.
      state.undecoded = plain;
      return;
    }
    state.text = decodedText(plain, kind);
    if (kind === 'json') {
      this.jsonBody(state, values);
      return;
    }
    if (kind === 'form') {
      const redacted = this.pairs(state.text, where, 'body');
      state.changed = redacted !== state.text;
      state.text = redacted;
    } else if (kind === 'multipart') {
      this.multipartBody(state, multipartBoundary(contentType)!);
    } else {
      this.textBody(state, false, '');
    }
  }

  /** `values`: whether the body may hold a secret by value at all; when not, its strings are not searched one by one. */
  private jsonBody(state: BodyState, values: boolean): void {
    let doc: unknown;
    try {
      doc = JSON.parse(state.text);
    } catch {
      // Kept as it is unless secrets are found in it by name or by value: never emptied.
      state.kind = 'text';
      state.text = Buffer.from(state.text, 'utf8').toString('latin1');
      this.textBody(state, false, 'unparseable(json)');
      return;
    }
    const walk = new JsonWalk(this.redactor, (p) => `${state.where}.body:${formatPath(p)}`, (secret) => this.addSecret(secret), this.found);
    walk.searchValues = values;
    const result = walk.run(doc);
    if (walk.maxDepth > MAX_JSON_DEPTH) {
      // Too deep to write back: scanned as text instead, which keeps its structure byte for byte.
      this.found.splice(this.found.length - walk.entries, walk.entries);
      state.kind = 'text';
      state.text = Buffer.from(state.text, 'utf8').toString('latin1');
      this.found.push(`${state.where}.body:scanned-as-text(too-deep)`);
      this.textBody(state, true, '');
      return;
    }
    state.doc = result;
    if (walk.entries > 0) {
      state.changed = true;
      state.text = JSON.stringify(result);
    }
  }

  /**
   * A text body: values of secret `name=value` / `"name": "value"` pairs, then secrets by value.
   * `jsonLike` masks only quoted values, so a JSON text stays JSON.
   */
  private textBody(state: BodyState, jsonLike: boolean, note: string): void {
    const spans: { start: number; end: number }[] = [];
    const what = new Set<string>();
    for (const m of state.text.matchAll(textPairPattern)) {
      const name = m[2];
      if (!this.nameIsSecret(name)) continue;
      const quoted = m[3] ?? m[4];
      if (jsonLike && quoted === undefined) continue;
      const value = quoted ?? m[5];
      if (quoted === undefined && /^(?:true|false|null)$/.test(value)) continue;
      const start = m.index + m[0].length - value.length - (quoted !== undefined ? 1 : 0);
      spans.push({ start, end: start + value.length });
      what.add(name);
    }
    let text = spans.length > 0 ? this.replaceSpans(state.text, spans) : state.text;
    const byValue = findSecretValues(text);
    for (const match of byValue) what.add(match.rule);
    if (byValue.length > 0) text = this.replaceSpans(text, byValue);
    if (what.size === 0) return;
    state.changed = true;
    state.text = text;
    if (note) this.found.push(`${state.where}.body:${note}`);
    for (const w of what) this.found.push(`${state.where}.body:text(${w})`);
  }

  /** Field parts by name and value; file parts by value, when they are text. */
  private multipartBody(state: BodyState, boundary: string): void {
    const parts = multipartParts(state.text, boundary);
    if (!parts) {
      this.textBody(state, false, '');
      return;
    }
    const { policy } = this.redactor;
    let out = '';
    let at = 0;
    for (const part of parts) {
      const content = state.text.slice(part.start, part.end);
      let redacted = content;
      const secretName =
        part.filename === null && part.name !== null && (this.nameIsSecret(part.name) || policy.bodyPaths.some((p) => matchesPath(p, [part.name!])));
      if (secretName) {
        this.addSecret(content);
        redacted = this.redactor.replacement(content);
      } else if (part.filename === null || isTextContent(part.contentType, content)) {
        const spans = findSecretValues(content);
        if (spans.length > 0) redacted = this.replaceSpans(content, spans);
      }
      if (redacted === content) continue;
      this.found.push(`${state.where}.body:${formatPath([part.name ?? part.filename ?? '*'])}`);
      out += state.text.slice(at, part.start) + redacted;
      at = part.end;
    }
    if (at === 0) return;
    state.changed = true;
    state.text = out + state.text.slice(at);
  }

  /** The stored body is the redacted plain text: headers stop announcing an encoding and length that no longer describe it. */
  private writeBody(state: BodyState): void {
    const body = Buffer.from(state.text, state.kind === 'json' ? 'utf8' : 'latin1');
    state.part.body = body;
    // A hash of the original would let a guess at a short secret be checked against the known rest of the body.
    state.part.sha256 = null;
    state.part.headers = state.part.headers
      .filter((h) => !(state.compressed && h.name.toLowerCase() === 'content-encoding'))
      .map((h) => (h.name.toLowerCase() === 'content-length' ? { name: h.name, value: String(body.length) } : h));
  }

  // ---- echoes --------------------------------------------------------------------------------

  /** Removes every secret found anywhere in the exchange from every other part of it. */
  private removeEchoes(request: HttpRequest, response: HttpResponse | null): void {
    const secrets = [...this.secrets].sort((a, b) => b.length - a.length);
    const forms = secrets.map((secret) => ({ secret, variants: variantsOf(secret) }));
    const inText = (text: string, encode: (s: string) => string = (s) => s): string => {
      let out = text;
      for (const { secret, variants } of forms) {
        for (const variant of variants) {
          if (out.includes(variant)) out = out.split(variant).join(encode(this.redactor.replacement(secret)));
        }
      }
      return out;
    };
    const headers = (list: Header[], where: Where): Header[] => {
      let changed = false;
      const out = list.map((h) => {
        const value = inText(h.value, (s) => (h.value.includes('%') ? encodeURIComponent(s) : s));
        if (value === h.value) return h;
        changed = true;
        this.found.push(`${where}.header:${h.name.toLowerCase()}`);
        return { name: h.name, value };
      });
      return changed ? out : list;
    };
    const pairs = (text: string, entry: (name: string) => string): string => {
      let changed = false;
      const out = text.split('&').map((pair) => {
        const eq = pair.indexOf('=');
        if (eq === -1) return pair;
        const value = decodeFormComponent(pair.slice(eq + 1));
        const replaced = inText(value);
        if (replaced === value) return pair;
        changed = true;
        this.found.push(entry(decodeFormComponent(pair.slice(0, eq))));
        return `${pair.slice(0, eq)}=${encodeURIComponent(replaced)}`;
      });
      return changed ? out.join('&') : text;
    };
    request.headers = headers(request.headers, 'request');
    request.query = pairs(request.query, (name) => `request.query:${name}`);
    if (response) response.headers = headers(response.headers, 'response');
    for (const state of this.bodies) {
      if (state.undecoded) {
        state.text = decodedText(state.undecoded, state.kind);
        state.undecoded = undefined;
      }
      if (!forms.some(({ variants }) => variants.some((v) => state.text.includes(v)))) continue;
      if (state.kind === 'form') {
        const text = pairs(state.text, (name) => `${state.where}.body:${formatPath([name])}`);
        state.changed ||= text !== state.text;
        state.text = text;
      } else if (state.kind === 'json' && this.echoesInJson(state, inText)) {
        continue;
      } else {
        const text = inText(state.text);
        if (text === state.text) continue;
        state.changed = true;
        state.text = text;
        this.found.push(`${state.where}.body:text(echo)`);
      }
    }
  }

  /**
   * Echoes in a JSON body, replaced field by field so their paths are listed; false when the
   * body is not JSON that can be written back (it is then treated as text).
   */
  private echoesInJson(state: BodyState, inText: (text: string) => string): boolean {
    let doc = state.doc;
    if (doc === undefined) {
      try {
        doc = JSON.parse(state.text);
      } catch {
        return false;
      }
    }
    const found: string[] = [];
    const walk = new JsonWalk(this.redactor, (p) => `${state.where}.body:${formatPath(p)}`, () => {}, found, inText);
    doc = walk.run(doc);
    if (walk.maxDepth > MAX_JSON_DEPTH) return false;
    this.found.push(...found);
    if (walk.entries > 0) {
      state.changed = true;
      state.doc = doc;
      state.text = JSON.stringify(doc);
    }
    return true;
  }
}

/** The forms a secret takes when it is written into a URL, a form, or a JSON string. */
function variantsOf(secret: string): string[] {
  const uri = encodeURIComponent(secret);
  return [...new Set([secret, uri, uri.replace(/%20/g, '+'), JSON.stringify(secret).slice(1, -1)])];
}

/**
 * `name=value`, `name: value`, `"name": "value"` in a text. Groups: 1 the name's quote, 2 the
 * name, 3 a double-quoted value, 4 a single-quoted one, 5 an unquoted one (an auth scheme keeps
 * its credential).
 */
const textPairPattern =
  /(["']?)([A-Za-z_$][\w$.-]{0,63})\1[ \t]*[:=][ \t]*(?:"((?:[^"\\\r\n]|\\.)*)"|'([^'\r\n]*)'|((?:Bearer|Basic|Token|Digest)[ \t]+[^\s&;,"'<>]+|(?!\/)[^\s&;,"'<>{}[\]?]+))/g;

function isTextContent(contentType: string | undefined, content: string): boolean {
  return bodyKind(contentType ?? 'text/plain', Buffer.from(content.slice(0, 1024), 'latin1')) !== null;
}

/**
 * An iterative walk over a parsed JSON document (no recursion, so any depth is safe): secret
 * names and configured paths have their value replaced, every other string is searched for
 * secrets by value, or, for echoes, for the exchange's known secrets (`inText`).
 */
class JsonWalk {
  /** Whether strings of ordinary fields are searched for secrets by value. */
  searchValues = true;
  maxDepth = 0;
  /** Entries this walk added to `found`. */
  entries = 0;

  constructor(
    private readonly redactor: Redactor,
    private readonly entryOf: (path: PathSegment[]) => string,
    private readonly addSecret: (secret: string) => void,
    private readonly found: string[],
    private readonly inText?: (text: string) => string,
  ) {}

  run(doc: unknown): unknown {
    const holder: unknown[] = [doc];
    const stack: Node[] = [{ value: holder, segment: null, parent: null, depth: 0, all: false }];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.depth > this.maxDepth) this.maxDepth = node.depth;
      if (Array.isArray(node.value)) {
        const list = node.value as unknown as Container;
        for (let i = 0; i < node.value.length; i++) this.entry(node, list, i, stack);
      } else {
        const record = node.value as Record<string, unknown>;
        for (const key of Object.keys(record)) this.entry(node, record, key, stack);
      }
    }
    return holder[0];
  }

  private entry(parent: Node, container: Container, key: string | number, stack: Node[]): void {
    const value = container[key];
    // The document itself sits in a holder array of depth 0, so that it can be replaced too.
    const isRoot = parent.depth === 0;
    const child = (all: boolean) => stack.push({ value: value as object, segment: isRoot ? null : key, parent: isRoot ? null : parent, depth: parent.depth + 1, all });
    const path = () => pathOf(parent, isRoot ? null : key);
    const { policy } = this.redactor;
    if (this.inText) {
      if (typeof value === 'string') {
        const replaced = this.inText(value);
        if (replaced !== value) this.replace(container, key, replaced, path());
      } else if (value !== null && typeof value === 'object') child(false);
      return;
    }
    const configured = policy.bodyPaths.length > 0 && !isRoot && policy.bodyPaths.some((p) => matchesPath(p, path()));
    if (configured) {
      const secret = typeof value === 'string' ? value : JSON.stringify(value);
      this.addSecret(secret);
      this.replace(container, key, policy.mode === 'drop' ? undefined : this.redactor.replacement(secret), path());
      return;
    }
    const secretName =
      parent.all || (typeof key === 'string' && this.redactor.sensitiveName(key, true));
    if (typeof value === 'string') {
      if (secretName) {
        this.addSecret(value);
        this.replace(container, key, policy.mode === 'drop' && !parent.all ? undefined : this.redactor.replacement(value), path());
      } else if (this.searchValues) {
        const spans = findSecretValues(value);
        if (spans.length > 0) this.replace(container, key, this.replaceSpans(value, spans), path());
      }
    } else if (typeof value === 'number' && this.searchValues) {
      // Numbers are ordinary, whatever their name, unless they are card numbers.
      if (Number.isInteger(value) && Math.abs(value) >= 1e12) {
        const digits = String(value);
        if (findSecretValues(digits).some((m: ValueMatch) => m.rule === 'card-number')) {
          this.addSecret(digits);
          this.replace(container, key, this.redactor.replacement(digits), path());
        }
      }
    } else if (value !== null && typeof value === 'object') {
      if (secretName && policy.mode === 'drop' && !parent.all) this.replace(container, key, undefined, path());
      else child(secretName);
    }
  }

  private replaceSpans(text: string, spans: ValueMatch[]): string {
    let out = '';
    let at = 0;
    for (const span of spans) {
      const secret = text.slice(span.start, span.end);
      this.addSecret(secret);
      out += text.slice(at, span.start) + this.redactor.replacement(secret);
      at = span.end;
    }
    return out + text.slice(at);
  }

  /** `undefined` drops the field (an array element becomes null). */
  private replace(container: Container, key: string | number, value: string | undefined, path: PathSegment[]): void {
    if (value === undefined) {
      if (Array.isArray(container)) container[key as number] = null;
      else delete container[key];
    } else container[key] = value;
    this.found.push(this.entryOf(path));
    this.entries++;
  }
}

type Container = Record<string | number, unknown>;

interface Node {
  value: object;
  segment: PathSegment | null;
  parent: Node | null;
  depth: number;
  /** Under a secret name: every string below is secret. */
  all: boolean;
}

function pathOf(parent: Node, last: PathSegment | null): PathSegment[] {
  const path: PathSegment[] = last === null ? [] : [last];
  for (let node: Node | null = parent; node && node.segment !== null; node = node.parent) path.unshift(node.segment);
  return path;
}

function decodeFormComponent(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}
