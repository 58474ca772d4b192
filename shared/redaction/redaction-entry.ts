import type { RequestChange } from '../records/types.js';

/**
 * The entries of a record's `redactions` list, `<side>.<part>:<name>` (the vocabulary is listed
 * in redactor.ts): `request.header:authorization`, `request.query:token`,
 * `response.body:$.user.password`, `response.body:text(jwt)`, or `request.body:not-scanned(…)`
 * (the body was not kept). Names and paths only, never values. Replay reads the request side,
 * the diff both response sides.
 */
export interface RedactionEntry {
  side: 'request' | 'response';
  part: 'header' | 'query' | 'body' | 'path';
  /** Lower-cased header name, query parameter name, a `$` body path, a body-level marker, or a path entry (`;jsessionid`, `segment(jwt)`). */
  name: string;
}

const entryPattern = /^(request|response)\.(header|query|body|path):(.*)$/s;

export function parseRedactionEntry(entry: string): RedactionEntry | undefined {
  const m = entryPattern.exec(entry);
  if (!m) return undefined;
  const part = m[2] as RedactionEntry['part'];
  return { side: m[1] as RedactionEntry['side'], part, name: part === 'header' ? m[3].toLowerCase() : m[3] };
}

/** A body entry saying the body could not be scanned, so it was not kept. */
export const isBodyNotKept = (entry: RedactionEntry) => entry.part === 'body' && entry.name.startsWith('not-scanned');

/** A body entry of a JSON, form or multipart field (a `$` path); others are about the body as text. */
export const isBodyField = (entry: RedactionEntry) => entry.part === 'body' && entry.name.startsWith('$');

export function redactionEntries(list: readonly string[], side: RedactionEntry['side']): RedactionEntry[] {
  const out: RedactionEntry[] = [];
  for (const item of list) {
    const entry = parseRedactionEntry(item);
    if (entry?.side === side) out.push(entry);
  }
  return out;
}

/** Result.requestChanges kinds: a redacted request part sent with its sealed original, or as recorded (masked). */
export const secretRestored = 'secret-restored';
export const secretMasked = 'secret-masked';

/** The request parts a replay sent as redaction left them (and nobody replaced); empty when it sent what stable got. */
export const maskedParts = (changes: readonly RequestChange[]) => changes.filter((c) => c.kind === secretMasked).map((c) => c.name);
