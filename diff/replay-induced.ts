import type { RequestChange } from '../shared/records/types.js';
import type { Change } from './difference.js';

/**
 * Differences the replay itself caused. The replay records every change it makes to a request
 * (Result.requestChanges); a shadow that echoes a request header, or builds absolute URLs from
 * Host or the path, then answers with the changed value where stable answered with the
 * original. Such a difference is noise with the change as its reason, never a mismatch.
 *
 * A change explains a difference when:
 * - a rewrite (from → to) maps one value onto the other: the shadow's value with every `to`
 *   put back to `from` is stable's (a Host in Location, Link or a HAL link, a rewritten prefix);
 * - something the replay added (a marker, a set header) appears only on the shadow's side, with
 *   its value, under its own name (`$.headers['x-shadowtap-replay']`, a header echoed back) or
 *   as an echoed header line `name: value` in a text body;
 * - something the replay removed is missing only on the shadow's side under its own name.
 */
export function replayInduced(
  changes: readonly RequestChange[],
  name: string | undefined,
  change: Change,
  stable: unknown,
  shadow: unknown,
): string | undefined {
  for (const c of changes) if (explains(c, name?.toLowerCase(), change, stable, shadow)) return `replay-induced: ${describeChange(c)}`;
  // An absolute URL can carry several rewrites at once (Host and a path prefix): undo them all.
  if (change !== 'value-changed' || typeof stable !== 'string' || typeof shadow !== 'string') return undefined;
  const used = changes.filter((c) => c.from !== null && c.to !== null && c.from !== c.to && c.to.length >= minNeedle && shadow.includes(c.to));
  if (used.length < 2) return undefined;
  const undone = used.reduce((value, c) => value.split(c.to!).join(c.from!), shadow);
  return undone === stable ? `replay-induced: ${used.map(describeChange).join('; ')}` : undefined;
}

/**
 * A reason names the change, not the values of one request (a capture id, a recorded
 * content-length): a report counts pairs by reason, one line a reason. Only the rewrites, whose
 * values are the replay's configuration, show them.
 */
export function describeChange(c: RequestChange): string {
  if (rewrites.has(c.kind) && c.from !== null && c.to !== null) return `${c.kind} ${c.name} ${c.from} → ${c.to}`;
  return `${c.kind} ${c.name}`;
}

const rewrites = new Set(['host-rewritten', 'path-prefix-rewritten']);

/** A rewrite needle this short (`1`, `/`) would match by coincidence. */
const minNeedle = 3;

function explains(c: RequestChange, name: string | undefined, change: Change, stable: unknown, shadow: unknown): boolean {
  const sameName = name !== undefined && name === c.name.toLowerCase();
  // An echo of a header stable did not get is often null on stable's side rather than absent.
  if (change === 'added' || (change === 'type-changed' && stable === null)) {
    if (c.to === null || typeof shadow !== 'string') return false;
    return (sameName && shadow === c.to) || echoesLine(shadow, c.name, c.to);
  }
  if (change === 'removed' || (change === 'type-changed' && shadow === null)) {
    if (c.to !== null || !sameName) return false;
    return c.from === null || stable === c.from;
  }
  if (typeof stable !== 'string' || typeof shadow !== 'string') return false;
  if (sameName && (c.to ?? '') === shadow && (c.from ?? '') === stable) return true;
  if (c.from === null || c.to === null) return false;
  if (c.to.length >= minNeedle && shadow.includes(c.to)) return shadow.split(c.to).join(c.from) === stable;
  if (c.from.length >= minNeedle && stable.includes(c.from)) return stable.split(c.from).join(c.to) === shadow;
  return false;
}

/** `name: value` or `name=value` as an echo of a request header in text. */
function echoesLine(text: string, name: string, value: string): boolean {
  const lower = text.toLowerCase();
  const n = name.toLowerCase();
  const v = value.toLowerCase();
  return lower.includes(`${n}: ${v}`) || lower.includes(`${n}=${v}`) || lower.includes(`"${n}":"${v}"`);
}
