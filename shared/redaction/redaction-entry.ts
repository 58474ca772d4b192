/**
 * The entries of a record's `redactions` list, `<side>.<part>:<name>` such as
 * `request.header:authorization`, `request.query:token`, `response.body:$.user.password`, or a
 * body-level marker (`request.body:unparseable`: the body was not kept). Names and paths only,
 * never values. Replay reads the request side, the diff both response sides.
 */
export interface RedactionEntry {
  side: 'request' | 'response';
  part: 'header' | 'query' | 'body';
  /** Lower-cased header name, query parameter name, a `$` body path, or a body-level marker. */
  name: string;
}

const entryPattern = /^(request|response)\.(header|query|body):(.*)$/s;

export function parseRedactionEntry(entry: string): RedactionEntry | undefined {
  const m = entryPattern.exec(entry);
  if (!m) return undefined;
  const part = m[2] as RedactionEntry['part'];
  return { side: m[1] as RedactionEntry['side'], part, name: part === 'header' ? m[3].toLowerCase() : m[3] };
}

/** A body entry that names no field but the whole body (unscannable, unparseable, ...): the body was not kept. */
export const isWholeBody = (entry: RedactionEntry) => entry.part === 'body' && !entry.name.startsWith('$');

export function redactionEntries(list: readonly string[], side: RedactionEntry['side']): RedactionEntry[] {
  const out: RedactionEntry[] = [];
  for (const item of list) {
    const entry = parseRedactionEntry(item);
    if (entry?.side === side) out.push(entry);
  }
  return out;
}
