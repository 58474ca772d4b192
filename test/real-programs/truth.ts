import { isDeepStrictEqual } from 'node:util';
import type { CaseRequest, RealCase } from './real-case.js';
import { send, type Answer } from './send-request.js';

/**
 * The truth of a case, taken without shadowtap: every request is sent, identically, to two fresh
 * instances of the stable version (A and B) and to one of the new version. What differs between A
 * and B is the program's own noise and is not counted; whether the new version's status or body
 * differs from A's on anything else is the truth for that request.
 */
export interface TruthEntry {
  index: number;
  request: CaseRequest;
  stableStatus: number;
  shadowStatus: number;
  statusDiffers: boolean;
  bodyDiffers: boolean;
  different: boolean;
  /** What differs, for reports: `status 404 → 200`, `$.title`, `body bytes`. */
  differences: string[];
  /** Where stable A and stable B differed (their own noise). */
  aaNoise: string[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function parseJson(body: Buffer): { value: Json } | undefined {
  if (body.length === 0) return undefined;
  try {
    return { value: JSON.parse(body.toString('utf8')) as Json };
  } catch {
    return undefined;
  }
}

/** JSON paths where two values differ (objects by key, so key order is not a difference; arrays by position). */
function jsonDifferences(a: Json, b: Json, path = '$', out: string[] = []): string[] {
  const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b);
  if (!bothObjects) {
    if (!isDeepStrictEqual(a, b)) out.push(path);
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length || i >= b.length) out.push(`${path}[${i}]`);
      else jsonDifferences(a[i], b[i], `${path}[${i}]`, out);
    }
    return out;
  }
  const objA = a as Record<string, Json>;
  const objB = b as Record<string, Json>;
  for (const key of new Set([...Object.keys(objA), ...Object.keys(objB)])) {
    const child = `${path}.${key}`;
    if (!(key in objA) || !(key in objB)) out.push(child);
    else jsonDifferences(objA[key], objB[key], child, out);
  }
  return out;
}

/** Text bodies line by line (a line that differs between A and B is noise wherever it is). */
function lineDifferences(a: Buffer, b: Buffer): string[] {
  const la = a.toString('utf8').split('\n');
  const lb = b.toString('utf8').split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(la.length, lb.length); i++) if (la[i] !== lb[i]) out.push(`line:${i + 1}`);
  return out;
}

function bodyDifferences(a: Buffer, b: Buffer): string[] {
  if (a.equals(b)) return [];
  const ja = parseJson(a);
  const jb = parseJson(b);
  if (ja && jb) return jsonDifferences(ja.value, jb.value);
  return lineDifferences(a, b);
}

const covered = (path: string, noise: string[]) => noise.some((n) => path === n || path.startsWith(`${n}.`) || path.startsWith(`${n}[`));

export function judge(index: number, request: CaseRequest, stableA: Answer, stableB: Answer, shadow: Answer): TruthEntry {
  const aaNoise = bodyDifferences(stableA.body, stableB.body);
  if (stableA.status !== stableB.status) aaNoise.unshift('status');
  const statusDiffers = !aaNoise.includes('status') && stableA.status !== shadow.status;
  const bodyPaths = bodyDifferences(stableA.body, shadow.body).filter((p) => !covered(p, aaNoise));
  const differences = [...(statusDiffers ? [`status ${stableA.status} → ${shadow.status}`] : []), ...bodyPaths];
  return {
    index,
    request,
    stableStatus: stableA.status,
    shadowStatus: shadow.status,
    statusDiffers,
    bodyDiffers: bodyPaths.length > 0,
    different: differences.length > 0,
    differences,
    aaNoise,
  };
}

/** Asks fresh stable A, stable B and shadow every request, in the case's order. */
export async function takeTruth(realCase: RealCase): Promise<TruthEntry[]> {
  const [a, b, shadow] = await Promise.all([realCase.start('stable'), realCase.start('stable'), realCase.start('shadow')]);
  try {
    const truth: TruthEntry[] = [];
    for (const [index, request] of realCase.requests.entries()) {
      const answerA = await send(a.url, realCase, request);
      const answerB = await send(b.url, realCase, request);
      const answerShadow = await send(shadow.url, realCase, request);
      truth.push(judge(index, request, answerA, answerB, answerShadow));
    }
    return truth;
  } finally {
    await Promise.all([a.close(), b.close(), shadow.close()]);
  }
}
