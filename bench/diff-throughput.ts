/**
 * Diff stage throughput and footprint.
 * 1. Pairs per second through comparePair for 2 KB JSON bodies, equal and differing, against a
 *    baseline measured in the same run: only JSON.parse of both bodies.
 * 2. The same through the whole per-pair path of a diff worker: route template, comparison and
 *    the summary (counts, fields, latency histograms, samples). The JSON Lines record is built
 *    only for JSON Lines output, so not here.
 * 3. Memory after 100k and after 1M pairs through the summary accumulator: it must stay flat.
 * Rates are CPU time of this process, best of BENCH_ROUNDS (7) rounds alternating with the baseline's,
 * so that a shared machine's load hits both alike.
 * Run: node --expose-gc dist/bench/diff-throughput.js
 */
import { loadavg } from 'node:os';
import { comparePair, compileRules } from '../diff/compare-pair.js';
import { createPairJudge } from '../diff/run-diff.js';
import { addOutcome, newSummary } from '../diff/summary.js';
import { captureV2Defaults, resultV2Defaults, type Capture, type HttpResponse, type Result } from '../shared/records/types.js';

function response(body: unknown): HttpResponse {
  const bytes = Buffer.from(JSON.stringify(body));
  return { status: 200, headers: [{ name: 'content-type', value: 'application/json' }], body: bytes, size: bytes.length, truncated: false, sha256: null };
}

function body(seed: number, change: boolean) {
  return {
    id: seed,
    generatedAt: new Date(1_767_000_000_000 + (change ? 1000 : 0)).toISOString(),
    items: Array.from({ length: 28 }, (_, i) => ({ sku: `SKU-${seed}-${i}`, qty: i + (change && i === 3 ? 1 : 0), price: 9.99 + i, tags: ['a', 'b'] })),
    owner: { name: 'Ada Lovelace', email: 'ada@example.com', plan: change ? 'pro' : 'free' },
  };
}

/** The same content serialised with keys in another order: equal, but not byte for byte. */
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reordered(v)]));
}

