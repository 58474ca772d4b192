import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brotliCompressSync, deflateRawSync } from 'node:zlib';
import { comparePair, compileRules } from '../diff/compare-pair.js';
import { noiseReason } from '../diff/noise-heuristics.js';
import { routeSelectorMatches, routeTemplate, parseRoutePattern } from '../diff/route-template.js';
import { ShadowtapError } from '../shared/errors.js';
import { bytes, gzipJson, json, text } from './helpers/diff-pairs.js';

const rules = compileRules();
const paths = (stable: unknown, shadow: unknown, r = rules, route?: string) =>
  comparePair(json(stable), json(shadow), r, route).differences.map((d) => `${d.path} ${d.change}${d.noise ? ' noise' : ''}`).sort();

test('JSON bodies are compared structurally with exact paths', () => {
  const stable = { id: 1, items: [{ sku: 'a', qty: 3 }, { sku: 'b', qty: 1 }], meta: { tags: ['x'] }, gone: true, 'odd key': 1 };
  const shadow = { id: '1', items: [{ sku: 'a', qty: 3 }, { sku: 'b', qty: 2 }], meta: { tags: ['x', 'y'] }, extra: null, 'odd key': 2 };
  assert.deepEqual(paths(stable, shadow), [
    '$.extra added',
    '$.gone removed',
    '$.id type-changed',
    '$.items[1].qty value-changed',
    '$.meta.tags[1] added',
    "$['odd key'] value-changed",
  ]);
  assert.equal(comparePair(json(stable), json(stable), rules).verdict, 'match');
});

test('differences are ordered by severity: schema, value, addition; a status change within its class is a value change', () => {
  const verdict = comparePair(json({ a: 1, b: 'x', c: 1 }, 200), json({ a: 2, b: 1, d: 1 }, 201), rules);
  assert.equal(verdict.verdict, 'mismatch');
  assert.deepEqual(
    verdict.differences.map((d) => d.severity),
    ['schema', 'schema', 'value', 'value', 'addition'],
  );
  const status = verdict.differences.find((d) => d.path === 'status');
  assert.deepEqual([status?.change, status?.severity], ['value-changed', 'value']);
});

test('a status class change is the one difference reported; the bodies are not compared field by field', () => {
  const verdict = comparePair(json({ a: 1, b: 'x', c: 1 }, 200), json({ error: 'boom' }, 503), rules);
  assert.equal(verdict.verdict, 'mismatch');
  assert.deepEqual(
    verdict.differences.map((d) => [d.path, d.change, d.severity]),
    [['status', 'status-class-changed', 'critical']],
  );
  assert.match(verdict.notes.join('\n'), /status class changed \(200 → 503\)/);
});

test('arrays are matched by key when configured, so reordering is not a difference', () => {
  const stable = { items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }, { sku: 'c', qty: 3 }] };
  const shadow = { items: [{ sku: 'c', qty: 3 }, { sku: 'a', qty: 5 }, { sku: 'd', qty: 1 }] };
  const keyed = compileRules({ arrayKeys: ['$.items[*]=sku'] });
  assert.deepEqual(paths(stable, shadow, keyed), ['$.items[sku=a].qty value-changed', '$.items[sku=b] removed', '$.items[sku=d] added']);
  assert.ok(paths(stable, shadow).length > 3, 'by index, every position differs');
  assert.throws(() => compileRules({ arrayKeys: ['$.items=sku'] }), ShadowtapError);
});

test('numbers within the tolerance are equal', () => {
  assert.deepEqual(paths({ price: 10.0 }, { price: 10.004 }, compileRules({ numberTolerance: 0.01 })), []);
  assert.deepEqual(paths({ price: 10.0 }, { price: 10.02 }, compileRules({ numberTolerance: 0.01 })), ['$.price value-changed']);
  assert.deepEqual(paths({ price: 10.0 }, { price: 10.004 }), ['$.price value-changed']);
});

test('text bodies are compared by lines with a patch', () => {
  const verdict = comparePair(text('one\ntwo\nthree\n'), text('one\nTWO\nthree\nfour\n'), rules);
  assert.deepEqual(
    verdict.differences.map((d) => [d.path, d.change]),
    [
      ['line:2', 'value-changed'],
      ['line:4', 'added'],
    ],
  );
  assert.match(verdict.textPatch!, /-two\n\+TWO/);
  assert.equal(comparePair(text('same\n'), text('same\n'), rules).textPatch, undefined);
  const noisy = comparePair(text('served at 2026-01-01T10:00:00Z\n'), text('served at 2026-01-01T10:00:07Z\n'), rules);
  assert.equal(noisy.verdict, 'noise');
});

