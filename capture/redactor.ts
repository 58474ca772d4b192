import { createHmac } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Capture, Header } from '../shared/records/types.js';
import { headerValue } from '../shared/records/types.js';
import { formatPath, matchesPath, type PathSegment } from './body-path.js';
import type { ResolvedRedaction } from './capture-options.js';
import { isSensitiveName } from './sensitive-names.js';

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
}

/**
 * Removes secrets from a capture before it is queued, so they never leave the process:
 * sensitive headers, query parameters and JSON/form body fields are masked, dropped or replaced
 * by a keyed hash. The capture's `redactions` lists what was touched (names and paths, never values).
 */
export class Redactor {
  private readonly bodyPatterns: string[][];

  constructor(private readonly options: ResolvedRedaction) {
    this.bodyPatterns = options.bodyPaths;
  }

  /** Redacts in place and returns the same capture. */
  async redact(capture: Capture): Promise<Capture> {
    if (!this.options.enabled) return capture;
    const found: string[] = [];
    capture.request.headers = this.redactHeaders(capture.request.headers, 'request', found);
    capture.request.query = this.redactQuery(capture.request.query, found);
    await this.redactBody(capture.request, 'request', found);
    if (capture.response) {
      capture.response.headers = this.redactHeaders(capture.response.headers, 'response', found);
      await this.redactBody(capture.response, 'response', found);
    }
    capture.redactions = [...new Set([...capture.redactions, ...found])];
    return capture;
  }

  private sensitive(name: string, extra: readonly string[]): boolean {
    return (this.options.defaultNames && isSensitiveName(name)) || extra.includes(name.toLowerCase());
  }

  private replacement(value: string): string {
    if (this.options.mode === 'hash') {
      return `hmac:${createHmac('sha256', this.options.hashKey!).update(value).digest('hex').slice(0, 32)}`;
    }
    return MASK;
  }

  private redactHeaders(headers: Header[], where: Where, found: string[]): Header[] {
    const out: Header[] = [];
    for (const h of headers) {
      if (!this.sensitive(h.name, this.options.headers)) {
        out.push(h);
        continue;
      }
      found.push(`${where}.header:${h.name.toLowerCase()}`);
      if (this.options.mode !== 'drop') out.push({ name: h.name, value: this.replacement(h.value) });
    }
    return out;
  }

  /** Rewrites only the sensitive parameters; the rest of the raw query keeps its exact encoding. */
  private redactQuery(query: string, found: string[]): string {
    if (!query) return query;
    const parts = query.split('&');
    const out: string[] = [];
    for (const part of parts) {
      const eq = part.indexOf('=');
      const name = decodeFormComponent(eq === -1 ? part : part.slice(0, eq));
      const matched =
        this.sensitive(name, this.options.queryParams) || this.bodyPatterns.some((p) => matchesPath(p, [name]));
      if (!matched) {
        out.push(part);
        continue;
      }
      found.push(`request.query:${name}`);
      if (this.options.mode === 'drop') continue;
      const value = eq === -1 ? '' : decodeFormComponent(part.slice(eq + 1));
      out.push(`${part.slice(0, eq === -1 ? part.length : eq)}=${encodeURIComponent(this.replacement(value))}`);
    }
    return out.join('&');
  }

  private async redactBody(part: Part, where: Where, found: string[]): Promise<void> {
    if (part.body.length === 0) return;
    const type = (headerValue(part.headers, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
    const declared = declaredKind(type);
    // Bodies of other declared types (text, images, multipart) are not scanned, as in Sentry.
    if (!declared && type !== '') return;
    const encoding = (headerValue(part.headers, 'content-encoding') ?? 'identity').trim().toLowerCase();
    const compressed = encoding !== 'identity' && encoding !== '';
    if (!declared && !compressed && !looksLikeJson(part.body)) return;
    // A cut or undecodable body cannot be scanned whole, so it is not kept: the safe choice.
    const unscanned = (why: string) => {
      part.body = Buffer.alloc(0);
      found.push(`${where}.body:${why}`);
    };
    if (part.truncated) return unscanned(compressed ? 'unscanned-compressed' : 'unscanned-truncated');
    let plain = part.body;
    if (compressed) {
      const decompress = decompressors[encoding];
      if (!decompress) return unscanned('unscanned-compressed');
      try {
        plain = await decompress(part.body, { maxOutputLength: MAX_INFLATED_BYTES });
      } catch {
        return unscanned('unscanned-compressed');
      }
    }
    const kind = declared ?? (looksLikeJson(plain) ? 'json' : null);
    if (!kind) return;
    const paths: string[] = [];
    const redacted = kind === 'json' ? this.redactJson(plain, paths) : this.redactForm(plain, paths);
    if (redacted === null) return unscanned('unparseable');
    if (paths.length === 0) return;
    for (const p of paths) found.push(`${where}.body:${p}`);
    part.body = redacted;
    // The stored body is the redacted plain text, so the recorded headers must stop announcing an
    // encoding and length that no longer describe it.
    part.headers = part.headers
      .filter((h) => !(compressed && h.name.toLowerCase() === 'content-encoding'))
      .map((h) => (h.name.toLowerCase() === 'content-length' ? { name: h.name, value: String(redacted.length) } : h));
  }

  private redactJson(body: Buffer, paths: string[]): Buffer | null {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      return null;
    }
    const walk = (value: unknown, path: PathSegment[]): unknown => {
      if (value === null || typeof value !== 'object') return value;
      if (Array.isArray(value)) {
        const out: unknown[] = [];
        value.forEach((item, i) => {
          const child = [...path, i];
          if (this.bodyPatterns.some((p) => matchesPath(p, child))) {
            paths.push(formatPath(child));
            out.push(this.options.mode === 'drop' ? null : this.replacement(stringOf(item)));
          } else out.push(walk(item, child));
        });
        return out;
      }
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const child = [...path, key];
        if (this.sensitive(key, []) || this.bodyPatterns.some((p) => matchesPath(p, child))) {
          paths.push(formatPath(child));
          if (this.options.mode !== 'drop') out[key] = this.replacement(stringOf(item));
        } else out[key] = walk(item, child);
      }
      return out;
    };
    const result = walk(doc, []);
    return paths.length === 0 ? body : Buffer.from(JSON.stringify(result));
  }

  private redactForm(body: Buffer, paths: string[]): Buffer {
    const text = body.toString('latin1');
    const out: string[] = [];
    for (const part of text.split('&')) {
      const eq = part.indexOf('=');
      const name = decodeFormComponent(eq === -1 ? part : part.slice(0, eq));
      if (!(this.sensitive(name, []) || this.bodyPatterns.some((p) => matchesPath(p, [name])))) {
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
