import { ahoCorasick } from './aho-corasick.js';

/**
 * Whether a header, parameter or field name holds a secret, decided by its words, not by
 * substrings: `tokens_used`, `authorId`, `passwordless`, `signature_algorithm` and
 * `Access-Control-Allow-Credentials` are ordinary; `key`, `sig`, `X-Client-Key`,
 * `AWSAccessKeyId`, `iban`, `client_secret` are secret. A name is split into words (camelCase,
 * snake_case, kebab-case, dots), then read like a noun phrase: its last secret word (the head)
 * must not be followed by words that make it describe something else (`_count`, `_type`,
 * `_expires_at`) nor preceded by ones that make it a flag (`has_`, `require_`) or a cursor
 * (`next_page_token`). Measured on real API descriptions by bench/redaction-classifier.ts.
 */

/** Words whose value is a secret on their own. */
const heads = new Set([
  'password', 'passwd', 'passphrase', 'pwd', 'passcode', 'passwords',
  'secret', 'token', 'credential', 'credentials', 'cookie', 'cookies',
  'signature', 'sig', 'iban', 'pan', 'ssn', 'cvv', 'cvc', 'csc', 'cvv2', 'cvc2',
  'otp', 'totp', 'hotp', 'pin', 'jwt', 'apikey', 'bearer', 'sessid', 'sessionid', 'assertion', 'authcode', 'smscode',
]);

/** Heads that are secret only after a word saying which secret: `api_key`, `recovery_codes`, `card_number`. */
const qualifiedHeads: Record<string, ReadonlySet<string>> = (() => {
  const keyQualifiers = [
    'api', 'access', 'secret', 'private', 'client', 'app', 'application', 'auth', 'authentication', 'session',
    'signing', 'sign', 'encryption', 'master', 'subscription', 'consumer', 'developer', 'dev', 'user', 'partner',
    'account', 'storage', 'shared', 'hmac', 'webhook', 'admin', 'service', 'server', 'primary', 'secondary', 'license',
    'write', 'ingest', 'ingestion', 'sdk', 'integration', 'merchant', 'aws', 'x', 'rest', 'management',
    'host', 'stream',
  ];
  const tokenQualifiers = ['access', 'refresh', 'api', 'auth', 'id', 'bearer', 'session', 'personal', 'oauth', 'app', 'device', 'security', 'csrf', 'xsrf', 'user', 'bot', 'report'];
  const codeQualifiers = [
    'auth', 'authorization', 'verification', 'verify', 'otp', 'totp', 'mfa', 'sms', 'recovery', 'backup', 'access',
    'device', 'security', 'twofactor', 'factor', 'login', 'pin', 'one', 'reset', 'authentication', 'token',
    'activation', 'confirmation', 'secret', 'user', 'blik', 'validation',
  ];
  const numberQualifiers = ['card', 'cc', 'credit', 'account', 'pan'];
  return {
    key: new Set(keyQualifiers),
    // Lists of keys are mostly public ones (SSH, GPG, signing keys); only these name secret ones.
    keys: new Set(['api', 'access', 'secret', 'private', 'application', 'client']),
    // A lone `auth`, `authorization` or `session` is a credential; qualified, mostly a resource or a setting (`instant_auth`, `checkout_session`).
    auth: new Set(['basic', 'http', 'proxy', 'api', 'bearer', 'digest', 'x', 'user']),
    authorization: new Set(['proxy', 'x', 'forwarded', 'upstream']),
    session: new Set(['user', 'web', 'login', 'browser', 'http', 'x']),
    tokens: new Set(tokenQualifiers),
    secrets: new Set(['client', 'api', 'app', 'webhook', 'shared']),
    code: new Set(codeQualifiers),
    codes: new Set(codeQualifiers),
    number: new Set(numberQualifiers),
    no: new Set(['card', 'cc']),
    num: new Set(numberQualifiers),
    card: new Set(['credit', 'debit']),
    pass: new Set(['user', 'db', 'admin', 'root', 'login', 'ftp', 'smtp', 'mail', 'proxy', 'account', 'basic']),
  };
})();

const loneHeads = new Set(['key', 'auth', 'authorization', 'session']);
const jsonOrdinary = new Set(['key', 'auth']);

/** Words that may follow the head when the name still holds the secret itself: `password_hash`, `api_key_value`. */
const valueTails = new Set([
  'value', 'hash', 'hashed', 'digest', 'str', 'string', 'b64', 'base64', 'hex', 'raw', 'plain', 'plaintext',
  'encrypted', 'enc', 'cipher', 'ciphertext', 'data', 'text', 'header', 'param', 'field', 'input', 'confirmation',
  'confirm', 'again', 'repeat', 'new', 'old', 'current', 'pem', 'answer', 'verifier',
]);

