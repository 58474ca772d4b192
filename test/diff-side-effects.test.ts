import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { comparePair, compileRules } from '../diff/compare-pair.js';
import { diffSideEffects } from '../diff/side-effect-diff.js';
import { controlEntry, observedKind, omittedKind } from '../shared/records/side-effects.js';
import type { HttpResponse, SideEffect } from '../shared/records/types.js';

const observed = controlEntry(observedKind);
const mail = 'http://mail.local:8025';

function call(name: string, path: string, extra: Partial<SideEffect> = {}): SideEffect {
  return { kind: 'http', name, origin: mail, pathTemplate: path, status: 201, bodySha256: 'a'.repeat(64), blocked: false, ...extra };
}
const blocked = (name: string, path: string, extra: Partial<SideEffect> = {}) => call(name, path, { status: 202, blocked: true, ...extra });

const view = (list: ReturnType<typeof diffSideEffects>['differences']) => list.map((d) => [d.path, d.change, d.severity, d.stable, d.shadow]);

describe('side effects compared', () => {
  it('a write made twice by the shadow and once by stable is a critical difference', () => {
    const { differences, note } = diffSideEffects({
      stable: [observed, call('POST', '/send')],
      shadow: [blocked('POST', '/send'), blocked('POST', '/send')],
      shadowGuarded: true,
    });
    assert.equal(note, undefined);
    assert.deepEqual(view(differences), [[`side-effect:POST ${mail}/send`, 'value-changed', 'critical', 'called once', 'tried twice (blocked)']]);
  });

  it('missing and extra calls; safe calls grade as values', () => {
    const { differences } = diffSideEffects({
      stable: [observed, call('GET', '/templates/{id}', { status: 200 }), { kind: 'guard', name: 'orders.insert', origin: '', pathTemplate: '', status: null, bodySha256: null, blocked: false }],
      shadow: [blocked('PUT', '/audit/{id}')],
      shadowGuarded: true,
    });
    assert.deepEqual(view(differences), [
      [`side-effect:GET ${mail}/templates/{id}`, 'removed', 'value', 'called once', undefined],
      ['side-effect:guard orders.insert', 'removed', 'critical', 'called once', undefined],
      [`side-effect:PUT ${mail}/audit/{id}`, 'added', 'critical', undefined, 'tried once (blocked)'],
    ]);
  });

  it('the same calls with other bodies are changed; statuses of blocked calls are not compared', () => {
    const same = diffSideEffects({ stable: [observed, call('POST', '/send')], shadow: [blocked('POST', '/send')], shadowGuarded: true });
    assert.deepEqual(same.differences, []);
    const other = diffSideEffects({ stable: [observed, call('POST', '/send')], shadow: [blocked('POST', '/send', { bodySha256: 'b'.repeat(64) })], shadowGuarded: true });
    assert.deepEqual(view(other.differences), [[`side-effect:POST ${mail}/send#body`, 'value-changed', 'critical', 'sha256:aaaaaaaaaaaa', 'sha256:bbbbbbbbbbbb']]);
    const status = diffSideEffects({ stable: [observed, call('GET', '/x', { status: 200 })], shadow: [call('GET', '/x', { status: 404 })], shadowGuarded: true });
    assert.deepEqual(view(status.differences), [[`side-effect:GET ${mail}/x#status`, 'value-changed', 'value', '200', '404']]);
    const unknownBody = diffSideEffects({ stable: [observed, call('POST', '/send', { bodySha256: null })], shadow: [blocked('POST', '/send')], shadowGuarded: true });
    assert.deepEqual(unknownBody.differences, []);
  });

  it('lists are compared only when both sides recorded theirs, and say why not', () => {
    assert.match(diffSideEffects({ stable: [], shadow: [blocked('POST', '/send')], shadowGuarded: true }).note!, /stable's were not recorded/);
    assert.match(diffSideEffects({ stable: [observed, call('POST', '/send')], shadow: [], shadowGuarded: false }).note!, /shadow did not report/);
    assert.deepEqual(diffSideEffects({ stable: [], shadow: [], shadowGuarded: false }), { differences: [] });
    const cut = diffSideEffects({ stable: [observed, call('POST', '/send')], shadow: [blocked('POST', '/send'), controlEntry(omittedKind, 3)], shadowGuarded: true });
    assert.deepEqual(cut.differences, []);
    assert.match(cut.note!, /not compared/);
    // Stable observed making no call, the shadow making one: an extra call.
    assert.equal(diffSideEffects({ stable: [observed], shadow: [blocked('POST', '/send')], shadowGuarded: true }).differences[0]!.change, 'added');
  });

  it('comparePair makes an otherwise equal pair a mismatch', () => {
    const response: HttpResponse = { status: 201, headers: [], body: Buffer.from('{}'), size: 2, truncated: false, sha256: null };
    const verdict = comparePair(response, response, compileRules(), 'POST /api/orders', {
      effects: {
        stable: [observed, call('POST', '/send')],
        shadow: [blocked('POST', '/send'), blocked('POST', '/send')],
        shadowGuarded: true,
      },
    });
    assert.equal(verdict.verdict, 'mismatch');
    assert.equal(verdict.differences[0]!.kind, 'side-effect');
    assert.equal(comparePair(response, response, compileRules(), 'POST /api/orders').verdict, 'match');
  });
});
