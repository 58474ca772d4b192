import { detectSegment } from '../../diff/route-template.js';
import type { Header, SideEffect } from './types.js';

/**
 * Side effects on the wire and in records: the headers a guarded shadow answers with, and the
 * control entries that make a list say how complete it is. Shared by the shadow-mode library
 * (writes them), the capture middleware (stable's list), the replay (reads and strips them)
 * and the diff (compares the lists).
 */

/** On every answer of a shadow whose shadow-mode library handled the request. */
export const guardMarkerHeader = 'x-shadowtap-guard';
/** What the shadow attempted before its response head was written, encoded by encodeEffects. */
export const effectsHeader = 'x-shadowtap-effects';
/** Bound of the effects header value; past it the last entries are replaced by an `omitted` entry. */
export const maxEffectsHeaderBytes = 8192;
/** Entries kept per request on either side; the rest are counted in an `omitted` entry. */
export const maxEffectsPerRequest = 100;
/** The replay sends the capture id so the shadow's code can name the request it replays. */
export const captureIdHeader = 'x-shadowtap-capture-id';

/**
 * First entry of a capture's list when the capture middleware watched the exchange: an empty
 * list then means "stable made no call", not "nobody looked" (a capture by the proxy).
 */
export const observedKind = 'observed';
/**
 * Entries past a bound: `name` holds how many were left out (`?` when the list could not be
 * read at all); a list holding one is incomplete and is not compared.
 */
export const omittedKind = 'omitted';

/** HTTP's safe methods (RFC 9110 §9.2.1); every other method, custom ones included, may write. */
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export function isUnsafeMethod(method: string): boolean {
  return !safeMethods.has(method.toUpperCase());
}

/** A write: an http call with an unsafe method, or any guard() action. */
export function isWrite(effect: SideEffect): boolean {
  return effect.kind === 'guard' || (effect.kind === 'http' && isUnsafeMethod(effect.name));
}

export function controlEntry(kind: typeof observedKind | typeof omittedKind, count: number | '?' = 0): SideEffect {
  return { kind, name: kind === omittedKind ? String(count) : '', origin: '', pathTemplate: '', status: null, bodySha256: null, blocked: false };
}

/** Path of an outbound call with its ids replaced (`/orders/42/items` → `/orders/{id}/items`); no query. */
export function effectPathTemplate(path: string): string {
  const end = path.search(/[?#]/);
  const segments = (end < 0 ? path : path.slice(0, end)).split('/').filter((s) => s.length > 0);
  return `/${segments.map(detectSegment).join('/')}`;
}

type Wire = [string, string, string, string, number | null, string | null, 0 | 1];

/**
 * base64url of a JSON array of compact entries, at most maxBytes long: entries that do not fit
 * are left out and counted in a trailing `omitted` entry.
 */
export function encodeEffects(effects: readonly SideEffect[], maxBytes = maxEffectsHeaderBytes): string {
  const wire: Wire[] = effects.map((e) => [e.kind, e.name, e.origin, e.pathTemplate, e.status, e.bodySha256, e.blocked ? 1 : 0]);
  const encode = (items: Wire[]) => Buffer.from(JSON.stringify(items)).toString('base64url');
  let value = encode(wire);
  let kept = wire.length;
  while (value.length > maxBytes && kept > 0) {
    // Shrinks in proportion to the excess so a long list takes a few passes, not one per entry.
    kept = Math.min(kept - 1, Math.floor((kept * maxBytes) / value.length));
    const omitted = controlEntry(omittedKind, effects.length - kept);
    value = encode([...wire.slice(0, kept), [omitted.kind, omitted.name, '', '', null, null, 0]]);
  }
  return value;
}

/** The entries of an effects header; a malformed value throws. */
export function decodeEffects(value: string): SideEffect[] {
  const items: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  if (!Array.isArray(items)) throw new Error('effects header is not a list');
  return items.map((item) => {
    if (!Array.isArray(item) || item.length !== 7) throw new Error('effects header entry is not a 7-item list');
    const [kind, name, origin, pathTemplate, status, bodySha256, blocked] = item as Wire;
    return {
      kind: String(kind),
      name: String(name),
      origin: String(origin),
      pathTemplate: String(pathTemplate),
      status: typeof status === 'number' ? status : null,
      bodySha256: typeof bodySha256 === 'string' ? bodySha256 : null,
      blocked: blocked === 1,
    };
  });
}

export interface ShadowReport {
  /** The answer carried the guard marker. */
  guarded: boolean;
  sideEffects: SideEffect[];
  /** The answer's headers without the two the library added. */
  headers: Header[];
}

/** Takes the library's headers out of a shadow answer (they would otherwise be header differences). */
export function takeShadowReport(headers: Header[]): ShadowReport {
  let guarded = false;
  let encoded: string | undefined;
  const kept: Header[] = [];
  for (const h of headers) {
    const lower = h.name.toLowerCase();
    if (lower === guardMarkerHeader) guarded = true;
    else if (lower === effectsHeader) encoded = h.value;
    else kept.push(h);
  }
  if (kept.length === headers.length) return { guarded, sideEffects: [], headers };
  // A guarded answer always reports its list; one missing or unreadable is incomplete, not empty.
  const incomplete = { guarded, sideEffects: guarded ? [controlEntry(omittedKind, '?')] : [], headers: kept };
  if (encoded === undefined) return incomplete;
  try {
    return { guarded, sideEffects: decodeEffects(encoded), headers: kept };
  } catch {
    return incomplete;
  }
}
