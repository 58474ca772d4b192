import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { comparePair, compileRules } from '../diff/compare-pair.js';
import { headerMeaning, sameHeaderMeaning } from '../diff/header-meaning.js';
import type { PairRecord } from '../diff/pair-record.js';
import { renderHtml } from '../index.js';
import { renderMarkdown } from '../index.js';
import { renderText } from '../index.js';
import { reportExitCode } from '../diff/report-exit.js';
import { runDiff, type DiffOptions } from '../diff/run-diff.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import type { Capture, HttpResponse, RequestChange, Result } from '../shared/records/types.js';
import { runReplay } from '../replay/replay-worker.js';
import { memoryLog } from './helpers/diff-memory-log.js';
import { makeCapture, startServer, tempStore } from './helpers/replay-helpers.js';
import { capture, json, result, text } from './helpers/diff-pairs.js';

const rules = compileRules();
const logs = (captures: Capture[], results: Result[]) => ({ captures: memoryLog(captureKind, captures), results: memoryLog(resultKind, results) });
const withHeaders = (response: HttpResponse, headers: Record<string, string>): HttpResponse => ({
  ...response,
  headers: [...response.headers, ...Object.entries(headers).map(([name, value]) => ({ name, value }))],
});

test('header values compare by meaning: media type parameters, list and directive order, token case, spacing', () => {
  assert.ok(sameHeaderMeaning('content-type', 'application/json; charset=utf-8', 'application/json'), 'JSON is UTF-8 by definition');
  assert.ok(sameHeaderMeaning('content-type', 'application/problem+json;charset=UTF-8', 'application/problem+json'));
  assert.ok(sameHeaderMeaning('content-type', 'text/html; charset="UTF-8"', 'TEXT/HTML;charset=utf-8'));
  assert.ok(!sameHeaderMeaning('content-type', 'text/html; charset=utf-8', 'text/html'), 'text without a charset is not UTF-8 by definition');
  assert.ok(!sameHeaderMeaning('content-type', 'application/json', 'text/plain'));
  assert.ok(sameHeaderMeaning('vary', 'Accept-Encoding, Origin', 'origin,accept-encoding'));
  assert.ok(sameHeaderMeaning('cache-control', 'public, max-age=60', 'max-age=60,PUBLIC'));
  assert.ok(!sameHeaderMeaning('cache-control', 'public, max-age=60', 'public, max-age=0'));
  assert.ok(sameHeaderMeaning('allow', 'GET, HEAD, OPTIONS', 'OPTIONS,GET,HEAD'));
  assert.ok(!sameHeaderMeaning('allow', 'GET, HEAD', 'GET, HEAD, DELETE'));
  assert.ok(sameHeaderMeaning('accept-encoding', 'gzip, br', 'br,gzip'));
  assert.ok(!sameHeaderMeaning('content-encoding', 'gzip, br', 'br, gzip'), 'codings apply in order');
  assert.ok(sameHeaderMeaning('content-encoding', 'GZIP', 'gzip'));
  assert.equal(headerMeaning('x-custom', '  a,b  '), 'a,b', 'an unknown header only loses outer whitespace');
  assert.ok(!sameHeaderMeaning('x-custom', 'a, b', 'b, a'), 'order of an unknown header is kept');

  const stable = withHeaders(json({ a: 1 }), { vary: 'Origin, Accept-Encoding', 'cache-control': 'no-cache, private' });
  stable.headers[0] = { name: 'content-type', value: 'application/json; charset=utf-8' };
  const shadow = withHeaders(json({ a: 1 }), { vary: 'accept-encoding,origin', 'cache-control': 'private,no-cache' });
  const verdict = comparePair(stable, shadow, rules);
  assert.equal(verdict.verdict, 'match', JSON.stringify(verdict.differences));
  const changed = comparePair(stable, withHeaders(json({ a: 1 }), { vary: 'Origin', 'cache-control': 'no-cache, private' }), rules);
  assert.deepEqual(changed.differences.map((d) => d.path), ['header:vary']);
});

function large(prefix: string, size: number, whole: string | null): HttpResponse {
  const body = Buffer.from(prefix);
  return { status: 200, headers: [{ name: 'content-type', value: 'application/json' }], body, size, truncated: true, sha256: whole };
}
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

