import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { BodyTap, ByteBudget } from '../shared/http/body-tap.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('a body tap keeps what fits and hashes every byte, wherever the body is cut', () => {
  const body = Buffer.from('0123456789abcdefghij');
  for (const [max, budget, sizes] of [
    [100, null, [20]],
    [100, null, [5, 5, 10]],
    [8, null, [5, 5, 10]],
    [10, null, [5, 5, 10]],
    [0, null, [20]],
    [100, 7, [5, 5, 10]],
    [100, 0, [20]],
  ] as Array<[number, number | null, number[]]>) {
    const tap = new BodyTap(max, budget === null ? null : new ByteBudget(budget));
    let at = 0;
    for (const size of sizes) tap.add(body.subarray(at, (at += size)));
    const kept = Math.min(max, budget ?? Infinity, body.length);
    const label = `max ${max}, budget ${budget}, chunks ${sizes.join('+')}`;
    assert.equal(tap.size, body.length, label);
    assert.deepEqual(tap.body(), body.subarray(0, kept), label);
    assert.equal(tap.truncated, kept < body.length, label);
    assert.equal(tap.sha256(), sha256(body), label);
  }
  assert.equal(new BodyTap(10).sha256(), sha256(Buffer.alloc(0)), 'no body: the empty hash');
});
