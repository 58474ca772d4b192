import assert from 'node:assert/strict';
import { test } from 'node:test';
import { comparePair, compileRules } from '../diff/compare-pair.js';
import type { HttpResponse } from '../shared/records/types.js';
import { bytes, gzipJson, json, text } from './helpers/diff-pairs.js';

/**
 * A labelled corpus of stable/shadow pairs: real regressions of each kind, and pure noise of
 * each kind. The verdicts must reach precision and recall of 0.99 on "is a mismatch".
 */
interface Labelled {
  kind: string;
  real: boolean;
  stable: HttpResponse;
  shadow: HttpResponse;
  route: string;
}

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

const hex = (random: () => number, n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
const uuid = (random: () => number) => `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`;

function body(random: () => number, i: number) {
  const now = Date.now();
  return {
    id: i,
    name: ['alice', 'bob', 'carol', 'dave'][i % 4]!,
    active: i % 2 === 0,
    price: Math.round(random() * 10000) / 100,
    plan: null as string | null,
    createdAt: new Date(now - Math.floor(random() * 1e9)).toISOString(),
    items: [
      { sku: `A${i}`, qty: 1 + (i % 5) },
      { sku: `B${i}`, qty: 2 },
      { sku: `C${i}`, qty: 3 },
    ],
    meta: { generatedAt: now, requestId: uuid(random), seq: i * 3, message: `served by node-${hex(random, 16)}` },
  };
}

type Body = ReturnType<typeof body>;
const clone = (b: Body): Body => JSON.parse(JSON.stringify(b));
const withHeader = (r: HttpResponse, name: string, value: string): HttpResponse => ({ ...r, headers: [...r.headers, { name, value }] });

const real: Record<string, (b: Body, random: () => number) => [HttpResponse, HttpResponse]> = {
  'price changed': (b) => [json(b), json({ ...clone(b), price: b.price + 1 })],
  'field removed': (b) => {
    const s = clone(b) as Partial<Body>;
    delete s.name;
    return [json(b), json(s)];
  },
  'type changed': (b) => [json(b), json({ ...clone(b), id: String(b.id) })],
  'status 5xx': (b) => [json(b), json(b, 500)],
  'status 404': (b) => [json(b), json(b, 404)],
  'field added': (b) => [json(b), json({ ...clone(b), debug: true })],
  'element removed': (b) => [json(b), json({ ...clone(b), items: b.items.slice(0, 2) })],
  'keyed element changed': (b) => {
    const s = clone(b);
    s.items.reverse()[0]!.qty += 10;
    return [json(b), json(s)];
  },
  'boolean flipped': (b) => [json(b), json({ ...clone(b), active: !b.active })],
  'string changed': (b) => [json(b), json({ ...clone(b), name: `${b.name}x` })],
  'null became value': (b) => [json(b), json({ ...clone(b), plan: 'pro' })],
  'header changed': (b) => [withHeader(json(b), 'cache-control', 'max-age=60'), withHeader(json(b), 'cache-control', 'no-store')],
  'content type changed': (b) => [json(b), text(JSON.stringify(b), 'text/html')],
  'text line changed': (b) => [text(`hello ${b.name}\ntotal ${b.price}\n`), text(`hello ${b.name}\ntotal ${b.price + 1}\n`)],
  'binary changed': (b, random) => [bytes(Buffer.from(hex(random, 64), 'hex')), bytes(Buffer.from(hex(random, 64), 'hex'))],
  'gzip body changed': (b) => [gzipJson(b), gzipJson({ ...clone(b), price: b.price * 2 + 1 })],
  'message changed': (b) => {
    const s = clone(b);
    s.meta.message = 'maintenance mode';
    return [json(b), json(s)];
  },
};

const noise: Record<string, (b: Body, random: () => number) => [HttpResponse, HttpResponse]> = {
  identical: (b) => [json(b), json(b)],
  'timestamp ISO': (b) => [json(b), json({ ...clone(b), createdAt: new Date(Date.parse(b.createdAt) + 1234).toISOString() })],
  'epoch ms': (b) => [json({ ...clone(b), renderedAt: b.meta.generatedAt }), json({ ...clone(b), renderedAt: b.meta.generatedAt + 17 })],
  'epoch seconds': (b) => [json({ ...clone(b), ts: Math.floor(Date.now() / 1000) }), json({ ...clone(b), ts: Math.floor(Date.now() / 1000) + 3 })],
  uuid: (b, random) => {
    const s = clone(b);
    s.meta.requestId = uuid(random);
    return [json(b), json(s)];
  },
  'hex token': (b, random) => [json({ ...clone(b), token: hex(random, 32) }), json({ ...clone(b), token: hex(random, 32) })],
  'jwt-like token': (b, random) => [json({ ...clone(b), auth: `eyJ${hex(random, 12)}.eyJ${hex(random, 20)}.${hex(random, 24)}` }), json({ ...clone(b), auth: `eyJ${hex(random, 12)}.eyJ${hex(random, 20)}.${hex(random, 24)}` })],
  counter: (b) => {
    const s = clone(b);
    s.meta.seq += 1;
    return [json(b), json(s)];
  },
  'ignored path': (b) => {
    const s = clone(b);
    s.meta.generatedAt = 42;
    return [json(b), json(s)];
  },
  'embedded id in text': (b, random) => {
    const s = clone(b);
    s.meta.message = `served by node-${hex(random, 15)}7`;
    return [json(b), json(s)];
  },
  'array reordered (keyed)': (b) => {
    const s = clone(b);
    s.items.reverse();
    return [json(b), json(s)];
  },
  'number within tolerance': (b) => [json(b), json({ ...clone(b), price: b.price + 0.0001 })],
  'gzip vs plain': (b) => {
    const gz = gzipJson(b);
    return [json(b), { ...gz, headers: gz.headers.filter((h) => h.name !== 'content-type').concat({ name: 'content-type', value: 'application/json' }) }];
  },
  'date and etag headers': (b) => [withHeader(withHeader(json(b), 'date', 'Mon, 01 Jan 2026 10:00:00 GMT'), 'etag', '"a"'), withHeader(withHeader(json(b), 'date', 'Mon, 01 Jan 2026 10:00:09 GMT'), 'etag', '"b"')],
  'request id header': (b, random) => [withHeader(json(b), 'x-request-id', uuid(random)), withHeader(json(b), 'x-request-id', uuid(random))],
  'correlation header uuid': (b, random) => [withHeader(json(b), 'x-correlation-id', uuid(random)), withHeader(json(b), 'x-correlation-id', uuid(random))],
  'text with timestamps': (b) => [text(`report for ${b.name}\nat 2026-01-01T10:00:00Z\n`), text(`report for ${b.name}\nat 2026-01-01T10:00:03Z\n`)],
};

function corpus(): Labelled[] {
  const random = rng(7);
  const out: Labelled[] = [];
  for (let i = 0; i < 7; i++) {
    for (const [kind, make] of Object.entries(real)) {
      const [stable, shadow] = make(body(random, i), random);
      out.push({ kind, real: true, stable, shadow, route: 'GET /users/{id}' });
    }
    for (const [kind, make] of Object.entries(noise)) {
      const [stable, shadow] = make(body(random, i), random);
      out.push({ kind, real: false, stable, shadow, route: 'GET /users/{id}' });
    }
  }
  return out;
}

test('labelled corpus: precision and recall of mismatch verdicts are at least 0.99', () => {
  const rules = compileRules({ ignore: ['$.meta.generatedAt', 'header:content-encoding'], arrayKeys: ['$.items[*]=sku'], numberTolerance: 0.001 });
  const pairs = corpus();
  assert.ok(pairs.length >= 200, `corpus has ${pairs.length} pairs`);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const wrong: string[] = [];
  for (const pair of pairs) {
    const verdict = comparePair(pair.stable, pair.shadow, rules, pair.route);
    const flagged = verdict.verdict === 'mismatch';
    if (flagged && pair.real) tp++;
    else if (flagged) {
      fp++;
      wrong.push(`false positive (${pair.kind}): ${verdict.differences.filter((d) => !d.noise).map((d) => d.path).join(', ')}`);
    } else if (pair.real) {
      fn++;
      wrong.push(`missed (${pair.kind}): ${verdict.verdict}`);
    }
  }
  const precision = tp / (tp + fp);
  const recall = tp / (tp + fn);
  console.log(`corpus: ${pairs.length} pairs, precision ${precision.toFixed(4)}, recall ${recall.toFixed(4)}`);
  assert.ok(precision >= 0.99 && recall >= 0.99, wrong.slice(0, 10).join('\n'));
});
