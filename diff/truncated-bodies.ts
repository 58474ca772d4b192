import { createHash } from 'node:crypto';
import type { HttpResponse } from '../shared/records/types.js';
import { sameHeaderMeaning } from './header-meaning.js';

/**
 * Bodies of which only a prefix was stored (over capture's or replay's --max-body) are decided
 * by what was recorded of the whole body: its size and SHA-256. Equal hashes are equal bodies;
 * a stored prefix that differs, a size or a hash that differs, is a difference; without a hash
 * on a truncated side (records from before schema v2, imports) the bodies are not compared and
 * the reason is given. Never a match by default.
 */
export type TruncatedComparison =
  | { outcome: 'equal' }
  | { outcome: 'differs'; beyondPrefix: boolean; stable: string; shadow: string; note: string }
  /** `reason` is one of a few fixed phrases (counted per route); `detail` says it for this pair. */
  | { outcome: 'not-compared'; reason: string; detail: string };

/** The hash of the whole body: the recorded one, or computed from a body that was stored whole. */
function wholeHash(r: HttpResponse): string | null {
  if (r.sha256) return r.sha256;
  return r.truncated ? null : createHash('sha256').update(r.body).digest('hex');
}

function describe(r: HttpResponse, hash: string | null): string {
  const stored = r.truncated ? `, first ${r.body.length} stored` : '';
  return `${r.size} bytes${hash ? ` sha256:${hash.slice(0, 16)}` : ''}${stored}`;
}

const sideNames = (stable: HttpResponse, shadow: HttpResponse) => (stable.truncated && shadow.truncated ? 'both sides' : stable.truncated ? 'the stable side' : 'the shadow side');

export function compareTruncatedBodies(stable: HttpResponse, shadow: HttpResponse, stableEncoding: string | undefined, shadowEncoding: string | undefined): TruncatedComparison {
  const where = sideNames(stable, shadow);
  const a = wholeHash(stable);
  const b = wholeHash(shadow);
  if (a !== null && a === b) return { outcome: 'equal' };
  if (!sameHeaderMeaning('content-encoding', stableEncoding ?? 'identity', shadowEncoding ?? 'identity')) {
    // Hashes and prefixes are of the encoded bytes: gzip against identity says nothing about the content.
    return {
      outcome: 'not-compared',
      reason: 'truncated body under different content-encodings',
      detail: `body truncated on ${where} and sent with different content-encodings (${stableEncoding ?? 'identity'} vs ${shadowEncoding ?? 'identity'}); raise --max-body to compare`,
    };
  }
  const common = Math.min(stable.body.length, shadow.body.length);
  const differs = (beyondPrefix: boolean, note: string) => ({ outcome: 'differs' as const, beyondPrefix, stable: describe(stable, a), shadow: describe(shadow, b), note });
  if (!stable.body.subarray(0, common).equals(shadow.body.subarray(0, common))) {
    return differs(false, `body truncated on ${where}; the stored prefixes differ (compared as bytes, not field by field)`);
  }
  if (stable.size !== shadow.size) return differs(true, `body truncated on ${where}; differs beyond the stored prefix (sizes ${stable.size} vs ${shadow.size} bytes)`);
  if (a !== null && b !== null) return differs(true, `body truncated on ${where}; differs beyond the stored prefix (same size, different sha256)`);
  return {
    outcome: 'not-compared',
    reason: 'truncated body without sha256',
    detail: `body truncated on ${where} without a recorded sha256 (record from before schema v2 or an import); the stored ${common} bytes and the sizes are equal, the rest is unknown`,
  };
}
