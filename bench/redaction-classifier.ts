import type { Capture, Header } from '../shared/records/types.js';
import { resolveRedaction } from '../shared/redaction/redaction-options.js';
import { Redactor } from '../shared/redaction/redactor.js';
import { sampleCapture } from '../test/helpers/sample-records.js';
import { loadRedactionCorpus, scoreNames, scoreValues, type Score } from '../test/helpers/redaction-corpus.js';
import { itemsDocument } from './fixtures.js';

/**
 * Precision and recall of the redaction classifier on the labelled corpus of real API names
 * (test/fixtures/redaction/corpus.json, from OpenAPI documents shipped in npm packages) and of
 * the value rules on its value samples. Baseline in the same run: the substring rule the capture
 * agent used before (a name is secret when it contains password, token, auth, session, ...).
 * Goal: ≥ 0.99 both, on names and on values. Also the redactor's cost on capture-overhead.ts's
 * exchange (a GET answered with a 1 KB JSON document), against JSON.parse of that document.
 *   node dist/bench/redaction-classifier.js [--list]   (--list prints every miss)
 */
const corpus = loadRedactionCorpus();
const oldSubstrings = ['password', 'passwd', 'secret', 'token', 'apikey', 'auth', 'credential', 'privatekey', 'mysqlpwd', 'session', 'cookie', 'creditcard', 'cardnumber', 'signature'];
const oldExact = new Set(['pwd', 'ssn', 'cvv', 'cvc', 'pin', 'otp']);
const substringRule = (name: string) => {
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return oldExact.has(n) || oldSubstrings.some((w) => n.includes(w));
};

const started = performance.now();
const names = scoreNames(corpus);
const nameMicros = ((performance.now() - started) * 1000) / corpus.names.length;
const baseline = scoreNames(corpus, substringRule);
const values = scoreValues(corpus);

const secretNames = corpus.names.filter((n) => n.secret).length;
const secretValues = corpus.values.filter((v) => v.secret).length;
console.log(`corpus: ${corpus.names.length} names (${secretNames} secret) from ${corpus.sources.length} API descriptions; ${corpus.values.length} values (${secretValues} secret)`);
const row = (what: string, s: Score) =>
  `| ${what} | ${s.precision.toFixed(4)} | ${s.recall.toFixed(4)} | ${s.falsePositives.length} | ${s.falseNegatives.length} |`;
console.log('| classifier | precision | recall | false positives | false negatives |');
console.log('|---|---|---|---|---|');
console.log(row('names: words and context', names));
console.log(row('names: substrings (baseline)', baseline));
console.log(row('values: value rules', values));
console.log(`names classified without the cache: ${nameMicros.toFixed(2)} µs each`);
const list = process.argv.includes('--list');
for (const [what, s] of [['names', names], ['values', values]] as const) {
  const cut = (items: string[]) => (list ? items : items.slice(0, 12)).join(', ');
  if (s.falsePositives.length > 0) console.log(`${what} false positives: ${cut(s.falsePositives)}`);
  if (s.falseNegatives.length > 0) console.log(`${what} false negatives: ${cut(s.falseNegatives)}`);
}

// The hot path: what redaction costs an exchange without secrets, and one with a bearer token.
const headers = (o: Record<string, string>): Header[] => Object.entries(o).map(([name, value]) => ({ name, value }));
const answer = Buffer.from(itemsDocument);
const exchange = (extra: Record<string, string>): Capture =>
  sampleCapture({
    request: {
      method: 'GET',
      path: '/items',
      query: 'page=2&sort=asc',
      headers: headers({ host: '127.0.0.1:8080', 'user-agent': 'autocannon', accept: '*/*', ...extra }),
      body: Buffer.alloc(0),
      size: 0,
      truncated: false,
      sha256: null,
    },
    response: {
      status: 200,
      headers: headers({ 'content-type': 'application/json', 'content-length': String(answer.length), date: new Date(0).toUTCString() }),
      body: answer,
      size: answer.length,
      truncated: false,
      sha256: null,
    },
    redactions: [],
    sealed: null,
  });
const redactor = new Redactor(resolveRedaction({}));
const microsEach = (work: () => void, runs = 20_000) => {
  for (let i = 0; i < 2_000; i++) work();
  const start = performance.now();
  for (let i = 0; i < runs; i++) work();
  return ((performance.now() - start) * 1000) / runs;
};
const parse = microsEach(() => JSON.parse(itemsDocument));
const plain = microsEach(() => redactor.redact(exchange({})));
const bearer = microsEach(() => redactor.redact(exchange({ authorization: 'Bearer 6f1c0a9e2b7d4c3f8a5e1d0b9c8a7f6e' })));
console.log(`redactor on capture-overhead's exchange: ${plain.toFixed(2)} µs (${(plain / parse).toFixed(2)}× JSON.parse of its 1 KB answer, ${parse.toFixed(2)} µs); with a bearer token: ${bearer.toFixed(2)} µs (${(bearer / parse).toFixed(2)}×)`);