test('binary bodies are compared by size and sha256', () => {
  assert.equal(comparePair(bytes(Buffer.from([1, 2, 3])), bytes(Buffer.from([1, 2, 3])), rules).verdict, 'match');
  const verdict = comparePair(bytes(Buffer.from([1, 2, 3])), bytes(Buffer.from([1, 2, 4])), rules);
  assert.equal(verdict.verdict, 'mismatch');
  assert.match(verdict.differences[0]!.stable!, /3 bytes sha256:/);
});

test('compressed bodies are decoded before comparing; content-length follows the body', () => {
  const body = { id: 7, name: 'n' };
  const plain = json(body, 200, [{ name: 'content-length', value: '20' }]);
  const gz = gzipJson(body);
  gz.headers.push({ name: 'content-length', value: String(gz.body.length) });
  const verdict = comparePair(plain, gz, compileRules({ ignore: ['header:content-type', 'header:content-encoding'] }));
  assert.deepEqual(
    verdict.differences.filter((d) => !d.noise).map((d) => d.path),
    [],
  );
  const br = { ...json(body), body: brotliCompressSync(Buffer.from(JSON.stringify({ id: 8, name: 'n' }))), headers: [{ name: 'content-encoding', value: 'br' }, { name: 'content-type', value: 'application/json' }] };
  const brDiffs = comparePair(json(body), br, compileRules({ ignore: ['header:content-encoding'] })).differences;
  assert.deepEqual(brDiffs.filter((d) => !d.noise).map((d) => d.path), ['$.id']);
  const raw = { ...json(body), body: deflateRawSync(Buffer.from(JSON.stringify(body))), headers: [{ name: 'content-encoding', value: 'deflate' }, { name: 'content-type', value: 'application/json' }] };
  assert.equal(comparePair(json(body), raw, rules).verdict, 'match');
});

test('content-length never differs on its own, and content-encoding only when the decoded bodies differ', () => {
  const withLength = (r: ReturnType<typeof json>) => ({ ...r, headers: [...r.headers, { name: 'content-length', value: String(r.body.length) }] });
  const changed = comparePair(withLength(json({ plan: 'free' })), withLength(json({ plan: 'enterprise' })), rules);
  assert.deepEqual(changed.differences.map((d) => d.path), ['$.plan']);
  assert.deepEqual(found(comparePair(withLength(json({ a: 1 })), { ...withLength(json({ a: 1 })), headers: [{ name: 'content-type', value: 'application/json' }, { name: 'content-length', value: '999' }] }, rules)), []);
  assert.deepEqual(
    found(comparePair(withLength(json({ a: 1 })), { ...withLength(json({ a: 1 })), headers: [{ name: 'content-type', value: 'application/json' }, { name: 'content-length', value: '999' }] }, compileRules({ ignore: ['!header:content-length'] }))),
    ['header:content-length'],
  );

  const gz = gzipJson({ a: 1 });
  const plain = { ...json({ a: 1 }), headers: [{ name: 'content-type', value: 'application/json; charset=utf-8' }] };
  assert.equal(comparePair(plain, gz, rules).verdict, 'match');
  assert.equal(comparePair(gz, plain, rules).verdict, 'match');
  // Different content: the encoding change is reported with the body change.
  assert.deepEqual(found(comparePair(plain, gzipJson({ a: 2 }), rules)), ['$.a', 'header:content-encoding']);
  // A body that does not decode as its encoding says is not known to be equal.
  const broken = { ...gz, body: Buffer.from('not gzip') };
  assert.ok(found(comparePair(plain, broken, rules)).includes('header:content-encoding'));
});

function found(verdict: ReturnType<typeof comparePair>): string[] {
  return verdict.differences.filter((d) => !d.noise).map((d) => d.path).sort();
}

