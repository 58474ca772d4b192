import { createHash } from 'node:crypto';
import { decodeContentSync } from '../shared/http/content-coding.js';
import { headerValue, type HttpResponse } from '../shared/records/types.js';
import { parseMediaType } from './header-meaning.js';

/** A response body made comparable: undone content-encoding, decoded charset, parsed by media type. */
export type DecodedBody =
  | { type: 'empty' }
  | { type: 'json'; value: unknown; text: string }
  | { type: 'text'; text: string }
  | { type: 'binary'; size: number; sha256: string };

export interface Decoded {
  body: DecodedBody;
  /** Why the body could not be decoded as its headers say, if so. */
  note?: string;
}

/** Bodies beyond this decoded size are compared by hash only, so one huge response cannot stall the diff. */
export const maxComparableBytes = 4 * 1024 * 1024;

function mediaType(contentType: string | undefined): { type: string; charset?: string } {
  if (!contentType) return { type: '' };
  const { type, params } = parseMediaType(contentType);
  const charset = params.find(([name, value]) => name === 'charset' && value !== '')?.[1];
  return charset === undefined ? { type } : { type, charset };
}

const isJsonType = (t: string) => t === 'application/json' || t.endsWith('+json') || t === 'text/json';
const isTextType = (t: string) =>
  t.startsWith('text/') ||
  t.endsWith('+xml') ||
  ['application/xml', 'application/javascript', 'application/x-www-form-urlencoded', 'application/x-ndjson', 'application/graphql'].includes(t);

function binary(bytes: Buffer): DecodedBody {
  return { type: 'binary', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

const isUtf8 = (charset: string | undefined) => charset === undefined || charset === 'utf-8' || charset === 'utf8';

function decodeText(bytes: Buffer, charset: string | undefined): string {
  // Buffer's own UTF-8 decoding is the fast path; TextDecoder (which also drops a BOM) for the rest.
  if (isUtf8(charset)) {
    return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.toString('utf8', 3) : bytes.toString('utf8');
  }
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/** The body's bytes with its content-coding undone and what its headers say it is, or the decoded body when that settles it. */
function contentOf(response: HttpResponse): { bytes: Buffer; type: string; charset?: string; json: boolean; sniffed: boolean } | Decoded {
  let bytes: Buffer;
  try {
    bytes = decodeContentSync(response.body, headerValue(response.headers, 'content-encoding'));
  } catch (error) {
    return { body: binary(response.body), note: `body not decodable (${(error as Error).message}); compared as bytes` };
  }
  if (bytes.length === 0) return { body: { type: 'empty' } };
  if (bytes.length > maxComparableBytes) return { body: binary(bytes), note: `body over ${maxComparableBytes} bytes; compared by hash` };
  const { type, charset } = mediaType(headerValue(response.headers, 'content-type'));
  const sniffed = type === '' && /^\s*[[{]/.test(bytes.subarray(0, 16).toString('latin1'));
  return { bytes, type, charset, json: isJsonType(type) || sniffed, sniffed };
}

export function decodeBody(response: HttpResponse): Decoded {
  const content = contentOf(response);
  if ('body' in content) return content;
  const { bytes, type, charset } = content;
  if (content.json) {
    const text = decodeText(bytes, charset);
    try {
      return { body: { type: 'json', value: JSON.parse(text), text } };
    } catch {
      return content.sniffed ? { body: { type: 'text', text } } : { body: { type: 'text', text }, note: 'declared JSON but does not parse' };
    }
  }
  if (isTextType(type) || (type === '' && !bytes.includes(0))) return { body: { type: 'text', text: decodeText(bytes, charset) } };
  return { body: binary(bytes) };
}

/**
 * The bytes decodeBody would parse as JSON, when it would parse them as they are (UTF-8 without
 * a byte order mark): what a comparison of bytes needs. Undefined for any other body.
 */
export function jsonBytes(response: HttpResponse): Buffer | undefined {
  const content = contentOf(response);
  if ('body' in content || !content.json || !isUtf8(content.charset)) return undefined;
  const { bytes } = content;
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? undefined : bytes;
}
