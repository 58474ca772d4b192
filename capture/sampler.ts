import { replayMarkerHeader } from '../shared/records/replay-markers.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { ResolvedSampling } from './capture-options.js';
import { globToRegExp } from './path-glob.js';

export interface SamplingDecision {
  sampled: boolean;
  /** Why a request is not recorded. */
  reason: 'replayed' | 'filter' | 'rate' | null;
  rate: number;
  mode: string;
}

/** FNV-1a: fast, stable across processes, and good enough to spread user ids over [0, 1). */
function unitHash(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 2 ** 32;
}

function cookieValue(cookieHeader: string, name: string): string | undefined {
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Decides per request whether it is recorded: method/path filters first, then the rate, either
 * at random or consistently by a key so one user's requests are all in or all out.
 */
export class Sampler {
  private readonly allowPaths: RegExp[];
  private readonly denyPaths: RegExp[];

  constructor(private readonly options: ResolvedSampling) {
    this.allowPaths = options.allowPaths.map(globToRegExp);
    this.denyPaths = options.denyPaths.map(globToRegExp);
  }

  decide(method: string, path: string, query: string, headers: IncomingHttpHeaders): SamplingDecision {
    const { rate, by, allowMethods, denyMethods } = this.options;
    // shadowtap's own replayed traffic (a --reference or --baseline stable behind this agent):
    // recording it would replay it again, without end.
    if (headers[replayMarkerHeader] !== undefined) return { sampled: false, reason: 'replayed', rate, mode: 'replayed' };
    const upper = method.toUpperCase();
    const filteredOut =
      (allowMethods.length > 0 && !allowMethods.includes(upper)) ||
      denyMethods.includes(upper) ||
      (this.allowPaths.length > 0 && !this.allowPaths.some((re) => re.test(path))) ||
      this.denyPaths.some((re) => re.test(path));
    if (filteredOut) return { sampled: false, reason: 'filter', rate, mode: 'filter' };
    if (rate >= 1) return { sampled: true, reason: null, rate: 1, mode: 'all' };
    const key = by ? this.keyOf(by, query, headers) : undefined;
    // Without its key a request falls back to random sampling, and says so in its mode.
    const mode = key === undefined ? 'random' : `consistent:${by!.source}:${by!.name}`;
    const draw = key === undefined ? Math.random() : unitHash(key);
    const sampled = draw < rate;
    return { sampled, reason: sampled ? null : 'rate', rate, mode };
  }

  private keyOf(by: NonNullable<ResolvedSampling['by']>, query: string, headers: IncomingHttpHeaders): string | undefined {
    if (by.source === 'header') {
      const value = headers[by.name];
      return Array.isArray(value) ? value[0] : value;
    }
    if (by.source === 'query') return new URLSearchParams(query).get(by.name) ?? undefined;
    const cookie = headers.cookie;
    return cookie ? cookieValue(cookie, by.name) : undefined;
  }
}
