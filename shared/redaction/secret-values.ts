import { ahoCorasick } from './aho-corasick.js';
import { nameScanFrom, nameScanTable } from './sensitive-names.js';

/**
 * Secrets recognised by their value wherever they appear, whatever the name around them: the
 * formats secret scanners (gitleaks, detect-secrets) and Sentry's `@creditcard`, `@iban` and
 * `@pemkey` rules know. Each rule is a pattern plus, where a pattern alone would catch ordinary
 * values, a check (Luhn for cards, mod 97 and the country's length for IBANs, a decodable
 * `user:password` for Basic credentials).
 */

export interface ValueMatch {
  start: number;
  end: number;
  rule: string;
}

interface Rule {
  name: string;
  pattern: RegExp;
  /** The length of the secret at the start of the match, or 0 when the match is not one. */
  check?: (text: string) => number;
}

/** Base64 and PEM body characters, with the `\n` escapes a JSON text holds. */
const PEM_BODY = String.raw`[A-Za-z0-9+/=\s\\:,.-]*?`;

const rules: Rule[] = [
  {
    name: 'pem-private-key',
    pattern: new RegExp(String.raw`-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----${PEM_BODY}(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|(?![A-Za-z0-9+/=\s\\:,.-]))`, 'g'),
  },
  { name: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g },
  { name: 'aws-access-key-id', pattern: /\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}\b/g },
  { name: 'github-token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g },
  { name: 'slack-token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}|hooks\.slack\.com\/(?:services|workflows)\/T[A-Z0-9]+\/[A-Z0-9]+\/[A-Za-z0-9]{20,}/g },
  { name: 'stripe-key', pattern: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9+/=]{20,}/g },
  { name: 'google-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}/g },
  { name: 'gitlab-token', pattern: /\bgl(?:pat|dt|rt|ptt|oas|cbt|ft|imt|soat)-[A-Za-z0-9_-]{20,}/g },
  { name: 'npm-token', pattern: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { name: 'openai-key', pattern: /\bsk-(?:proj-|ant-[a-z0-9]+-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}/g },
  { name: 'sendgrid-key', pattern: /\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b/g },
  { name: 'shopify-token', pattern: /\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b/g },
  { name: 'huggingface-token', pattern: /\bhf_[A-Za-z]{34}\b/g },
  { name: 'digitalocean-token', pattern: /\bdo[por]_v1_[a-f0-9]{64}\b/g },
  { name: 'pypi-token', pattern: /\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}/g },
  { name: 'square-token', pattern: /\bsq0(?:atp|csp)-[0-9A-Za-z_-]{22,}/g },
  { name: 'url-credentials', pattern: /(?<=\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}:\/\/)[^\s/?#@:"'<>]+:[^\s/?#@"'<>]+(?=@)/g },
  { name: 'bearer-credentials', pattern: /(?<=\bBearer\s+)[A-Za-z0-9._~+/-]{16,}=*/g, check: (s) => (/\d/.test(s) ? s.length : 0) },
  { name: 'basic-credentials', pattern: /(?<=\bBasic\s+)[A-Za-z0-9+/]{6,}={0,2}/g, check: basicCredentials },
  { name: 'card-number', pattern: /(?<![\d.,])\d(?:[ -]?\d){12,18}(?![\d])/g, check: cardNumber },
  { name: 'iban', pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g, check: iban },
];

/**
 * The literal every match of a prefixed rule starts with (or holds: `hooks.slack.com`). Card
 * numbers, IBANs and URL credentials have none; the scan below looks for their shape instead.
 */
const triggers = [
  'eyJ', '-----BEGIN', 'AKIA', 'ASIA', 'ABIA', 'ACCA', 'A3T', 'ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_',
  'xoxb-', 'xoxa-', 'xoxp-', 'xoxo-', 'xoxs-', 'xoxr-', 'xapp-', 'hooks.slack.com', 'sk_live_', 'sk_test_', 'rk_live_',
  'rk_test_', 'whsec_', 'AIza', 'glpat-', 'gldt-', 'glrt-', 'glptt-', 'gloas-', 'glcbt-', 'glft-', 'glimt-', 'glsoat-',
  'npm_', 'sk-', 'SG.', 'shpat_', 'shpss_', 'shpca_', 'shppa_', 'hf_', 'dop_v1_', 'doo_v1_', 'dor_v1_', 'pypi-', 'sq0atp-',
  'sq0csp-', 'Bearer', 'Basic',
];

const LOWER = 0;
const DIGIT = 1;
const UPPER = 2;
const SEPARATOR = 3;
/** Ends the authority of a URL: its path, query, fragment, or the end of the URL. */
const URL_END = 4;
const PUNCTUATION = 5;
/** Non-ASCII characters: no secret format holds them. */
const OTHER = 6;
const charKinds = new Uint8Array(256).map((_, c) => {
  if (c >= 128) return OTHER;
  if ((c >= 97 && c <= 122) || c === 95) return LOWER;
  if (c >= 48 && c <= 57) return DIGIT;
  if (c >= 65 && c <= 90) return UPPER;
  if (c === 32 || c === 45) return SEPARATOR;
  if (c === 47 || c === 63 || c === 35 || c === 34 || c === 39 || c === 60 || c === 62 || c < 32) return URL_END;
  return PUNCTUATION;
});

/** The trigger automaton as one table indexed by state * 128 + char: the next state, or -1 once a trigger is complete. */
const triggerTable = (() => {
  const { next, accepting } = ahoCorasick(
    triggers.map((t) => [...t].map((c) => c.charCodeAt(0))),
    128,
  );
  return next.map((to) => (accepting[to] ? -1 : to));
})();

const scratch = Buffer.allocUnsafe(4096);

/**
 * Whether a text (or its bytes) may hold a secret by value, in one pass: a trigger
 * literal, 13 digits in a row (single spaces or dashes between), two capitals followed by two
 * digits (an IBAN's start), or an `@` in the authority of a URL. `false` is certain; most
 * values (ids, dates, names, prose) answer it without any pattern being run.
 */
export function mayHoldSecretValue(text: string | Uint8Array): boolean {
  // Bytes index faster than a string's characters; a secret is ASCII, so latin1 keeps every one
  // intact. Short strings (headers, parameters) are written into one reused buffer, not a new one.
  const short = typeof text === 'string' && text.length <= scratch.length;
  const bytes = typeof text !== 'string' ? text : short ? scratch : Buffer.from(text, 'latin1');
  const end = short ? scratch.write(text as string, 0, 'latin1') : bytes.length;
  return (scanBytes(bytes, end, false) & MAY_HOLD_VALUE) !== 0;
}

/** prefilterBody's answer: bits of what a body may hold. */
export const MAY_HOLD_NAME = 1;
export const MAY_HOLD_VALUE = 2;

/**
 * What a body may hold, by one pass over its bytes: a secret by value (mayHoldSecretValue) and,
 * when `names` is asked, a field with a sensitive name (nameScanFrom). The two automata step
 * side by side, so their table lookups overlap instead of taking two passes.
 */
export function prefilterBody(body: Uint8Array, names: boolean): number {
  return scanBytes(body, body.length, names);
}

function scanBytes(bytes: Uint8Array, end: number, names: boolean): number {
  // The tables as locals: the optimizing compiler keeps them at hand instead of reloading (and, for
  // imports, hole-checking) the module bindings on every byte.
  const kinds = charKinds;
  const triggers = triggerTable;
  const nameTable = nameScanTable;
  let found = 0;
  // The name automaton's state; -1 once it has nothing more to say (not asked, or a name found).
  let name = names ? 0 : -1;
  let state = 0;
  let digits = 0;
  let separated = false;
  let capitals = 0;
  let ibanDigits = 0;
  let slashes = 0;
  let authority = false;
  let i = 0;
  for (; i < end; i++) {
    const c = bytes[i]!;
    if (name >= 0) {
      name = nameTable[(name << 8) | c]!;
      if (name < 0) {
        found = MAY_HOLD_NAME;
        name = -1;
      }
    }
    const kind = kinds[c]!;
    if (kind === OTHER) {
      state = digits = capitals = ibanDigits = slashes = 0;
      authority = false;
      continue;
    }
    state = triggers[(state << 7) | c]!;
    if (state < 0) break;
    if (kind === LOWER) {
      // The common case: a letter of a word or a name.
      digits = capitals = ibanDigits = slashes = 0;
      continue;
    }
    if (kind === DIGIT) {
      if (++digits >= 13) break;
      separated = false;
      if (capitals >= 2 && ++ibanDigits >= 2) break;
      if (capitals < 2) capitals = 0;
      slashes = 0;
      continue;
    }
    if (kind === UPPER) {
      capitals = ibanDigits > 0 ? 1 : capitals + 1;
      ibanDigits = digits = slashes = 0;
      continue;
    }
    if (kind === SEPARATOR && digits > 0 && !separated) separated = true;
    else digits = 0;
    capitals = ibanDigits = 0;
    if (c === 58) slashes = 1;
    else if (c === 47 && (slashes === 1 || slashes === 2)) {
      if (++slashes === 3) {
        authority = true;
        continue;
      }
    } else slashes = 0;
    if (authority) {
      if (c === 64) break;
      if (kind === URL_END) authority = false;
    }
  }
  if (i === end) return found;
  // A value at byte i (the loop broke off): only the name scan, if still going, has more to say.
  return found | MAY_HOLD_VALUE | (name >= 0 && nameScanFrom(bytes, i + 1, end, name) ? MAY_HOLD_NAME : 0);
}

/** The secrets in a text, ordered and without overlaps. */
export function findSecretValues(text: string): ValueMatch[] {
  if (!mayHoldSecretValue(text)) return [];
  const found: ValueMatch[] = [];
  for (const rule of rules) {
    rule.pattern.lastIndex = 0;
    for (let m = rule.pattern.exec(text); m; m = rule.pattern.exec(text)) {
      const length = rule.check ? rule.check(m[0]) : placeholder(m[0]) ? 0 : m[0].length;
      if (length > 0) found.push({ start: m.index, end: m.index + length, rule: rule.name });
    }
  }
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: ValueMatch[] = [];
  for (const match of found) {
    const last = merged[merged.length - 1];
    if (last && match.start < last.end) last.end = Math.max(last.end, match.end);
    else merged.push({ ...match });
  }
  return merged;
}

/** Documentation placeholders (`…/XXXXXXXXXXXXXXXXXXXXXXXX`, `ghp_000…`) end in a run of few distinct characters. */
function placeholder(match: string): boolean {
  return match.length >= 16 && new Set(match.slice(-16)).size < 5;
}

/** Basic credentials decode to `user:password` in printable text. */
function basicCredentials(candidate: string): number {
  const decoded = Buffer.from(candidate, 'base64').toString('latin1');
  return /^[\x20-\x7e]+:[\x20-\x7e]*$/.test(decoded) ? candidate.length : 0;
}

/** Issuer prefixes and lengths of the major card networks (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay). */
function cardNetworkAccepts(digits: string): boolean {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p4 = Number(digits.slice(0, 4));
  if (digits[0] === '4') return n === 16 || n === 19;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16;
  if (p2 === 34 || p2 === 37) return n === 15;
  if (p4 === 6011 || p2 === 65 || (p4 >= 6440 && p4 <= 6499)) return n >= 16 && n <= 19;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19;
  if ((p4 >= 3000 && p4 <= 3059) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19;
  if (p2 === 62) return n >= 16 && n <= 19;
  return false;
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function cardNumber(candidate: string): number {
  const digits = candidate.replace(/[ -]/g, '');
  return cardNetworkAccepts(digits) && luhnValid(digits) ? candidate.length : 0;
}

/** IBAN lengths by country (ISO 13616 registry). */
const ibanLengths: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30,
  KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27,
  MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33,
  SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

export function ibanValid(compact: string): boolean {
  if (ibanLengths[compact.slice(0, 2)] !== compact.length) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const value = code >= 65 ? String(code - 55) : char;
    for (const digit of value) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

/** The IBAN at the start of the candidate, which may run on into the next word ("DE89 … 00 EUR"). */
function iban(candidate: string): number {
  const length = ibanLengths[candidate.slice(0, 2)];
  if (!length) return 0;
  let compact = '';
  let end = 0;
  while (end < candidate.length && compact.length < length) {
    if (candidate[end] !== ' ') compact += candidate[end];
    end++;
  }
  return compact.length === length && ibanValid(compact) ? end : 0;
}