test('a truncated body is never a silent match: hashes, prefixes and sizes decide, or it is not compared', () => {
  const equal = comparePair(large('{"items":[1,2', 2_000_000, sha('a')), large('{"items":[1,2', 2_000_000, sha('a')), rules);
  assert.equal(equal.verdict, 'match', 'equal whole-body hashes are equal bodies');

  const prefix = comparePair(large('{"items":[1,2', 2_000_000, sha('a')), large('{"items":[9,2', 2_000_000, sha('b')), rules);
  assert.equal(prefix.verdict, 'mismatch');
  assert.match(prefix.notes.join(' '), /stored prefixes differ/);

  const beyond = comparePair(large('{"items":[1,2', 2_000_000, sha('a')), large('{"items":[1,2', 2_000_000, sha('b')), rules);
  assert.equal(beyond.verdict, 'mismatch');
  assert.match(beyond.notes.join(' '), /differs beyond the stored prefix/);
  assert.deepEqual(beyond.differences.map((d) => `${d.path} ${d.change}`), ['$ value-changed']);

  // The case: 7 bytes stored whole on stable, 2 MiB on the shadow cut to its first bytes.
  const small = json({ a: 1 });
  const sizes = comparePair(small, large(small.body.toString(), 2 * 1024 * 1024, null), rules);
  assert.equal(sizes.verdict, 'mismatch', 'sizes that differ decide even without a hash');
  assert.match(sizes.notes.join(' '), /differs beyond the stored prefix \(sizes/);

  const unknown = comparePair(large('{"items":[1,2', 2_000_000, null), large('{"items":[1,2', 2_000_000, null), rules);
  assert.equal(unknown.verdict, 'not-compared', 'no hash, same prefix and size: nothing can say they are equal');
  assert.equal(unknown.notCompared, 'truncated body without sha256');

  // A real difference elsewhere still makes the pair a mismatch.
  const withStatus = comparePair(large('{"a', 10, null), { ...large('{"a', 10, null), status: 201 }, rules);
  assert.equal(withStatus.verdict, 'mismatch');
  assert.equal(withStatus.notCompared, 'truncated body without sha256');
});

test('not-compared pairs are counted, shown and fail the run unless a rate allows them', async () => {
  const captures = [capture('n1', '/files/1', large('abc', 5000, null)), capture('n2', '/files/2', json({ a: 1 }))];
  const results = [result('n1', large('abc', 5000, null)), result('n2', json({ a: 1 }))];
  const verdicts: PairRecord[] = [];
  const report = await runDiff({ ...logs(captures, results), onVerdict: (v) => verdicts.push(v) });
  assert.equal(report.totals['not-compared'], 1);
  assert.equal(report.totals.match, 1);
  assert.equal(report.totals.compared, 1, 'a pair not compared is not in the compared count');
  assert.deepEqual(report.routes[0]!.notCompared, { 'truncated body without sha256': 1 });
  assert.equal(verdicts.find((v) => v.id === 'n1')!.notCompared, 'truncated body without sha256');
  assert.deepEqual(report.breaches.map((b) => b.kind), ['not-compared']);
  assert.match(renderText(report), /not compared: 1 truncated body without sha256/);
  assert.match(renderMarkdown(report), /\| not compared \|/);
  assert.equal(reportExitCode(report), 1);
  const allowed = await runDiff({ ...logs(captures, results), thresholds: { failOnNotComparedRate: 0.5 } });
  assert.equal(reportExitCode(allowed), 0);
});

test('differences a recorded request change explains are replay-induced noise, with the change as reason', () => {
  const host: RequestChange = { kind: 'host-rewritten', name: 'host', from: 'api.example.com', to: 'shadow.internal:8080' };
  const marker: RequestChange = { kind: 'marker-added', name: 'x-shadowtap-replay', from: null, to: '1' };
  const prefix: RequestChange = { kind: 'path-prefix-rewritten', name: 'path', from: '/api/v1', to: '/v1' };
  const stable = withHeaders(json({ links: { next: 'http://api.example.com/api/v1/items?page=2' }, echo: { host: 'api.example.com' }, n: 1 }), {
    location: 'http://api.example.com/api/v1/items/7',
    link: '<http://api.example.com/api/v1/items?page=2>; rel="next"',
  });
  const shadow = withHeaders(
    json({ links: { next: 'http://shadow.internal:8080/v1/items?page=2' }, echo: { host: 'shadow.internal:8080', 'x-shadowtap-replay': '1' }, n: 2 }),
    { location: 'http://shadow.internal:8080/v1/items/7', link: '<http://shadow.internal:8080/v1/items?page=2>; rel="next"' },
  );
  const changes = [marker, host, prefix];
  const verdict = comparePair(stable, shadow, rules, undefined, { requestChanges: changes });
  const byPath = Object.fromEntries(verdict.differences.map((d) => [d.path, d.noise ?? 'real']));
  assert.equal(byPath['$.echo.host'], 'replay-induced: host-rewritten host api.example.com → shadow.internal:8080');
  assert.equal(byPath['$.echo.x-shadowtap-replay'], 'replay-induced: marker-added x-shadowtap-replay');
  const both = 'replay-induced: host-rewritten host api.example.com → shadow.internal:8080; path-prefix-rewritten path /api/v1 → /v1';
  assert.equal(byPath['header:location'], both, 'Host and prefix rewritten in one absolute URL');
  assert.equal(byPath['$.links.next'], both, 'a HAL link');
  assert.equal(byPath['header:link'], both, 'a pagination Link header');
  assert.equal(byPath['$.n'], 'real', 'a change the replay did not make stays a mismatch');
  assert.equal(verdict.verdict, 'mismatch');

  const onlyHost = comparePair(
    withHeaders(json({}), { location: 'http://api.example.com/x' }),
    withHeaders(json({}), { location: 'http://shadow.internal:8080/x' }),
    rules,
    undefined,
    { requestChanges: [host] },
  );
  assert.equal(onlyHost.verdict, 'noise');
  const notThatHost = comparePair(
    withHeaders(json({}), { location: 'http://api.example.com/x' }),
    withHeaders(json({}), { location: 'http://shadow.internal:8080/y' }),
    rules,
    undefined,
    { requestChanges: [host] },
  );
  assert.equal(notThatHost.verdict, 'mismatch', 'a URL that differs beyond the rewritten Host is a real difference');

  const echoed = comparePair(text('GET /x\nhost: a\n'), text('GET /x\nhost: a\nx-shadowtap-replay: 1\n'), rules, undefined, { requestChanges: [marker] });
  assert.equal(echoed.verdict, 'noise', 'an echoed header line in a text body');
  assert.match(echoed.differences[0]!.noise!, /^replay-induced: marker-added/);

  // One reason for every pair: a report counts pairs by reason, and a capture id is one pair's.
  const echoedId = (id: string) =>
    comparePair(json({ echo: {} }), json({ echo: { 'x-shadowtap-capture-id': id } }), rules, undefined, {
      requestChanges: [{ kind: 'marker-added', name: 'x-shadowtap-capture-id', from: null, to: id }],
    }).differences.map((d) => d.noise);
  assert.deepEqual(echoedId('cap-0001'), ['replay-induced: marker-added x-shadowtap-capture-id']);
  assert.deepEqual(echoedId('cap-0002'), echoedId('cap-0001'));

  const unrelated = comparePair(json({ flag: 'a' }), json({ flag: 'a', extra: '1' }), rules, undefined, { requestChanges: [marker] });
  assert.equal(unrelated.verdict, 'mismatch', 'a new field that merely has the marker value is not explained');
  assert.equal(comparePair(stable, shadow, rules).verdict, 'mismatch', 'without recorded changes nothing is explained');
});

/** 200 requests on one route; the shadow 20 ms slower than the stable timings it is set against. */
function latencyCase(mode: 'window' | 'follow', shadowMs: number, stableMs = 10) {
  const captures = Array.from({ length: 200 }, (_, i) => capture(`l${i}`, '/orders/1', json({}), i * 10, 'GET', stableMs * 1000 + (i % 20) * 100));
  const results = captures.map((c, i) => result(c.id, json({}), i * 10, { latencyMicros: shadowMs * 1000 + (i % 20) * 100, replayMode: mode }));
  return { captures, results };
}

test('latency like with like: a window replayed at its own pace gets no latency verdict, live mirroring does', async () => {
  const thresholds = { failOnLatencyRegression: 20 };
  const window = latencyCase('window', 30);
  const windowReport = await runDiff({ ...logs(window.captures, window.results), thresholds });
  const route = windowReport.routes[0]!;
  assert.equal(route.latency.regression, false, 'stable timed under live load, the shadow at full replay speed: not comparable');
  assert.equal(route.latency.basis, null);
  assert.match(route.latency.noVerdict!, /window replay/);
  assert.ok(route.latency.stable.count === 200 && route.latency.shadow.p99Ms > route.latency.stable.p99Ms, 'both latencies are still shown');
  assert.equal(reportExitCode(windowReport), 0);
  const shown = renderText(windowReport);
  assert.match(shown, /GET \/orders\/\{id\}.*\| .* ms \(no verdict\)/);
  assert.match(shown, /no latency verdict on 1 route: stable was timed at capture under live load, the shadow by a window replay/);
  assert.match(renderHtml(windowReport), /no latency verdict on 1 route/);

  const live = latencyCase('follow', 30);
  const liveReport = await runDiff({ ...logs(live.captures, live.results), thresholds });
  assert.equal(liveReport.routes[0]!.latency.regression, true, 'a real slowdown under live mirroring is flagged');
  assert.equal(liveReport.routes[0]!.latency.basis, 'live');
  assert.equal(reportExitCode(liveReport), 1);
});

test('a window replayed with a reference gets its latency verdict from the reference timed at the same moment', async () => {
  // Captured one request at a time (1 ms); replayed at full speed, where stable answers in 15 ms as well.
  const captures = Array.from({ length: 200 }, (_, i) => capture(`w${i}`, '/orders/1', json({ v: 1 }), i * 10, 'GET', 1000));
  const reference = (i: number, ms: number) => result(`w${i}`, json({ v: 1 }), i * 10, { role: 'reference', target: 'http://stable-ref', latencyMicros: ms * 1000 + (i % 20) * 100, replayMode: 'window' });
  const shadow = (i: number, ms: number) => result(`w${i}`, json({ v: 1 }), i * 10, { latencyMicros: ms * 1000 + ((i + 3) % 20) * 100, replayMode: 'window' });
  const same = captures.flatMap((_, i) => [reference(i, 15), shadow(i, 15)]);
  const sameReport = await runDiff({ ...logs(captures, same), thresholds: { failOnLatencyRegression: 20 } });
  assert.equal(sameReport.routes[0]!.latency.basis, 'reference');
  assert.equal(sameReport.routes[0]!.latency.regression, false, 'a full-speed replay is not a regression when stable is timed under the same load');
  assert.equal(sameReport.totals.match, 200);
  assert.equal(sameReport.totals.pairs, 200, 'a reference is not a pair of its own');

  // Shadow first this time: either order meets.
  const slower = captures.flatMap((_, i) => [shadow(i, 75), reference(i, 15)]);
  const slowerReport = await runDiff({ ...logs(captures, slower), thresholds: { failOnLatencyRegression: 20 } });
  assert.equal(slowerReport.routes[0]!.latency.regression, true);
  assert.equal(slowerReport.totals.unmatchedReferences, 0);
});

test('request-only captures are compared with the reference answer; each request id counted once', async () => {
  const captures = [capture('r1', '/users/1', null), capture('r2', '/users/2', null), capture('r3', '/users/3', null), capture('r4', '/users/4', null)];
  const ref = (id: string, body: unknown) => result(id, json(body), 0, { role: 'reference', target: 'http://stable-ref' });
  const results = [
    ref('r1', { id: 1 }),
    result('r1', json({ id: 1 })),
    result('r2', json({ id: 2, name: 'b' })),
    ref('r2', { id: 2, name: 'a' }),
    ref('r2', { id: 2, name: 'a' }), // written twice: counted once
    result('r3', json({ id: 3 })), // no reference: nothing to compare with
    ref('r4', { id: 4 }), // no shadow result: the capture is missing, the reference unmatched
  ];
  const verdicts: PairRecord[] = [];
  const report = await runDiff({ ...logs(captures, results), follow: false, onVerdict: (v) => verdicts.push(v) });
  const byId = Object.fromEntries(verdicts.map((v) => [v.id, v.verdict]));
  assert.deepEqual(byId, { r1: 'match', r2: 'mismatch', r3: 'no-baseline', r4: 'missing' });
  assert.equal(verdicts.length, 4, 'one verdict per request id');
  assert.equal(verdicts.find((v) => v.id === 'r1')!.baseline, 'reference');
  assert.deepEqual(verdicts.find((v) => v.id === 'r2')!.differences.map((d) => d.path), ['$.name']);
  assert.equal(report.totals.unmatchedReferences, 1);
  assert.equal(report.totals.duplicates, 0, 'a duplicated reference is not a duplicated shadow result');
});

test('soak copies meet their own reference by send time', async () => {
  const captures = [capture('s', '/items/9', null)];
  const at = (ms: number, overrides: Partial<Result>) => result('s', json({ v: ms }), ms, overrides);
  const results = [at(100, { id: 's~1', role: 'reference' }), at(200, { id: 's~2', role: 'reference' }), at(200, { id: 's~2' }), at(100, { id: 's~1' })];
  const verdicts: PairRecord[] = [];
  await runDiff({ ...logs(captures, results), onVerdict: (v) => verdicts.push(v) } satisfies DiffOptions);
  assert.deepEqual(verdicts.map((v) => `${v.id}:${v.verdict}`).sort(), ['s~1:match', 's~2:match']);
});

test('end to end on real servers: a rewritten Host echoed back is replay-induced; a request-only capture is compared with the reference', async () => {
  // One program, two instances: it builds absolute URLs from Host and echoes the replay marker, as many do.
  const app = (release: string) =>
    startServer((req, res) => {
      const host = req.headers.host ?? '';
      res.setHeader('content-type', 'application/json');
      res.setHeader('location', `http://${host}/items/7`);
      const marker = req.headers['x-shadowtap-replay'];
      res.end(JSON.stringify({ self: `http://${host}/items/7`, headers: marker === undefined ? {} : { 'x-shadowtap-replay': marker }, release: req.url === '/v' ? release : 'same' }));
    });
  const stable = await app('stable');
  const shadow = await app('candidate');
  const store = await tempStore();
  try {
    const recorded = (id: string, path: string, withResponse: boolean) => {
      const c = makeCapture(id, Date.now(), { path, headers: [{ name: 'host', value: 'api.example.com' }] });
      const body = Buffer.from(JSON.stringify({ self: 'http://api.example.com/items/7', headers: {}, release: 'same' }));
      c.response = withResponse
        ? { status: 200, headers: [{ name: 'content-type', value: 'application/json' }, { name: 'location', value: 'http://api.example.com/items/7' }], body, size: body.length, truncated: false, sha256: null }
        : null;
      return c;
    };
    await store.captures.append([recorded('h1', '/items/7', true), recorded('h2', '/v', false), recorded('h3', '/items/7', false)]);
    await runReplay({ source: store.captures, results: store.results, target: shadow.url, hostRewrite: 'shadow.internal', reference: stable.url });
    const verdicts: PairRecord[] = [];
    const report = await runDiff({ captures: store.captures, results: store.results, onVerdict: (v) => verdicts.push(v) });
    const h1 = verdicts.find((v) => v.id === 'h1')!;
    assert.equal(h1.verdict, 'noise', JSON.stringify(h1.differences));
    assert.ok(h1.differences.every((d) => d.noise?.startsWith('replay-induced: ')), JSON.stringify(h1.differences));
    assert.ok(h1.differences.some((d) => d.path === 'header:location' && /host-rewritten host api\.example\.com → shadow\.internal/.test(d.noise!)));
    assert.ok(h1.differences.some((d) => d.path === '$.headers.x-shadowtap-replay' && /marker-added x-shadowtap-replay/.test(d.noise!)));
    const h2 = verdicts.find((v) => v.id === 'h2')!;
    assert.equal(h2.baseline, 'reference');
    assert.equal(h2.verdict, 'mismatch', 'the request-only capture is compared with the reference asked at the same moment');
    assert.ok(h2.differences.some((d) => d.path === '$.release' && d.noise === undefined));
    assert.equal(verdicts.find((v) => v.id === 'h3')!.verdict, 'noise');
    assert.equal(report.totals.pairs, 3);
    assert.equal(report.routes.find((r) => r.route === 'GET /v')!.latency.basis, 'reference');
  } finally {
    await store.cleanup();
    await stable.close();
    await shadow.close();
  }
});
