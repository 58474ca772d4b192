import { isWrite, maxEffectsHeaderBytes, maxEffectsPerRequest, observedKind, omittedKind } from '../shared/records/side-effects.js';
import type { SideEffect } from '../shared/records/types.js';
import type { Change, Difference, Severity } from './difference.js';

/** Both sides' side effects for one request: stable's from the capture, the shadow's from its Result. */
export interface SideEffectPair {
  stable: readonly SideEffect[];
  shadow: readonly SideEffect[];
  /** The shadow's library reported its list (the answer carried the guard marker). */
  shadowGuarded: boolean;
}

/**
 * Compares what stable did with what the shadow attempted, call by call: a call on one side only
 * (missing, extra), made a different number of times (repeated), or made as often with other
 * bodies or statuses (changed) is a difference of kind `side-effect`, critical when it writes
 * (an unsafe method, a guard() action): "stable called POST /mail/send once, the shadow tried
 * twice". Lists are compared only when both sides recorded theirs; otherwise a note says why not.
 */
export function diffSideEffects(pair: SideEffectPair): { differences: Difference[]; note?: string } {
  const observed = pair.stable[0]?.kind === observedKind;
  const stable = pair.stable.filter((e) => e.kind !== observedKind);
  if (!observed || !pair.shadowGuarded) {
    if (!observed && pair.shadowGuarded && pair.shadow.length > 0) {
      return { differences: [], note: "side effects not compared: stable's were not recorded (only the capture middleware records them)" };
    }
    if (observed && !pair.shadowGuarded && stable.length > 0) {
      return { differences: [], note: 'side effects not compared: the shadow did not report its own (it does not use shadowtap/shadow)' };
    }
    return { differences: [] };
  }
  if ([stable, pair.shadow].some((list) => list.some((e) => e.kind === omittedKind))) {
    return { differences: [], note: `side effects not compared: a side's list is incomplete (over ${maxEffectsPerRequest} calls a request or ${maxEffectsHeaderBytes / 1024} KiB in the header, or unreadable)` };
  }
  const groups = new Map<string, { stable: SideEffect[]; shadow: SideEffect[] }>();
  const group = (effect: SideEffect) => {
    const key = effect.kind === 'http' ? `${effect.name} ${effect.origin}${effect.pathTemplate}` : `${effect.kind} ${effect.name}`;
    let found = groups.get(key);
    if (!found) groups.set(key, (found = { stable: [], shadow: [] }));
    return found;
  };
  for (const e of stable) group(e).stable.push(e);
  for (const e of pair.shadow) group(e).shadow.push(e);

  const differences: Difference[] = [];
  for (const [key, calls] of groups) {
    const path = `side-effect:${key}`;
    const severity: Severity = isWrite((calls.stable[0] ?? calls.shadow[0])!) ? 'critical' : 'value';
    const add = (change: Change, at: string, stableValue?: string, shadowValue?: string) =>
      differences.push({
        kind: 'side-effect',
        path: at,
        field: at,
        change,
        severity,
        ...(stableValue !== undefined && { stable: stableValue }),
        ...(shadowValue !== undefined && { shadow: shadowValue }),
      });
    const s = calls.stable.length;
    const h = calls.shadow.length;
    if (h === 0) add('removed', path, times(calls.stable, 'called'));
    else if (s === 0) add('added', path, undefined, times(calls.shadow, 'tried'));
    else if (s !== h) add('value-changed', path, times(calls.stable, 'called'), times(calls.shadow, 'tried'));
    else {
      const stableBodies = hashes(calls.stable);
      const shadowBodies = hashes(calls.shadow);
      if (stableBodies && shadowBodies && stableBodies.join() !== shadowBodies.join()) {
        add('value-changed', `${path}#body`, short(stableBodies), short(shadowBodies));
      }
      // A blocked call's status is its stand-in's: only calls both sides sent have comparable statuses.
      const sent = calls.stable.map((e, i) => [e, calls.shadow[i]!] as const).filter(([a, b]) => !a.blocked && !b.blocked);
      const changed = sent.find(([a, b]) => a.status !== b.status);
      if (changed) add('value-changed', `${path}#status`, String(changed[0].status), String(changed[1].status));
    }
  }
  return { differences };
}

function times(calls: readonly SideEffect[], verb: string): string {
  const count = calls.length === 1 ? 'once' : calls.length === 2 ? 'twice' : `${calls.length} times`;
  const blocked = calls.filter((e) => e.blocked).length;
  return `${verb} ${count}${blocked > 0 ? ` (${blocked === calls.length ? '' : `${blocked} `}blocked)` : ''}`;
}

/** Sorted body hashes, or null when a side did not know one (its body was a stream it could not see). */
function hashes(calls: readonly SideEffect[]): string[] | null {
  if (calls.some((e) => e.bodySha256 === null)) return null;
  return calls.map((e) => e.bodySha256!).sort();
}

function short(list: string[]): string {
  return list.map((h) => `sha256:${h.slice(0, 12)}`).join(', ');
}
