/**
 * How a body is read for redaction: by its declared media type, and by its content when the type
 * is missing or generic (JSON sent as text/plain, a form posted without a content type).
 */
export type BodyKind = 'json' | 'form' | 'multipart' | 'text';

/** Media types read as text by value although not `text/*`. */
const textTypes = new Set([
  'application/xml', 'application/javascript', 'application/ecmascript', 'application/x-ndjson', 'application/graphql',
  'application/yaml', 'application/x-yaml', 'application/sql', 'application/x-sh', 'application/jsonl',
]);

/** The kind to scan a body as, or null when it is not scanned (images, archives, protobuf). */
export function bodyKind(contentType: string | undefined, plain: Buffer): BodyKind | null {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json') || type === 'text/json' || type === 'application/x-json') return 'json';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (type.startsWith('multipart/')) return multipartBoundary(contentType) ? 'multipart' : 'text';
  const generic = type === '' || type === 'text/plain' || type === 'application/octet-stream';
  if (generic) {
    const text = plain.toString('latin1');
    if (looksLikeJson(text)) return 'json';
    if (looksLikeForm(text)) return 'form';
    if (type === 'application/octet-stream' && !isPrintable(plain)) return null;
    return isPrintable(plain) ? 'text' : null;
  }
  if (type.startsWith('text/') || type.endsWith('+xml') || textTypes.has(type)) return 'text';
  return null;
}

export function multipartBoundary(contentType: string | undefined): string | null {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return match ? (match[1] ?? match[2]) : null;
}

/** JSON is recognised by its first character; whether it parses is decided by the parse. */
function looksLikeJson(text: string): boolean {
  const first = text.trimStart()[0];
  return first === '{' || first === '[';
}

/** `a=1&b=two`: name=value pairs of URL-safe characters, nothing else. */
function looksLikeForm(text: string): boolean {
  return text.length > 0 && /^[\w.~%+*[\]-]+=[^&\s=]*(?:&[\w.~%+*[\]-]+=[^&\s=]*)*&?$/.test(text);
}

/** No control bytes but tab and line breaks in the first kilobyte: text, whatever its encoding. */
function isPrintable(body: Buffer): boolean {
  const end = Math.min(body.length, 1024);
  for (let i = 0; i < end; i++) {
    const b = body[i];
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  }
  return true;
}

/** One part of a multipart body; `start`/`end` delimit its content in the body's latin1 text. */
export interface MultipartPart {
  name: string | null;
  filename: string | null;
  contentType: string | undefined;
  start: number;
  end: number;
}

/** The parts of a multipart body, or null when it does not follow its boundary. */
export function multipartParts(text: string, boundary: string): MultipartPart[] | null {
  const delimiter = `--${boundary}`;
  const parts: MultipartPart[] = [];
  let at = text.indexOf(delimiter);
  if (at === -1) return null;
  for (;;) {
    const afterDelimiter = at + delimiter.length;
    if (text.startsWith('--', afterDelimiter)) return parts;
    const headersStart = text.indexOf('\r\n', afterDelimiter);
    const headersEnd = text.indexOf('\r\n\r\n', afterDelimiter);
    if (headersStart === -1 || headersEnd === -1) return null;
    const next = text.indexOf(`\r\n${delimiter}`, headersEnd + 4);
    if (next === -1) return null;
    const headers = text.slice(headersStart + 2, headersEnd);
    const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? '';
    parts.push({
      name: parameter(disposition, 'name'),
      filename: parameter(disposition, 'filename'),
      contentType: /^content-type:(.*)$/im.exec(headers)?.[1]?.trim(),
      start: headersEnd + 4,
      end: next,
    });
    at = next + 2;
  }
}

function parameter(header: string, name: string): string | null {
  const match = new RegExp(`;\\s*${name}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(header);
  return match ? (match[1] ?? match[2]) : null;
}