/** Tails allowed after one head only: a session id is the session, an access key id is AWS's secret key name. */
const headTails: Record<string, ReadonlySet<string>> = {
  session: new Set(['id', 'key', 'token']),
  key: new Set(['id']),
};

/** Words before the head that make the name a flag, a limit or a policy about the secret: `has_password`, `max_tokens`. */
const flagWords = new Set([
  'has', 'is', 'was', 'are', 'use', 'uses', 'using', 'require', 'requires', 'required', 'enable', 'enabled', 'disable',
  'disabled', 'allow', 'allows', 'allowed', 'can', 'should', 'need', 'needs', 'show', 'include', 'includes', 'support',
  'supports', 'force', 'must', 'min', 'max', 'minimum', 'maximum', 'num', 'total', 'count', 'no', 'without', 'expose',
  'generate', 'expire', 'revoke', 'skip', 'close', 'automount', 'from',
]);

/** Words right before `token` that make it a cursor or an idempotency marker, not a credential. */
const cursorWords = new Set([
  'page', 'next', 'prev', 'previous', 'continuation', 'pagination', 'sync', 'cursor', 'idempotency', 'resume',
  'marker', 'start', 'end', 'continue', 'skip', 'change', 'notification', 'cancellation', 'paging',
  'batch', 'version',
]);

/** Words right before `signature` that make it a person's signature or a musical one, not a request's. */
const personWords = new Set(['time', 'customer', 'author', 'evidence', 'of', 'email', 'handwritten', 'forward', 'existing']);

/** Plural heads after these words are permission scopes or collections (`organization_personal_access_tokens: "read"`). */
const scopeWords = new Set(['organization', 'repository', 'enterprise', 'org', 'repo']);

/** Whole names (separators removed) that are secret although their words say little: session cookies, CSRF fields. */
const secretCompounds = new Set([
  'jsessionid', 'phpsessid', 'aspsessionid', 'aspnetsessionid', 'connectsid', 'csrfmiddlewaretoken', 'csrf', 'xsrf',
  'awsaccesskeyid', 'awssecretaccesskey', 'privatetoken', 'authtoken', 'accesstoken', 'refreshtoken', 'idtoken',
  'clientsecret', 'secretkey', 'privatekey', 'accesskey', 'apitoken', 'sessiontoken', 'sessionkey', 'setcookie',
  'securitytoken', 'authkey', 'appkey', 'appsecret', 'apisecret', 'consumersecret', 'tokensecret', 'oauthtoken',
  'mysqlpwd', 'cardnumber', 'creditcard', 'ccnumber', 'cardno', 'securitycode', 'bankaccountnumber', 'cvnumber', 'samlresponse',
  // Secret headers of well-known services whose words do not say so.
  'xamzserversideencryptioncustomerkey', 'xamzcopysourceserversideencryptioncustomerkey', 'boxapi',
]);

/** Whole names that are never secret although a word in them would be: CORS and authentication challenges. */
const ordinaryPrefixes = [['access', 'control']];

/** Splits a name into lower-case words: `AWSAccessKeyId` → aws access key id, `X-Hub-Signature-256` → x hub signature 256. */
export function nameWords(name: string): string[] {
  const words: string[] = [];
  for (const m of name.matchAll(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g)) words.push(m[0].toLowerCase());
  return words;
}

export interface NameContext {
  /** The request is an OAuth callback or token request, where a lone `code` is the authorization code. */
  oauth?: boolean;
  /**
   * A field of a JSON document, where a lone `key` is a map key, an object key or a public SSH key
   * (`{"key": "env", "value": "prod"}`, S3's `Key`), not Google's `?key=` API key, and a lone
   * `auth` mostly an object of settings whose credential fields have names of their own.
   */
  json?: boolean;
}

