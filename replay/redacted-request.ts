import { usageError } from '../shared/errors.js';
import type { Capture, HttpRequest, RequestChange } from '../shared/records/types.js';
import { isBodyNotKept, redactionEntries, secretMasked, secretRestored, type RedactionEntry } from '../shared/redaction/redaction-entry.js';
import { originalRequest } from '../shared/redaction/redactor.js';
import { unsealRequest, type OpeningKey } from '../shared/redaction/seal.js';

/** How the replay deals with what capture redacted from a request. */
export interface RequestSecrets {
  /** Private keys by key id: a capture sealed to one of them is sent with its originals. */
  openingKeys: ReadonlyMap<string, OpeningKey>;
  /** Send the masked request when a capture is sealed to a key not held (else the replay stops). */
  allowMasked: boolean;
  /** Lower-case header names the user replaces (--set-header): a masked value there is not sent. */
  replacedHeaders: ReadonlySet<string>;
}

/** Either the request to send with what the replay changed in it, or why it is not sent. */
export type PreparedRequest = { request: HttpRequest; changes: RequestChange[] } | { skip: string };

/** Why a request whose body capture did not keep is skipped rather than sent with an empty body. */
export const bodyNotKept = 'body-not-kept';
/** A sealed record that does not open with the key of its id: changed or damaged at rest. */
export const sealUnreadable = 'seal-unreadable';

/**
 * The request the shadow gets for a capture whose request was redacted. Sealed originals are put
 * back when a key opens them (`secret-restored`); otherwise the masked parts are sent as
 * recorded and named (`secret-masked`), which the diff turns into the `altered` verdict, unless
 * the user replaces them. A body capture did not keep is never sent empty. Throws a usage error
 * when a capture is sealed to a key not held and masked sends are not allowed.
 */
export function prepareRequest(capture: Capture, secrets: RequestSecrets): PreparedRequest {
  const entries = distinct(redactionEntries(capture.redactions, 'request'));
  let request = capture.request;
  let restored = false;
  if (capture.sealed) {
    const key = secrets.openingKeys.get(capture.sealed.keyId);
    if (key) {
      try {
        request = originalRequest(request, unsealRequest(key, capture.sealed));
      } catch {
        return { skip: sealUnreadable };
      }
      restored = true;
    } else if (!secrets.allowMasked) {
      throw usageError(missingKeyMessage(capture, secrets.openingKeys));
    }
  }
  // Also for records of older agents, which emptied a body they could not parse and said so differently.
  const bodyMissing = request.body.length === 0 && (request.size > 0 || entries.some(isBodyNotKept));
  if (bodyMissing) return { skip: bodyNotKept };
  const changes: RequestChange[] = [];
  for (const entry of entries) {
    if (entry.part === 'header' && secrets.replacedHeaders.has(entry.name)) continue;
    changes.push({ kind: restored ? secretRestored : secretMasked, name: `${entry.part}:${entry.name}`, from: null, to: null });
  }
  return { request, changes };
}

function missingKeyMessage(capture: Capture, keys: ReadonlyMap<string, OpeningKey>): string {
  const { keyId } = capture.sealed!;
  const held = keys.size === 0 ? 'no private key was given' : `the keys given are ${[...keys.keys()].join(', ')}`;
  return (
    `capture ${capture.id} is sealed with key ${keyId} and ${held}: pass that private key (--seal-private-key FILE or SHADOWTAP_SEAL_PRIVATE_KEY), ` +
    'or --allow-masked to send the masked requests (their pairs get the verdict altered)'
  );
}

/**
 * The request builder's changes with no value of a header redaction touched: once the originals
 * are restored, a `header-removed` or `header-set` would otherwise show the secret it removed.
 */
export function concealSecrets(changes: readonly RequestChange[], capture: Capture): readonly RequestChange[] {
  if (capture.redactions.length === 0) return changes;
  const secret = new Set(redactionEntries(capture.redactions, 'request').filter((e) => e.part === 'header').map((e) => e.name));
  if (secret.size === 0) return changes;
  return changes.map((c) => (c.from !== null && secret.has(c.name.toLowerCase()) ? { ...c, from: null } : c));
}

function distinct(entries: RedactionEntry[]): RedactionEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const key = `${e.part}:${e.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
