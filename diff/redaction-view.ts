import type { HttpResponse } from '../shared/records/types.js';
import { isBodyField, isBodyNotKept, redactionEntries, type RedactionEntry } from '../shared/redaction/redaction-entry.js';
import { parseRedactionMode } from '../shared/redaction/redaction-options.js';
import { MASK } from '../shared/redaction/redactor.js';
import type { PathSegment } from './json-path.js';

/**
 * What redaction did to the two answers of a pair, as the comparison needs it: a field redacted
 * on either side is never a value difference. In mask, drop and seal modes its values are gone,
 * so it is not compared (and counted as such); in hash mode both sides carry the keyed hash of
 * the same policy, so equal secrets are equal and different ones differ, with the values hidden.
 */
export interface RedactedFields {
  /** Hash mode: redacted values are compared by their hashes. */
  byHash: boolean;
  headers: ReadonlySet<string>;
  /** Body paths, element positions as '*'. */
  bodyPaths: readonly string[][];
  /** A side whose body redaction did not keep: bodies are not compared at all. */
  bodyNotKept: 'stable' | 'shadow' | undefined;
  /** Distinct fields (headers, body paths, whole bodies) not compared because of redaction. */
  notCompared: number;
}

export type RedactionEffect = 'not-compared' | 'hidden';

/** An answer with what its record lists as redacted: a capture's (stable), or a Result's. */
interface RedactedAnswer {
  redactions: readonly string[];
  response: HttpResponse | null;
}

/**
 * What both records list as redacted in the answers, under the capture's redaction mode;
 * undefined when neither redacted anything.
 */
export function redactedFields(stableSide: RedactedAnswer, shadowSide: RedactedAnswer, mode: string | null): RedactedFields | undefined {
  const stable = redactionEntries(stableSide.redactions, 'response');
  const shadow = redactionEntries(shadowSide.redactions, 'response');
  if (stable.length === 0 && shadow.length === 0) return undefined;
  const headers = new Set<string>();
  const bodyPaths = new Map<string, string[]>();
  // Older agents emptied a body they could not parse and named it otherwise: an emptied body with any whole-body entry.
  const notKept = (entries: RedactionEntry[], body: Buffer | undefined) =>
    entries.some(isBodyNotKept) || (body?.length === 0 && entries.some((e) => e.part === 'body' && !isBodyField(e)));
  for (const entry of [...stable, ...shadow]) {
    if (entry.part === 'header') headers.add(entry.name);
    else if (isBodyField(entry)) {
      const segments = parseFieldPath(entry.name);
      if (segments) bodyPaths.set(segments.join('\u0000'), segments);
    }
  }
  const bodyNotKept = notKept(stable, stableSide.response?.body) ? 'stable' : notKept(shadow, shadowSide.response?.body) ? 'shadow' : undefined;
  const byHash = mode !== null && parseRedactionMode(mode).mode === 'hash';
  return {
    byHash,
    headers,
    bodyPaths: [...bodyPaths.values()],
    bodyNotKept,
    notCompared: byHash ? 0 : headers.size + bodyPaths.size + (bodyNotKept ? 1 : 0),
  };
}

const maskedValue = new RegExp(MASK.replace(/[[\]]/g, '\\$&'));
const hashedValue = /hmac:[0-9a-f]{32}/;

/** How a difference the comparison found is touched by redaction, if at all. */
export function redactionEffect(
  fields: RedactedFields,
  kind: 'status' | 'header' | 'body',
  path: string,
  segments: readonly PathSegment[] | undefined,
  values: readonly unknown[],
): RedactionEffect | undefined {
  const effect: RedactionEffect = fields.byHash ? 'hidden' : 'not-compared';
  if (kind === 'header') return fields.headers.has(path.slice('header:'.length)) ? effect : undefined;
  if (kind !== 'body') return undefined;
  if (fields.bodyNotKept) return 'not-compared';
  if (segments && fields.bodyPaths.some((p) => isPrefix(p, segments))) return effect;
  // Text bodies and anything else redacted by value: a line or value holding a mask or a hash.
  const marker = fields.byHash ? hashedValue : maskedValue;
  return values.some((v) => typeof v === 'string' && marker.test(v)) ? effect : undefined;
}

function isPrefix(prefix: readonly string[], segments: readonly PathSegment[]): boolean {
  if (prefix.length > segments.length) return false;
  return prefix.every((p, i) => (p === '*' ? typeof segments[i] !== 'string' : segments[i] === p));
}

/** `$.a.b[*]["c d"]['e']` → ['a', 'b', '*', 'c d', 'e']; element positions and keys become '*'. */
function parseFieldPath(path: string): string[] | undefined {
  const out: string[] = [];
  const re = /\.([^.[\]]+)|\[(\*|\d+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\]=]+=[^\]]*)\]/gy;
  re.lastIndex = 1;
  if (!path.startsWith('$')) return undefined;
  while (re.lastIndex < path.length) {
    const m = re.exec(path);
    if (!m) return undefined;
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2]!.startsWith('"')) out.push(JSON.parse(m[2]!) as string);
    else if (m[2]!.startsWith("'")) out.push(m[2]!.slice(1, -1).replaceAll("\\'", "'"));
    else out.push('*');
  }
  return out;
}