/** Whether the value of a header, parameter or field of this name is a secret. */
export function isSensitiveName(name: string, context: NameContext = {}): boolean {
  const words = nameWords(name);
  if (words.length === 0) return false;
  const joined = words.join('');
  if (secretCompounds.has(joined) || heads.has(joined)) return true;
  if (ordinaryPrefixes.some((prefix) => prefix.every((w, i) => words[i] === w))) return false;
  if (context.oauth && joined === 'code') return true;
  // The head is the last secret word; only value words may follow it.
  if (context.json && jsonOrdinary.has(joined)) return false;
  for (let i = words.length - 1; i >= 0; i--) {
    if (!isHead(words, i)) {
      if (valueTails.has(words[i]) || /^\d+$/.test(words[i])) continue;
      if (headTails[words[i - 1]]?.has(words[i]) && isHead(words, i - 1) && allowedTail(words, i - 1, i)) continue;
      return false;
    }
    return !words.slice(0, i).some((w) => flagWords.has(w));
  }
  return false;
}

function isHead(words: string[], i: number): boolean {
  const word = words[i];
  const before = words[i - 1];
  if (word === 'token' && before !== undefined && cursorWords.has(before)) return false;
  if (word === 'signature' && before !== undefined && personWords.has(before)) return false;
  if (word.endsWith('s') && words.slice(0, i).some((w) => scopeWords.has(w))) return false;
  if (heads.has(word)) return true;
  const qualifiers = qualifiedHeads[word];
  if (!qualifiers) return false;
  // A lone `key` (Google's `?key=`), `auth`, `authorization` or `session` is secret; other qualified heads need their qualifier.
  if (before === undefined && loneHeads.has(word)) return true;
  return before !== undefined && qualifiers.has(before);
}

/** `key_id` is kept ordinary (a key's name), except AWS's access key id. */
function allowedTail(words: string[], head: number, tail: number): boolean {
  if (words[head] === 'key' && words[tail] === 'id') return words[head - 1] === 'access';
  return true;
}

/** Letters and digits of a name, case folded, as 0..35; other ASCII bytes are skipped (-1). */
const SKIP = -1;
/** Bytes that may hide a name from a byte scan: non-ASCII (Unicode case folding), backslash and `%` escapes. */
const OPAQUE = -2;
const ALPHABET = 36;
const symbolOf = new Int8Array(256).fill(OPAQUE);
for (let b = 0; b < 0x80; b++) symbolOf[b] = SKIP;
for (let i = 0; i < 26; i++) {
  symbolOf[0x61 + i] = i;
  symbolOf[0x41 + i] = i;
}
for (let d = 0; d < 10; d++) symbolOf[0x30 + d] = 26 + d;
symbolOf[0x5c] = OPAQUE;
symbolOf[0x25] = OPAQUE;

/**
 * Stems one of which every secret name contains, separators removed and case folded: the byte
 * scan below is sure that a body without any of them names no secret.
 */
const stems = ['pass', 'pwd', 'secret', 'token', 'cred', 'cookie', 'sig', 'iban', 'pan', 'ssn', 'cvv', 'cvc', 'csc',
  'otp', 'pin', 'jwt', 'key', 'auth', 'bearer', 'sess', 'code', 'card', 'ccn', 'ccno', 'accountn', 'connectsid', 'csrf', 'xsrf'];

/**
 * The stems' automaton as one table indexed by (state << 8 | byte): the next state, or -1 once
 * a stem is complete or the byte is opaque. Skipped bytes keep the state.
 */
export const nameScanTable = (() => {
  const { next, accepting, states } = ahoCorasick(
    stems.map((stem) => [...stem].map((c) => symbolOf[c.charCodeAt(0)])),
    ALPHABET,
  );
  const table = new Int16Array(states << 8);
  for (let state = 0; state < states; state++) {
    for (let byte = 0; byte < 256; byte++) {
      const symbol = symbolOf[byte];
      const to = symbol === SKIP ? state : symbol === OPAQUE ? -1 : next[state * ALPHABET + symbol];
      table[(state << 8) | byte] = to >= 0 && accepting[to] ? -1 : to;
    }
  }
  return table;
})();

/**
 * Whether a body may hold a field with a sensitive name, by one pass over its bytes from `start`
 * to `end`, the automaton in `state` (0 at the start of a body). Every secret name holds a stem in its
 * normalized form, a contiguous part of the body's normalized bytes, so `false` is certain.
 * Bodies with escapes or non-ASCII bytes answer `true` (a name could hide there), as does any
 * false alarm such as "keyword". The redactor runs this scan together with the secret-value one
 * (prefilterBody in secret-values.ts), and alone only for what is left after a value was found.
 */
export function nameScanFrom(body: Uint8Array, start: number, end: number, state: number): boolean {
  const table = nameScanTable;
  for (let i = start; i < end; i++) {
    state = table[(state << 8) | body[i]!]!;
    if (state < 0) return true;
  }
  return false;
}
