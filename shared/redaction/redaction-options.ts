import { createHmac } from 'node:crypto';
import { configError } from '../errors.js';
import { parsePathPattern } from './body-path.js';
import { sealingKeyFromPem, type SealingKey } from './seal.js';

export type RedactionMode = 'mask' | 'drop' | 'hash' | 'seal';
export const redactionModes: readonly RedactionMode[] = ['mask', 'drop', 'hash', 'seal'];

export interface RedactionOptions {
  /** Redaction is on unless explicitly turned off. */
  enabled?: boolean;
  /**
   * mask: "[redacted]"; drop: remove the header/param/field; hash: "hmac:<hex>" with a secret key;
   * seal: masked in the record, the request's originals encrypted to the replay worker's public key.
   */
  mode?: RedactionMode;
  /** Key of the hash mode; defaults to the SHADOWTAP_REDACT_KEY environment variable. */
  hashKey?: string;
  /** PEM of the replay worker's X25519 public key; seal mode only. */
  sealPublicKey?: string;
  /** Classify header, parameter and field names by their words (password, api_key, Authorization, ...); on by default. */
  defaultNames?: boolean;
  /** More header names to redact (exact, case-insensitive). */
  headers?: string[];
  /** More query parameter names to redact (exact, case-insensitive). */
  queryParams?: string[];
  /** More JSON/form body fields by path: `$.user.*.pin`, `$.items[*].card`, `$..cvv` style `**`. */
  bodyPaths?: string[];
}

export const redactionDefaults = { enabled: true, mode: 'mask' as RedactionMode, defaultNames: true };

export interface ResolvedRedaction {
  enabled: boolean;
  mode: RedactionMode;
  hashKey: string | null;
  /** Set in seal mode when captures are sealed; null where only answers are redacted (the replay side). */
  sealingKey: SealingKey | null;
  defaultNames: boolean;
  headers: string[];
  queryParams: string[];
  /** Parsed patterns, one segment list each. */
  bodyPaths: string[][];
}

/**
 * The id of a hash-mode key, recorded with each capture (`redactionMode: "hash:<id>"`) so a replay
 * holding another key is refused before it sends: answers hashed with another key would differ
 * from stable's on every secret, differences the tool made. An HMAC of a constant: it names the
 * key without helping to find it.
 */
export function hashKeyId(key: string): string {
  return createHmac('sha256', key).update('shadowtap hash key id').digest('hex').slice(0, 12);
}

/** A recorded redaction mode (`mask`, `hash:<key id>`, `hash` from older agents), parsed. */
export function parseRedactionMode(recorded: string): { mode: RedactionMode; keyId: string | null } {
  const colon = recorded.indexOf(':');
  return colon === -1 ? { mode: recorded as RedactionMode, keyId: null } : { mode: recorded.slice(0, colon) as RedactionMode, keyId: recorded.slice(colon + 1) };
}

/**
 * Validates redaction options once. `sealing: false` is for a side that only redacts answers
 * (the replay worker): seal mode then needs no public key, since answers are masked, never sealed.
 */
export function resolveRedaction(options: RedactionOptions = {}, { sealing = true }: { sealing?: boolean } = {}): ResolvedRedaction {
  const mode = options.mode ?? redactionDefaults.mode;
  if (!redactionModes.includes(mode)) throw configError(`redaction mode must be mask, drop, hash or seal; got "${mode}"`);
  const hashKey = options.hashKey ?? process.env.SHADOWTAP_REDACT_KEY ?? null;
  if (mode === 'hash' && !hashKey) {
    throw configError('redaction mode "hash" needs a key: set SHADOWTAP_REDACT_KEY (a long random string)');
  }
  if (options.sealPublicKey !== undefined && mode !== 'seal') {
    throw configError(`a seal public key was given, but the redaction mode is "${mode}": add --redact-mode seal or leave the key out`);
  }
  let sealingKey: SealingKey | null = null;
  if (mode === 'seal' && sealing) {
    if (options.sealPublicKey === undefined) {
      throw configError('redaction mode "seal" needs the replay worker\'s public key: --seal-public-key FILE (make a pair with `shadowtap keys generate --out DIR`)');
    }
    try {
      sealingKey = sealingKeyFromPem(options.sealPublicKey);
    } catch (error) {
      throw configError(`the seal public key is not usable: ${(error as Error).message}`);
    }
  }
  return {
    enabled: options.enabled ?? redactionDefaults.enabled,
    mode,
    hashKey,
    sealingKey,
    defaultNames: options.defaultNames ?? redactionDefaults.defaultNames,
    headers: (options.headers ?? []).map((h) => h.toLowerCase()),
    queryParams: (options.queryParams ?? []).map((q) => q.toLowerCase()),
    bodyPaths: (options.bodyPaths ?? []).map((path) => {
      try {
        return parsePathPattern(path);
      } catch {
        throw configError(`redaction body path "${path}" is not a path like $.user.*.pin or $.items[*].token`);
      }
    }),
  };
}
