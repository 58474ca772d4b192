import { createHmac } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Capture, Header } from '../shared/records/types.js';
import { headerValue } from '../shared/records/types.js';
import { formatPath, matchesPath, type PathSegment } from './body-path.js';
import type { ResolvedRedaction } from './capture-options.js';
import { isSensitiveName, mayHoldSensitiveName } from './sensitive-names.js';

const MASK = '[redacted]';
/** Decompressed bodies larger than this are not scanned (and so not kept): a guard against zip bombs. */
const MAX_INFLATED_BYTES = 16 * 1024 * 1024;

const decompressors: Record<string, (body: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>> = {
  gzip: promisify(zlib.gunzip),
  'x-gzip': promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress),
};

type Where = 'request' | 'response';
type BodyKind = 'json' | 'form';

interface Part {
  headers: Header[];
  body: Buffer;
  truncated: boolean;
  sha256: string | null;
}

/** Distinct field and header names whose verdict is remembered; APIs reuse a small set of names. */
const NAME_CACHE_SIZE = 4096;

/**
 * Removes secrets from a capture before it is queued, so they never leave the process:
 * sensitive headers, query parameters and JSON/form body fields are masked, dropped or replaced
 * by a keyed hash. The capture's `redactions` lists what was touched (names and paths, never values).
 * Runs synchronously unless a compressed body has to be inflated first.
 */
export class Redactor {
  private readonly bodyPatterns: string[][];
  private readonly defaultVerdicts = new Map<string, boolean>();

  constructor(private readonly options: ResolvedRedaction) {
    this.bodyPatterns = options.bodyPaths;
  }

  /** Redacts in place and returns the same capture, or a promise of it when a body must be inflated. */
  redact(capture: Capture): Capture | Promise<Capture> {
    if (!this.options.enabled) return capture;
    const found: string[] = [];
    capture.request.headers = this.redactHeaders(capture.request.headers, 'request', found);
    capture.request.query = this.redactQuery(capture.request.query, found);
    const afterRequest = (): Capture | Promise<Capture> => {
      const response = capture.response;
      if (!response) return this.finish(capture, found);
      response.headers = this.redactHeaders(response.headers, 'response', found);
      const inflating = this.redactBody(response, 'response', found);
      return inflating ? inflating.then(() => this.finish(capture, found)) : this.finish(capture, found);
    };
    const inflating = this.redactBody(capture.request, 'request', found);
    return inflating ? inflating.then(afterRequest) : afterRequest();
  }

  private finish(capture: Capture, found: string[]): Capture {
    if (found.length > 0) capture.redactions = [...new Set([...capture.redactions, ...found])];
    return capture;
  }

  /** Whether a name matches the default sensitive names; remembered, since the same names recur in every request. */
  private defaultSensitive(name: string): boolean {
    if (!this.options.defaultNames) return false;
    let verdict = this.defaultVerdicts.get(name);
    if (verdict === undefined) {
      verdict = isSensitiveName(name);
      if (this.defaultVerdicts.size >= NAME_CACHE_SIZE) this.defaultVerdicts.clear();
      this.defaultVerdicts.set(name, verdict);
    }
    return verdict;
  }

  private sensitive(name: string, extra: readonly string[]): boolean {
    return this.defaultSensitive(name) || (extra.length > 0 && extra.includes(name.toLowerCase()));
  }

  private replacement(value: string): string {
    if (this.options.mode === 'hash') {
      return `hmac:${createHmac('sha256', this.options.hashKey!).update(value).digest('hex').slice(0, 32)}`;
    }
    return MASK;
  }

