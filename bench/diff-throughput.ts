/**
 * Diff stage throughput and footprint.
 * 1. Pairs per second through comparePair for 2 KB JSON bodies, equal and differing, against a
 *    baseline measured in the same run: only JSON.parse of both bodies.
 * 2. Memory after 100k and after 1M pairs through the summary accumulator: it must stay flat.
 * Run: node --expose-gc dist/bench/diff-throughput.js
 */
import { comparePair, compileRules } from '../diff/compare-pair.js';
import { addOutcome, newSummary } from '../diff/summary.js';
import type { HttpResponse } from '../shared/records/types.js';

function response(body: unknown): HttpResponse {
  const bytes = Buffer.from(JSON.stringify(body));
  return { status: 200, headers: [{ name: 'content-type', value: 'application/json' }], body: bytes, size: bytes.length, truncated: false };
}

function body(seed: number, change: boolean) {
  return {
    id: seed,
    generatedAt: new Date(1_767_000_000_000 + (change ? 1000 : 0)).toISOString(),
    items: Array.from({ length: 28 }, (_, i) => ({ sku: `SKU-${seed}-${i}`, qty: i + (change && i === 3 ? 1 : 0), price: 9.99 + i, tags: ['a', 'b'] })),
    owner: { name: 'Ada Lovelace', email: 'ada@example.com', plan: change ? 'pro' : 'free' },
  };
}

const pairs = 20_000;
const equal = Array.from({ length: 100 }, (_, i) => [response(body(i, false)), response(body(i, false))] as const);
const differing = Array.from({ length: 100 }, (_, i) => [response(body(i, false)), response(body(i, true))] as const);
console.log(`body size ${equal[0]![0].body.length} bytes`);
const rules = compileRules({ arrayKeys: ['$.items[*]=sku'] });

function rate(run: (i: number) => void): number {
  for (let i = 0; i < 2000; i++) run(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < pairs; i++) run(i);
  return pairs / (Number(process.hrtime.bigint() - start) / 1e9);
}

for (const [name, set] of [['equal', equal], ['differing', differing]] as const) {
  const baseline = rate((i) => {
    const [a, b] = set[i % set.length]!;
    JSON.parse(a.body.toString('utf8'));
    JSON.parse(b.body.toString('utf8'));
  });
  const diff = rate((i) => {
    const [a, b] = set[i % set.length]!;
    comparePair(a, b, rules, 'GET /orders/{id}');
  });
  console.log(`${name}: comparePair ${diff.toFixed(0)} pairs/s, JSON.parse baseline ${baseline.toFixed(0)} pairs/s, ratio ${(diff / baseline).toFixed(3)}`);
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