test('default-ignored headers are dropped; others differ; the list can be extended and shrunk', () => {
  const a = json({}, 200, [
    { name: 'Date', value: 'Mon, 01 Jan 2026 10:00:00 GMT' },
    { name: 'ETag', value: '"abc"' },
    { name: 'Cache-Control', value: 'max-age=60' },
    { name: 'x-version', value: '1' },
  ]);
  const b = json({}, 200, [
    { name: 'date', value: 'Mon, 01 Jan 2026 10:00:05 GMT' },
    { name: 'etag', value: '"def"' },
    { name: 'cache-control', value: 'no-store' },
    { name: 'x-version', value: '2' },
  ]);
  const found = (r = rules) => comparePair(a, b, r).differences.map((d) => `${d.path}${d.noise ? ' noise' : ''}`).sort();
  assert.deepEqual(found(), ['header:cache-control', 'header:x-version']);
  assert.deepEqual(found(compileRules({ ignore: ['header:x-version'] })), ['header:cache-control', 'header:x-version noise']);
  assert.deepEqual(found(compileRules({ ignore: ['!header:etag'] })), ['header:cache-control', 'header:etag', 'header:x-version']);
});

test('ignore rules select paths with wildcards, globally or per route', () => {
  const stable = { meta: { generatedAt: 1, by: 'a' }, items: [{ updatedAt: 'x', qty: 1 }], deep: { a: { traceId: 't1' } }, lastSeen: 'mon' };
  const shadow = { meta: { generatedAt: 2, by: 'b' }, items: [{ updatedAt: 'y', qty: 1 }], deep: { a: { traceId: 't2' } }, lastSeen: 'tue' };
  const r = compileRules({ ignore: ['$.meta', '$.items[*].updatedAt', '$..traceId', 'route:GET /users/{id} $.lastSeen'] });
  assert.deepEqual(paths(stable, shadow, r, 'GET /users/{id}'), [
    '$.deep.a.traceId value-changed noise',
    '$.items[0].updatedAt value-changed noise',
    '$.lastSeen value-changed noise',
    '$.meta.by value-changed noise',
    '$.meta.generatedAt value-changed noise',
  ]);
  assert.ok(paths(stable, shadow, r, 'GET /orders/{id}').includes('$.lastSeen value-changed'));
  assert.equal(comparePair(json(stable), json(shadow), r, 'GET /users/{id}').verdict, 'noise');
});

test('over-broad ignore rules are refused with an explanation', () => {
  for (const rule of ['$', '$.*', '$..*', '$[*]', 'route:/x $.*']) {
    assert.throws(
      () => compileRules({ ignore: [rule] }),
      (error: unknown) => error instanceof ShadowtapError && error.code === 'ST_CONFIG' && /would hide the whole body/.test(error.message),
      rule,
    );
  }
  assert.throws(() => compileRules({ ignore: ['meta.x'] }), /must start with \$/);
  assert.doesNotThrow(() => compileRules({ ignore: ['$..traceId', '$.items[*].at', '$[0].id'] }));
});

test('heuristics: timestamps, uuids, tokens and counters on both sides are noise; type changes are not', () => {
  const now = Date.parse('2026-03-01T00:00:00Z');
  assert.equal(noiseReason('2026-01-01T10:00:00Z', '2026-01-01T10:00:01.123Z', undefined, now), 'timestamp');
  assert.equal(noiseReason(1767261600, 1767261601, undefined, now), 'timestamp');
  assert.equal(noiseReason(1767261600000, 1767261600999, undefined, now), 'timestamp');
  assert.equal(noiseReason('3f2a1c9e-1b2c-4d5e-8f90-a1b2c3d4e5f6', '00000000-1b2c-4d5e-8f90-a1b2c3d4e5f6', undefined, now), 'uuid');
  assert.equal(noiseReason('a1b2c3d4e5f60718', 'ffeeddccbbaa9988', undefined, now), 'token');
  assert.equal(noiseReason(41, 42, 'requestCount', now), 'counter');
  assert.equal(noiseReason('req 3f2a1c9e-1b2c-4d5e-8f90-a1b2c3d4e5f6 ok', 'req 11111111-1b2c-4d5e-8f90-a1b2c3d4e5f6 ok', undefined, now), 'embedded-id');
  assert.equal(noiseReason(41, 42, 'qty', now), undefined);
  assert.equal(noiseReason('2026-01-01T10:00:00Z', 1767261600, undefined, now), undefined);
  assert.equal(noiseReason('alice', 'bob', undefined, now), undefined);
  assert.equal(noiseReason(12, 1767261600, undefined, now), undefined);
});

