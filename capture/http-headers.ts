import type { IncomingMessage } from 'node:http';
import { connectionListed, hopByHopHeaders } from '../shared/http/hop-by-hop.js';
import type { Header } from '../shared/records/types.js';

export function flattenHeaders(headers: readonly Header[]): string[] {
  const flat: string[] = [];
  for (const h of headers) flat.push(h.name, h.value);
  return flat;
}

/**
 * End-to-end headers straight from a flat name/value list (node's rawHeaders, undici's raw
 * response head): one pass, no intermediate list. Names the Connection header adds are dropped too.
 */
export function endToEndFromRaw(raw: readonly string[]): Header[] {
  const out: Header[] = [];
  let named: string[] | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (!hopByHopHeaders.has(lower)) out.push({ name: raw[i], value: raw[i + 1] });
    else if (lower === 'connection') (named ??= []).push(...connectionListed(raw[i + 1]));
  }
  return named ? out.filter((h) => !named.includes(h.name.toLowerCase())) : out;
}

/** Drops hop-by-hop headers, including those the Connection header names (the rule of endToEndFromRaw). */
export function endToEndHeaders(headers: readonly Header[]): Header[] {
  return endToEndFromRaw(flattenHeaders(headers));
}

/** Splits a request target into path and raw query (without '?'); absolute-form targets keep only their path. */
export function splitTarget(target: string): { path: string; query: string } {
  let rest = target;
  if (!rest.startsWith('/') && /^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) {
    const url = new URL(rest);
    rest = url.pathname + url.search;
  }
  const q = rest.indexOf('?');
  return q === -1 ? { path: rest || '/', query: '' } : { path: rest.slice(0, q) || '/', query: rest.slice(q + 1) };
}

/** Whether the request announces a body: most (GETs) do not, and then there is nothing to tap. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
