import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileRules } from '../diff/compare-pair.js';
import type { PairRecord } from '../diff/pair-record.js';
import { renderHtml } from '../index.js';
import { renderJunit } from '../index.js';
import { renderMarkdown } from '../index.js';
import { renderText } from '../index.js';
import { createPairJudge, runDiff } from '../diff/run-diff.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { memoryLog } from './helpers/diff-memory-log.js';
import { capture, json, result, text } from './helpers/diff-pairs.js';

const judge = createPairJudge(compileRules());

function pair(stableBody: unknown, shadowBody: unknown, stableRedactions: string[], shadowRedactions: string[], mode: string | null = 'mask'): [Capture, Result] {
  const c = capture('p1', '/account', json(stableBody, 200, [{ name: 'set-cookie', value: '[redacted]' }]));
  c.redactions = stableRedactions;
  c.redactionMode = mode;
  const r = result('p1', json(shadowBody, 200, [{ name: 'set-cookie', value: '[redacted]' }]));
  r.redactions = shadowRedactions;
  return [c, r];
}

describe('the diff knows redaction', () => {
  test('mask: a field redacted on either side is not compared, whatever the other side holds, and is counted', () => {
    // The shadow's answer redacted too: equal masks.
    let judged = judge(...pair({ token: '[redacted]', name: 'a' }, { token: '[redacted]', name: 'a' }, ['response.body:$.token', 'response.header:set-cookie'], ['response.body:$.token', 'response.header:set-cookie']));
    assert.equal(judged.outcome.verdict, 'match');
    assert.equal(judged.outcome.redactedFields, 2);
    // Redacted on the stable side only (a number became the mask string): never a value or type difference.
    judged = judge(...pair({ token: '[redacted]', pin: '[redacted]', name: 'a' }, { token: 'shadow-plain', pin: 1234, name: 'a' }, ['response.body:$.token', 'response.body:$.pin'], []));
    assert.equal(judged.outcome.verdict, 'match', JSON.stringify(judged.outcome.differences));
    assert.equal(judged.record().redactedFields, 2);
    // Redacted under an array, and a real difference beside it still counts.
    judged = judge(...pair({ items: [{ secret: '[redacted]', qty: 1 }] }, { items: [{ secret: 'x', qty: 2 }] }, ['response.body:$.items[*].secret'], []));
    assert.equal(judged.outcome.verdict, 'mismatch');
    assert.deepEqual(judged.outcome.differences.map((d) => d.path), ['$.items[0].qty']);
  });

  test('mask: a redacted field that disappears is still a schema difference, shown without values', () => {
    const judged = judge(...pair({ token: '[redacted]', name: 'a' }, { name: 'a' }, ['response.body:$.token'], []));
    assert.equal(judged.outcome.verdict, 'mismatch');
    const [d] = judged.outcome.differences;
    assert.equal(d!.change, 'removed');
    assert.equal(d!.stable, '"(redacted)"');
  });

  test('hash: equal secrets are equal, different ones differ without showing either value', () => {
    const a = 'hmac:' + 'a'.repeat(32);
    const b = 'hmac:' + 'b'.repeat(32);
    const entries = ['response.body:$.token'];
    assert.equal(judge(...pair({ token: a }, { token: a }, entries, entries, 'hash')).outcome.verdict, 'match');
    const judged = judge(...pair({ token: a }, { token: b }, entries, entries, 'hash'));
    assert.equal(judged.outcome.verdict, 'mismatch');
    assert.equal(judged.outcome.redactedFields, 0);
    const [d] = judged.outcome.differences;
    assert.deepEqual([d!.path, d!.stable, d!.shadow], ['$.token', '"(redacted)"', '"(redacted)"']);
    assert.equal(JSON.stringify(judged.record()).includes('aaaa'), false);
  });

  test('a text body redacted by value: lines that differ only where a mask stands are not compared', () => {
    const c = capture('t1', '/t', text('access_token=[redacted]\nok'));
    c.redactions = ['response.body:text'];
    c.redactionMode = 'mask';
    const judged = judge(c, result('t1', text('access_token=plain-shadow\nok')));
    assert.equal(judged.outcome.verdict, 'match');
  });

  test('a body redaction did not keep is not compared (never "empty body" against the shadow\'s)', () => {
    const c = capture('u1', '/u', { ...json({}), body: Buffer.alloc(0), size: 40 });
    c.redactions = ['response.body:unparseable'];
    c.redactionMode = 'mask';
    const judged = judge(c, result('u1', json({ a: 1 })));
    assert.equal(judged.outcome.verdict, 'match');
    assert.equal(judged.outcome.redactedFields, 1);
  });

  test('a request sent masked gets the verdict altered, not mismatch, unless nothing masked was sent', () => {
    const c = capture('m1', '/me', json({ user: 'stable-view' }));
    const masked = result('m1', json({ error: 'unauthorized' }, 401), 0, {
      requestChanges: [
        { kind: 'secret-masked', name: 'header:authorization', from: null, to: null },
        { kind: 'set-header', name: 'x-other', from: null, to: 'v' },
      ],
    });
    const judged = judge(c, masked);
    assert.equal(judged.outcome.verdict, 'altered');
    assert.equal(judged.record().notCompared, 'request altered by redaction (header:authorization)');
    // Restored originals are the request stable got: compared as usual.
    const restored = result('m1', json({ error: 'unauthorized' }, 401), 0, { requestChanges: [{ kind: 'secret-restored', name: 'header:authorization', from: null, to: null }] });
    assert.equal(judge(c, restored).outcome.verdict, 'mismatch');
  });

  test('every report format says per route how many fields redaction kept out, and how many pairs were altered', async () => {
    const [c1, r1] = pair({ token: '[redacted]', name: 'a' }, { token: '[redacted]', name: 'a' }, ['response.body:$.token'], ['response.body:$.token']);
    const c2 = capture('p2', '/account', json({ name: 'a' }), 10);
    const r2 = result('p2', json({ name: 'b' }), 10, { requestChanges: [{ kind: 'secret-masked', name: 'query:token', from: null, to: null }] });
    const records: PairRecord[] = [];
    const report = await runDiff({
      captures: memoryLog(captureKind, [c1, c2]),
      results: memoryLog(resultKind, [r1, r2]),
      onVerdict: (r) => records.push(r),
    });
    const route = report.routes[0]!;
    assert.equal(route.redactedFields, 1);
    assert.equal(route.counts.altered, 1);
    assert.equal(route.counts.mismatch, 0);
    assert.deepEqual(records.map((r) => r.verdict).sort(), ['altered', 'match']);
    assert.match(renderText(report), /REDACTED[\s\S]*1 fields, 1 altered/);
    assert.match(renderMarkdown(report), /not compared \(redacted\)[\s\S]*\| 1 fields, 1 altered \|/);
    assert.match(renderHtml(report), /not compared \(redacted\)<\/th>[\s\S]*<td>1 fields, 1 altered<\/td>/);
    assert.match(renderJunit(report), /not compared because of redaction: 1 fields, 1 altered/);
    assert.match(renderText(report), /1 not compared \(request altered by redaction\)/);
  });
});
