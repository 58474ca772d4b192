import { usageError } from '../shared/errors.js';
import type { Capture, Header, HttpRequest, RequestChange } from '../shared/records/types.js';
import { isWholeBody, redactionEntries, type RedactionEntry } from '../shared/redaction/redaction-entry.js';
import { unsealRequest, type OpeningKey, type SealedRequest } from '../shared/redaction/seal.js';

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
      let original: SealedRequest;
      try {
        original = unsealRequest(key, capture.sealed);
      } catch {
        return { skip: sealUnreadable };
      }
      request = restore(request, original, entries);
      restored = true;
    } else if (!secrets.allowMasked) {
      throw usageError(missingKeyMessage(capture, secrets.openingKeys));
    }
  }
  const bodyMissing = request.body.length === 0 && (request.size > 0 || entries.some(isWholeBody));
  if (bodyMissing) return { skip: bodyNotKept };
  const changes: RequestChange[] = [];
  for (const entry of entries) {
    if (isWholeBody(entry)) continue;
    if (entry.part === 'header' && secrets.replacedHeaders.has(entry.name)) continue;
    changes.push({ kind: restored ? 'secret-restored' : 'secret-masked', name: `${entry.part}:${entry.name}`, from: null, to: null });
  }
  if (restored && entries.some(isWholeBody)) changes.push({ kind: 'secret-restored', name: 'body', from: null, to: null });
  return { request, changes };
}

/** Whether a Result's request went out with parts redaction changed (and nobody replaced). */
export const alteredByRedaction = (changes: readonly RequestChange[]) => changes.some((c) => c.kind === 'secret-masked');

function missingKeyMessage(capture: Capture, keys: ReadonlyMap<string, OpeningKey>): string {
  const { keyId } = capture.sealed!;
  const held = keys.size === 0 ? 'no private key was given' : `the keys given are ${[...keys.keys()].join(', ')}`;
  return (
    `capture ${capture.id} is sealed with key ${keyId} and ${held}: pass that private key (--seal-private-key FILE or SHADOWTAP_SEAL_PRIVATE_KEY), ` +
    'or --allow-masked to send the masked requests (their pairs get the verdict altered)'
  );
}

/** The recorded request with the sealed originals in place of what redaction changed. */
function restore(request: HttpRequest, original: SealedRequest, entries: readonly RedactionEntry[]): HttpRequest {
  // Original headers go where the first recorded header of their name was (dropped ones at the end).
  const sealedByName = new Map<string, Header[]>();
  for (const h of original.headers) {
    const name = h.name.toLowerCase();
    sealedByName.set(name, [...(sealedByName.get(name) ?? []), h]);
  }
  const headers: Header[] = [];
  const placed = new Set<string>();
  for (const h of request.headers) {
    const name = h.name.toLowerCase();
    const sealed = sealedByName.get(name);
    if (!sealed) headers.push(h);
    else if (!placed.has(name)) {
      headers.push(...sealed);
      placed.add(name);
    }
  }
  for (const [name, sealed] of sealedByName) if (!placed.has(name)) headers.push(...sealed);
  const body = original.body === null ? request.body : Buffer.from(original.body, 'base64');
  return {
    ...request,
    headers,
    query: entries.some((e) => e.part === 'query') ? original.query : request.query,
    body,
  };
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