test('route templates are detected and overridable', () => {
  assert.equal(routeTemplate('/users/42/orders/3f2a1c9e-1b2c-4d5e-8f90-a1b2c3d4e5f6'), '/users/{id}/orders/{uuid}');
  assert.equal(routeTemplate('/reports/2026-01-31/deadbeef01'), '/reports/{date}/{hex}');
  assert.equal(routeTemplate('/static/app.css?v=1'), '/static/app.css');
  assert.equal(routeTemplate('/users/alice', [parseRoutePattern('/users/:name')]), '/users/{name}');
  assert.equal(routeTemplate('/files/a/b/c', [parseRoutePattern('/files/*')]), '/files/*');
  assert.equal(routeTemplate('/users/alice'), '/users/alice');
  // Matrix parameters keep their names; their values are detected like segments, hashed secrets included.
  assert.equal(routeTemplate('/cart;jsessionid=hmac%3A3f2a1c9e1b2c4d5e8f90a1b2;lang=en/items/7'), '/cart;jsessionid={id};lang=en/items/{id}');
  assert.equal(routeTemplate('/cart;jsessionid=%5Bredacted%5D'), '/cart;jsessionid=[redacted]');
  assert.ok(routeSelectorMatches('/users/:id', 'GET /users/{id}'));
  assert.ok(routeSelectorMatches('POST /users/{x}', 'POST /users/{id}'));
  assert.ok(!routeSelectorMatches('POST /users/{x}', 'GET /users/{id}'));
  assert.ok(!routeSelectorMatches('/users', 'GET /users/{id}'));
});

test('reviewed differences: accepted ones do not mismatch; must-fix ones stay mismatches', () => {
  const accepted = [
    'differences:',
    '  - route: GET /users/{id}',
    '    path: $.lastSeen',
    '    status: accepted',
    '    reason: moved to epoch ms',
    '  - route: "*"',
    '    path: $.plan',
    '    status: must-fix',
    '    reason: ticket 12',
  ].join('\n');
  const r = compileRules({ accepted });
  const one = comparePair(json({ lastSeen: 'mon' }), json({ lastSeen: 5 }), r, 'GET /users/{id}');
  assert.equal(one.verdict, 'accepted');
  assert.equal(one.differences[0]!.review?.status, 'accepted');
  assert.equal(comparePair(json({ lastSeen: 'mon' }), json({ lastSeen: 5 }), r, 'GET /orders/{id}').verdict, 'mismatch');
  const fix = comparePair(json({ plan: 'a' }), json({ plan: 'b' }), r, 'GET /x');
  assert.deepEqual([fix.verdict, fix.differences[0]!.review?.status], ['mismatch', 'must-fix']);
  assert.throws(() => compileRules({ accepted: 'differences:\n  - route: x\n    path: $.a\n    status: maybe\n    reason: r' }), /accepted or must-fix/);
});

test('byte-equal bodies of the same type and encoding match without being decoded', () => {
  const broken = { ...json({}), body: Buffer.from('{"not json') };
  const verdict = comparePair(broken, { ...broken, body: Buffer.from(broken.body) }, rules);
  assert.deepEqual([verdict.verdict, verdict.notes], ['match', []], 'decoding would have noted that the JSON does not parse');
  // Same bytes under another content type are still compared as what they say they are.
  assert.equal(comparePair(json({ a: 1 }), text(JSON.stringify({ a: 1 }), 'text/html'), rules).verdict, 'mismatch');
});

test('keyed arrays: elements in the same order are named by key; shared keys fall back to positions', () => {
  const keyed = compileRules({ arrayKeys: ['$.items[*]=sku'] });
  assert.deepEqual(paths({ items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }] }, { items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 3 }] }, keyed), [
    '$.items[sku=b].qty value-changed',
  ]);
  assert.deepEqual(paths({ items: [{ sku: 'a', qty: 1 }, { sku: 'a', qty: 2 }] }, { items: [{ sku: 'a', qty: 1 }, { sku: 'a', qty: 3 }] }, keyed), [
    '$.items[1].qty value-changed',
  ]);
  assert.deepEqual(paths({ items: [{ sku: 7, qty: 1 }] }, { items: [{ sku: 7, qty: 2 }] }, keyed), ['$.items[sku=7].qty value-changed']);
});
