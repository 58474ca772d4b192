import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, type Hash } from 'node:crypto';
import type { SideEffect } from '../shared/records/types.js';
import { EffectLog } from './effect-log.js';
import type { OutboundPolicy } from './outbound-policy.js';

/**
 * What the outbound hooks consult for the request whose code is running: where its calls are
 * recorded, and, in shadow context, the policy that decides whether they are sent. Outside any
 * scope the hooks pass every call through untouched.
 */
export interface OutboundScope {
  effects: EffectLog;
  /** Null on stable (the capture middleware observes, never blocks). */
  policy: OutboundPolicy | null;
  /** The capture a replayed request came from, when the replay named it. */
  captureId: string | null;
}

export const outboundScope = new AsyncLocalStorage<OutboundScope>();

/**
 * The scope that applies to code outside any request when the whole process is a shadow
 * (SHADOW_MODE=true): background jobs are guarded too; their effects are counted nowhere.
 */
let processScope: OutboundScope | undefined;

export function setProcessScope(scope: OutboundScope | undefined): void {
  processScope = scope;
}

export function currentScope(): OutboundScope | undefined {
  return outboundScope.getStore() ?? processScope;
}

/** True in shadow context: a replayed or mirrored request, or a process started with SHADOW_MODE=true. */
export function isShadow(): boolean {
  return currentScope()?.policy != null;
}

/** The id of the capture being replayed, or null (not a replay, or the replay did not say). */
export function captureId(): string | null {
  return currentScope()?.captureId ?? null;
}

const emptySha256 = createHash('sha256').digest('hex');

/** Hashes a request body as it is sent and writes the digest into the effect when it ends. */
export class BodyHash {
  /** Made at the first chunk: most calls (GET) have no body. */
  private hash: Hash | undefined;

  constructor(private readonly effect: SideEffect) {}

  update(chunk: string | Uint8Array, encoding?: BufferEncoding): void {
    this.hash ??= createHash('sha256');
    this.hash.update(typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : chunk);
  }

  end(): void {
    if (this.effect.bodySha256 === null) this.effect.bodySha256 = this.hash ? this.hash.digest('hex') : emptySha256;
  }
}
