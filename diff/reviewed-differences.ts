import { isMap, isSeq, parseDocument, YAMLSeq } from 'yaml';
import { configError } from '../shared/errors.js';
import type { DifferenceKind } from './difference.js';
import type { DiffReport } from './report.js';
import { matchesPath, parsePathPattern, type PathPattern, type PathSegment } from './json-path.js';
import { routeSelectorMatches } from './route-template.js';

/**
 * The reviewed-differences file: differences a person has looked at. `accepted` ones are
 * expected (counted and shown as accepted, never hidden, never failing the run); `must-fix`
 * ones stay mismatches and are marked so.
 *
 *   differences:
 *     - route: GET /users/{id}      # or /users/:id, or * for every route
 *       path: $.lastSeen            # or header:x-version, status; or kind: header|body|status
 *       status: accepted
 *       reason: lastSeen moved to epoch ms, agreed in PR 412
 */
export interface ReviewedDifference {
  route: string;
  path?: string;
  kind?: DifferenceKind;
  status: 'accepted' | 'must-fix';
  reason: string;
}

interface CompiledEntry {
  entry: ReviewedDifference;
  pattern?: PathPattern;
}

export interface ReviewedDifferences {
  entries: ReviewedDifference[];
  compiled: CompiledEntry[];
}

export const noReviewedDifferences: ReviewedDifferences = { entries: [], compiled: [] };

export function parseReviewedDifferences(text: string, source = 'reviewed-differences file'): ReviewedDifferences {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw configError(`${source}: not valid YAML (${doc.errors[0]!.message.split('\n')[0]})`);
  const raw = doc.toJS() as unknown;
  const list = raw === null || raw === undefined ? [] : Array.isArray(raw) ? raw : (raw as { differences?: unknown }).differences ?? [];
  if (!Array.isArray(list)) throw configError(`${source}: expected a list under "differences:"`);
  const entries = list.map((item, index): ReviewedDifference => {
    const where = `${source}, entry ${index + 1}`;
    if (typeof item !== 'object' || item === null) throw configError(`${where}: expected a mapping with route, path or kind, status, reason`);
    const { route = '*', path, kind, status, reason } = item as Record<string, unknown>;
    if (typeof route !== 'string') throw configError(`${where}: route must be a string such as "GET /users/{id}" or "*"`);
    if (status !== 'accepted' && status !== 'must-fix') throw configError(`${where}: status must be accepted or must-fix`);
    if (typeof reason !== 'string' || reason.trim() === '') throw configError(`${where}: give a reason, so the next reader knows why`);
    if (path === undefined && kind === undefined) throw configError(`${where}: give a path ($.a.b, header:name, status) or a kind (status, header, body)`);
    if (path !== undefined && typeof path !== 'string') throw configError(`${where}: path must be a string`);
    if (kind !== undefined && kind !== 'status' && kind !== 'header' && kind !== 'body' && kind !== 'side-effect') throw configError(`${where}: kind must be status, header, body or side-effect`);
    return { route, path, kind, status, reason };
  });
  const compiled = entries.map((entry) => ({
    entry,
    pattern: entry.path?.startsWith('$') ? parsePathPattern(entry.path) : undefined,
  }));
  return { entries, compiled };
}

/** The entry covering a difference at `path` (segments given for body paths), if any; the first listed wins. */
export function findReview(
  reviewed: ReviewedDifferences,
  route: string | undefined,
  kind: DifferenceKind,
  path: string,
  segments?: readonly PathSegment[],
): ReviewedDifference | undefined {
  for (const { entry, pattern } of reviewed.compiled) {
    if (entry.route !== '*' && (route === undefined || !routeSelectorMatches(entry.route, route))) continue;
    if (entry.kind !== undefined && entry.kind !== kind) continue;
    if (entry.path !== undefined) {
      if (pattern) {
        if (!segments || !matchesPath(pattern, segments)) continue;
      } else if (!sameNonJsonPath(entry.path, path)) continue;
    }
    return entry;
  }
  return undefined;
}

/** `header:X-Version` names `header:x-version`; `line:*` names every line of a text body. */
function sameNonJsonPath(wanted: string, path: string): boolean {
  const a = wanted.toLowerCase();
  const b = path.toLowerCase();
  return a.endsWith(':*') ? b.startsWith(a.slice(0, -1)) : a === b;
}

/**
 * `diff --accept`: the reviewed-differences file text with every field the report found differing
 * appended as accepted (a systemic difference once for every route, as it was reported).
 */
export function acceptReport(text: string | undefined, report: DiffReport): { text: string; accepted: number } {
  const systemic = (report.groups ?? []).flatMap((g) => g.differences.map((d) => ({ route: '*', path: d.field })));
  const additions = [...systemic, ...report.fields.filter((f) => f.differs > 0).map((f) => ({ route: f.route, path: f.field }))];
  return { text: appendAccepted(text, additions, `accepted with shadowtap diff --accept on ${report.generatedAt.slice(0, 10)}`), accepted: additions.length };
}

/** The file text with `additions` appended as accepted entries, keeping comments and existing entries. */
function appendAccepted(text: string | undefined, additions: ReadonlyArray<{ route: string; path: string }>, reason: string): string {
  const doc = parseDocument(text && text.trim() !== '' ? text : 'differences: []\n');
  let seq = doc.get('differences', true);
  if (!isMap(doc.contents) || !isSeq(seq)) {
    if (isSeq(doc.contents)) seq = doc.contents;
    else {
      seq = new YAMLSeq();
      doc.set('differences', seq);
    }
  }
  const list = seq as YAMLSeq;
  list.flow = false;
  const existing = new Set(
    (list.toJSON() as Array<{ route?: string; path?: string }>).map((e) => `${e.route ?? '*'}\u0000${e.path ?? ''}`),
  );
  for (const { route, path } of additions) {
    const id = `${route}\u0000${path}`;
    if (existing.has(id)) continue;
    existing.add(id);
    list.add(doc.createNode({ route, path, status: 'accepted', reason }));
  }
  return doc.toString();
}
