/**
 * Names whose values are secrets, after Sentry's default data scrubbing: a name is sensitive when,
 * lower-cased and stripped of separators, it contains one of these words ("X-Auth-Token",
 * "client_secret", "apiKey", "set-cookie" all match).
 */
const sensitiveSubstrings = [
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'auth',
  'credential',
  'privatekey',
  'mysqlpwd',
  'session',
  'cookie',
  'creditcard',
  'cardnumber',
  'signature',
];

/** Short names matched whole, so "classname" is not taken for "ssn". */
const sensitiveExact = new Set(['pwd', 'ssn', 'cvv', 'cvc', 'pin', 'otp']);

const normalize = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

export function isSensitiveName(name: string): boolean {
  const n = normalize(name);
  return sensitiveExact.has(n) || sensitiveSubstrings.some((word) => n.includes(word));
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
 * An Aho–Corasick automaton over every sensitive word, as one table indexed by (state << 8 | byte):
 * the next state, or -1 once a word is complete or the byte is opaque. Skipped bytes keep the state.
 */
const scanTable = (() => {
  const words = [...sensitiveSubstrings, ...sensitiveExact];
  const maxStates = words.reduce((n, w) => n + w.length, 1);
  const next = new Int16Array(maxStates * ALPHABET).fill(-1);
  const accepting = new Uint8Array(maxStates);
  let states = 1;
  for (const word of words) {
    let state = 0;
    for (const char of word) {
      const symbol = symbolOf[char.charCodeAt(0)];
      if (next[state * ALPHABET + symbol] === -1) next[state * ALPHABET + symbol] = states++;
      state = next[state * ALPHABET + symbol];
    }
    accepting[state] = 1;
  }
  // Breadth first: each missing transition follows the failure link, so the scan never backtracks.
  const fail = new Int16Array(states);
  const queue: number[] = [];
  for (let s = 0; s < ALPHABET; s++) {
    const child = next[s];
    if (child === -1) next[s] = 0;
    else queue.push(child);
  }
  while (queue.length > 0) {
    const state = queue.shift()!;
    if (accepting[fail[state]]) accepting[state] = 1;
    for (let s = 0; s < ALPHABET; s++) {
      const child = next[state * ALPHABET + s];
      if (child === -1) next[state * ALPHABET + s] = next[fail[state] * ALPHABET + s];
      else {
        fail[child] = next[fail[state] * ALPHABET + s];
        queue.push(child);
      }
    }
  }
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
 * Whether a JSON or form body may hold a field with a sensitive name, by one pass over its bytes.
 * Every name's normalized form is a contiguous part of the body's normalized bytes, so `false` is
 * certain: no field needs redacting and the body need not be parsed. Bodies with escapes or
 * non-ASCII bytes answer `true` (a name could hide there), as does any false alarm such as "shipping".
 */
export function mayHoldSensitiveName(body: Uint8Array): boolean {
  let state = 0;
  for (let i = 0; i < body.length; i++) {
    state = scanTable[(state << 8) | body[i]];
    if (state < 0) return true;
  }
  return false;
}
