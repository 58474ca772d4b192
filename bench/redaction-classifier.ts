import { loadRedactionCorpus, scoreNames, scoreValues, type Score } from '../test/helpers/redaction-corpus.js';

/**
 * Precision and recall of the redaction classifier on the labelled corpus of real API names
 * (test/fixtures/redaction/corpus.json, from OpenAPI documents shipped in npm packages) and of
 * the value rules on its value samples. Baseline in the same run: the substring rule the capture
 * agent used before (a name is secret when it contains password, token, auth, session, ...).
 * Goal: ≥ 0.99 both, on names and on values.
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