const pairs = 20_000;
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const equal = Array.from({ length: 100 }, (_, i) => [response(body(i, false)), response(body(i, false))] as const);
const equivalent = Array.from({ length: 100 }, (_, i) => [response(body(i, false)), response(reordered(body(i, false)))] as const);
const differing = Array.from({ length: 100 }, (_, i) => [response(body(i, false)), response(body(i, true))] as const);
const cases = [
  ['equal bytes', equal],
  ['equal content, other bytes', equivalent],
  ['differing (3 fields)', differing],
] as const;
console.log(`body size ${equal[0]![0].body.length} bytes; best of ${rounds} alternating rounds of ${pairs} pairs each, CPU time; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const rules = compileRules({ arrayKeys: ['$.items[*]=sku'] });

/**
 * Pairs per second of `run` and of `baseline`, rounds alternating so that a shared machine's
 * drift hits both alike; CPU time of this process (not wall time: a descheduled thread costs
 * nothing), best round of each.
 */
function rates(baseline: (i: number) => void, run: (i: number) => void): [number, number] {
  for (let i = 0; i < 2000; i++) (baseline(i), run(i)); // warm-up
  const best = [0, 0];
  for (let round = 0; round < rounds; round++) {
    [baseline, run].forEach((work, which) => {
      const start = process.cpuUsage();
      for (let i = 0; i < pairs; i++) work(i);
      const used = process.cpuUsage(start);
      best[which] = Math.max(best[which]!, pairs / ((used.user + used.system) / 1e6));
    });
  }
  return [best[0]!, best[1]!];
}

const parseBoth = (set: readonly (readonly [HttpResponse, HttpResponse])[]) => (i: number) => {
  const [a, b] = set[i % set.length]!;
  JSON.parse(a.body.toString('utf8'));
  JSON.parse(b.body.toString('utf8'));
};

for (const [name, set] of cases) {
  const [baseline, diff] = rates(parseBoth(set), (i) => {
    const [a, b] = set[i % set.length]!;
    comparePair(a, b, rules, 'GET /orders/{id}');
  });
  console.log(`${name}: comparePair ${diff.toFixed(0)} pairs/s, JSON.parse baseline ${baseline.toFixed(0)} pairs/s, ratio ${(diff / baseline).toFixed(3)}`);
}

function record(i: number, stable: HttpResponse, shadow: HttpResponse): [Capture, Result] {
  const start = 1_767_000_000_000_000 + i * 1000;
  const capture: Capture = {
    id: `req-${i}`,
    captureTime: start,
    agent: 'bench',
    service: 'orders',
    request: { method: 'GET', path: `/orders/${i}`, query: '', headers: [], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null },
    response: stable,
    upstreamError: null,
    timings: { start, firstByte: start + 800, end: start + 1000 + (i % 977) },
    redactions: [],
    ...captureV2Defaults(),
    sampling: { rate: 1, mode: 'all' },
  };
  const result: Result = {
    id: capture.id,
    captureId: capture.id,
    source: { log: 'bench', partition: 0, offset: i },
    target: 'http://shadow:8080',
    scheduledTime: start + 5000,
    sentTime: start + 5000,
    attempt: 1,
    outcome: 'response',
    error: null,
    skipReason: null,
    response: shadow,
    latencyMicros: 1100 + (i % 991),
    ...resultV2Defaults(),
  };
  return [capture, result];
}

for (const [name, set] of cases) {
  const records = set.map(([a, b], i) => record(i, a, b));
  const judge = createPairJudge(rules);
  const pipelineSummary = newSummary();
  let differences = 0;
  const [baseline, pipeline] = rates(parseBoth(set), (i) => {
    const [capture, result] = records[i % records.length]!;
    const judged = judge(capture, result);
    addOutcome(pipelineSummary, judged.outcome);
    differences += judged.outcome.differences.length;
  });
  if (name.startsWith('differing') && differences === 0) throw new Error('the differing pairs did not differ');
  console.log(`${name}: whole per-pair path ${pipeline.toFixed(0)} pairs/s, JSON.parse baseline ${baseline.toFixed(0)} pairs/s, ratio ${(pipeline / baseline).toFixed(3)}`);
}

const gc = (globalThis as { gc?: () => void }).gc;
function memory(): { heap: number; rss: number } {
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

const summary = newSummary();
const differences = [{ kind: 'body' as const, path: '$.items[3].qty', field: '$.items[*].qty', change: 'value-changed' as const, severity: 'value' as const }];
const feed = (from: number, to: number) => {
  for (let i = from; i < to; i++) {
    const route = `GET /r${i % 40}/{id}`;
    addOutcome(summary, {
      id: `req-${i}`,
      route,
      verdict: i % 20 === 0 ? 'mismatch' : 'match',
      timeMs: 1_767_000_000_000 + Math.floor(i / 100) * 1000, // 100 pairs/s: 1M pairs span ~3 hours of buckets
      latencyBasis: 'live',
      differences: i % 20 === 0 ? differences : [],
      stableMicros: 1000 + (i % 977),
      shadowMicros: 1100 + (i % 991),
      sample: () => ({ id: `req-${i}`, method: 'GET', url: `/r/${i}`, route, verdict: 'mismatch', stable: null, shadow: null, differences, notes: [] }),
    });
  }
};
const before = memory();
feed(0, 100_000);
const at100k = memory();
feed(100_000, 1_000_000);
const at1m = memory();
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
console.log(`summary accumulator: heap ${mb(at100k.heap - before.heap)} over baseline after 100k, ${mb(at1m.heap - before.heap)} after 1M pairs; rss ${mb(at100k.rss)} → ${mb(at1m.rss)}`);
console.log(`ratio 1M/100k: heap ${(at1m.heap / at100k.heap).toFixed(2)}, rss ${(at1m.rss / at100k.rss).toFixed(2)}${gc ? '' : ' (run with --expose-gc for steadier numbers)'}`);
console.log('  (buckets grow with the time span, one per --bucket-seconds; everything else is bounded by configuration)');