  /** Returns the same list when nothing is sensitive, a new one otherwise. */
  private redactHeaders(headers: Header[], where: Where, found: string[]): Header[] {
    let out: Header[] | null = null;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i];
      if (!this.sensitive(h.name, this.options.headers)) {
        out?.push(h);
        continue;
      }
      out ??= headers.slice(0, i);
      found.push(`${where}.header:${h.name.toLowerCase()}`);
      if (this.options.mode !== 'drop') out.push({ name: h.name, value: this.replacement(h.value) });
    }
    return out ?? headers;
  }

  /** Rewrites only the sensitive parameters; the rest of the raw query keeps its exact encoding. */
  private redactQuery(query: string, found: string[]): string {
    if (!query) return query;
    const parts = query.split('&');
    const out: string[] = [];
    let changed = false;
    for (const part of parts) {
      const eq = part.indexOf('=');
      const name = decodeFormComponent(eq === -1 ? part : part.slice(0, eq));
      const matched =
        this.sensitive(name, this.options.queryParams) || this.bodyPatterns.some((p) => matchesPath(p, [name]));
      if (!matched) {
        out.push(part);
        continue;
      }
      changed = true;
      found.push(`request.query:${name}`);
      if (this.options.mode === 'drop') continue;
      const value = eq === -1 ? '' : decodeFormComponent(part.slice(eq + 1));
      out.push(`${part.slice(0, eq === -1 ? part.length : eq)}=${encodeURIComponent(this.replacement(value))}`);
    }
    return changed ? out.join('&') : query;
  }

  /** Redacts a body in place; returns a promise only when the body must be inflated first. */
  private redactBody(part: Part, where: Where, found: string[]): Promise<void> | undefined {
    if (part.body.length === 0) return;
    const type = (headerValue(part.headers, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
    const declared = declaredKind(type);
    // Bodies of other declared types (text, images, multipart) are not scanned, as in Sentry.
    if (!declared && type !== '') return;
    const encoding = (headerValue(part.headers, 'content-encoding') ?? 'identity').trim().toLowerCase();
    const compressed = encoding !== 'identity' && encoding !== '';
    if (!declared && !compressed && !looksLikeJson(part.body)) return;
    // A cut or undecodable body cannot be scanned whole, so it is not kept: the safe choice.
    if (part.truncated) return unscanned(part, where, found, compressed ? 'unscanned-compressed' : 'unscanned-truncated');
    if (!compressed) {
      this.redactPlain(part, part.body, declared, false, where, found);
      return;
    }
    const decompress = decompressors[encoding];
    if (!decompress) return unscanned(part, where, found, 'unscanned-compressed');
    return decompress(part.body, { maxOutputLength: MAX_INFLATED_BYTES }).then(
      (plain) => this.redactPlain(part, plain, declared, true, where, found),
      () => unscanned(part, where, found, 'unscanned-compressed'),
    );
  }

  private redactPlain(part: Part, plain: Buffer, declared: BodyKind | null, compressed: boolean, where: Where, found: string[]): void {
    const kind = declared ?? (looksLikeJson(plain) ? 'json' : null);
    if (!kind) return;
    // Most bodies name no secret at all: a byte scan proves it and spares the parse. (Such a body
    // is kept even when it is not valid JSON: with no sensitive name in it, nothing could be redacted.)
    if (this.bodyPatterns.length === 0 && (!this.options.defaultNames || !mayHoldSensitiveName(plain))) return;
    const paths: string[] = [];
    const redacted = kind === 'json' ? this.redactJson(plain, paths) : this.redactForm(plain, paths);
    if (redacted === null) return unscanned(part, where, found, 'unparseable');
    if (paths.length === 0) return;
    for (const p of paths) found.push(`${where}.body:${p}`);
    part.body = redacted;
    // A hash of the original would let a guess at a short secret be checked against the known rest of the body.
    part.sha256 = null;
    // The stored body is the redacted plain text, so the recorded headers must stop announcing an
    // encoding and length that no longer describe it.
    part.headers = part.headers
      .filter((h) => !(compressed && h.name.toLowerCase() === 'content-encoding'))
      .map((h) => (h.name.toLowerCase() === 'content-length' ? { name: h.name, value: String(redacted.length) } : h));
  }

  /** Walks the parsed document in place with one path stack, so a body without secrets costs one parse. */
  private redactJson(body: Buffer, paths: string[]): Buffer | null {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      return null;
    }
    const patterns = this.bodyPatterns;
    const drop = this.options.mode === 'drop';
    const path: PathSegment[] = [];
    const configured = () => patterns.length > 0 && patterns.some((p) => matchesPath(p, path));
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          path.push(i);
          if (configured()) {
            paths.push(formatPath(path));
            value[i] = drop ? null : this.replacement(stringOf(value[i]));
          } else if (value[i] !== null && typeof value[i] === 'object') walk(value[i]);
          path.pop();
        }
        return;
      }
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        path.push(key);
        if (this.defaultSensitive(key) || configured()) {
          paths.push(formatPath(path));
          if (drop) delete record[key];
          else record[key] = this.replacement(stringOf(record[key]));
        } else if (record[key] !== null && typeof record[key] === 'object') walk(record[key]);
        path.pop();
      }
    };
    if (doc !== null && typeof doc === 'object') walk(doc);
    return paths.length === 0 ? body : Buffer.from(JSON.stringify(doc));
  }

  private redactForm(body: Buffer, paths: string[]): Buffer {
    const text = body.toString('latin1');
    const out: string[] = [];
    for (const part of text.split('&')) {
      const eq = part.indexOf('=');
      const name = decodeFormComponent(eq === -1 ? part : part.slice(0, eq));
      if (!(this.defaultSensitive(name) || this.bodyPatterns.some((p) => matchesPath(p, [name])))) {
        out.push(part);
        continue;
      }
      paths.push(formatPath([name]));
      if (this.options.mode === 'drop') continue;
      const value = eq === -1 ? '' : decodeFormComponent(part.slice(eq + 1));
      out.push(`${part.slice(0, eq === -1 ? part.length : eq)}=${encodeURIComponent(this.replacement(value))}`);
    }
    return paths.length === 0 ? body : Buffer.from(out.join('&'), 'latin1');
  }
}

/** A body that cannot be scanned whole is not kept. */
function unscanned(part: Part, where: Where, found: string[], why: string): undefined {
  part.body = Buffer.alloc(0);
  found.push(`${where}.body:${why}`);
  return undefined;
}

function decodeFormComponent(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** Hashes see strings as they are and anything else as its JSON, so equal secrets hash equal. */
function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function declaredKind(mediaType: string): BodyKind | null {
  if (mediaType === 'application/x-www-form-urlencoded') return 'form';
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) return 'json';
  return null;
}

/** For bodies without a media type: JSON is recognised by its first character. */
function looksLikeJson(body: Buffer): boolean {
  const first = body.subarray(0, 64).toString('utf8').trimStart()[0];
  return first === '{' || first === '[';
}
