import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRules, comparePair } from '../diff/compare-pair.js';
import { rulesForRoute } from '../diff/ignore-rules.js';
import { diffJson, type JsonDiffOptions } from '../diff/json-diff.js';
import { diffJsonLockstep } from '../diff/json-lockstep.js';

/** The reference: both bodies parsed, the trees compared. */
const reference = (a: string, b: string, options: JsonDiffOptions) => diffJson(JSON.parse(a), JSON.parse(b), options);
const lockstep = (a: string, b: string, options: JsonDiffOptions = {}) => diffJsonLockstep(Buffer.from(a), Buffer.from(b), options);

const keyedItems = compileRules({ arrayKeys: ['$.items[*]=sku'] });
const keyedOptions: JsonDiffOptions = { arrayKey: rulesForRoute(keyedItems.ignore, keyedItems.arrayKeys, undefined).arrayKey };

/** Pairs the byte comparison must answer itself, exactly as diffJson does. */
const answered: Array<[string, string, JsonDiffOptions?]> = [
  ['{"a":1,"b":"x","c":[1,2,{"d":true}]}', '{"a":2,"b":"y","c":[1,3,{"d":false}]}'],
  ['{"n":1}', '{"n":12}'],
  ['{"n":12}', '{"n":1}'],
  ['{"n":1.0,"m":1e2}', '{"n":1,"m":100}'],
  ['{"n":1}', '{"n":1.05}', { numberTolerance: 0.1 }],
  ['{"s":"\\u0041","t":"a\\"b"}', '{"s":"A","t":"a\\"c"}'],
  ['{"v":null}', '{"v":"null"}'],
  ['{"v":true}', '{"v":0}'],
  ['{"é":"ü","x":"€"}', '{"é":"ö","x":"€"}'],
  [' [ 1 , "a" , null ] ', ' [ 2 , "b" , false ] '],
  ['{"items":[{"sku":"A","qty":1},{"sku":"B","qty":2}]}', '{"items":[{"sku":"A","qty":1},{"sku":"B","qty":3}]}', keyedOptions],
  ['{"items":[{"sku":"A","qty":1},{"sku":"A","qty":2}]}', '{"items":[{"sku":"A","qty":1},{"sku":"A","qty":3}]}', keyedOptions],
  ['{"items":[{"qty":1},{"sku":"B","qty":2}]}', '{"items":[{"qty":1},{"sku":"B","qty":3}]}', keyedOptions],
  ['{"items":[{"sku":"1","qty":1},{"sku":1,"qty":2}]}', '{"items":[{"sku":"1","qty":1},{"sku":1,"qty":3}]}', keyedOptions],
  ['{"items":[{"sku":"\\u0041","qty":1},{"sku":"A","qty":2}]}', '{"items":[{"sku":"\\u0041","qty":1},{"sku":"A","qty":3}]}', keyedOptions],
  ['{"items":[{"sku":"\\u0041","qty":1},{"sku":"B","qty":2}]}', '{"items":[{"sku":"\\u0041","qty":1},{"sku":"B","qty":3}]}', keyedOptions],
  ['{"m":{"10":1},"x":1}', '{"m":{"10":1},"x":2}'],
  ['{"items":[{"sku":7,"qty":1,"in":[{"sku":"x","v":1}]}]}', '{"items":[{"sku":7,"qty":2,"in":[{"sku":"x","v":2}]}]}', keyedOptions],
  ['{"a":{"b":1},"a2":{"b":1}}', '{"a":{"b":2},"a2":{"b":1}}'],
  ['{"a":{}, "b":[]}', '{"a":{}, "b":[]}'],
];

/** Pairs it must leave to diffJson: another structure, spacing or key order, keys that JSON.parse does not keep as written, bytes it refuses. */
const declined: Array<[string, string, JsonDiffOptions?]> = [
  ['{"a":1}', '{"a":1,"b":2}'],
  ['{"a":1,"b":2}', '{"b":2,"a":1}'],
  ['{"a":1}', '{"a": 1}'],
  ['{"a":[1]}', '{"a":[1,2]}'],
  ['{"a":1}', '{"a":{"b":1}}'],
  ['{"a":{"b":1}}', '{"a":1}'],
  ['{"a":1,"a":2}', '{"a":3,"a":2}'],
  ['{"a":1,"a":2}', '{"a":1,"a":3}', { maxDifferences: 5 }],
  ['{"items":[{"sku":"A","sku":"B","qty":1}]}', '{"items":[{"sku":"A","sku":"B","qty":2}]}', keyedOptions],
  ['{"b":1,"1":2}', '{"b":2,"1":2}'],
  ['{"b":1,"4294967294":2}', '{"b":2,"4294967294":2}'],
  ['{"10":{"a":1},"x":1}', '{"10":{"a":1},"x":2}'],
  ['{"\\u0061":1,"a":2}', '{"\\u0061":1,"a":3}'],
  ['{"items":[{"sku":"A","qty":1}]}', '{"items":[{"sku":"B","qty":1}]}', keyedOptions],
  ['{"items":[{"sku":{"id":1},"qty":1}]}', '{"items":[{"sku":{"id":1},"qty":2}]}', keyedOptions],
  ['{"a":01}', '{"a":02}'],
  ['{"a":1,}', '{"a":2,}'],
  ['{"a":"x\ty"}', '{"a":"x\tz"}'],
  ['{"a":"\\x"}', '{"a":"\\y"}'],
  ['{"a":tru}', '{"a":fals}'],
  ['{"a":1} x', '{"a":2} x'],
  ['{"a":1', '{"a":2'],
  ['"text"', '"other"'],
  ['\ufeff{"a":1}', '\ufeff{"a":2}'],
  ['{"a":1,"b":2,"c":3}', '{"a":4,"b":5,"c":6}', { maxDifferences: 2 }],
];

test('a byte comparison of JSON bodies differing in scalar values finds what parsing both finds, paths and values alike', () => {
  for (const [a, b, options = {}] of answered) {
    const fast = lockstep(a, b, options);
    assert.ok(fast, `answered without parsing: ${a} | ${b}`);
    assert.deepEqual(fast, reference(a, b, options), `${a} | ${b}`);
  }
});

test('a byte comparison leaves every other pair to the parsed comparison', () => {
  for (const [a, b, options = {}] of declined) assert.equal(lockstep(a, b, options), undefined, `${a} | ${b}`);
});

test('random scalar edits of a document are found as parsing both finds them', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const scalars = [0, 1, -2.5, 1e21, 'a', 'ab', 'é\u00e9', 'q"uote', '\u2028', true, false, null, 'SKU-1', ''];
  const pick = () => scalars[Math.floor(random() * scalars.length)];
  const documentOf = (edit: boolean) => {
    const item = (i: number) => ({ sku: `S${i}`, qty: edit && random() < 0.3 ? pick() : i, tags: [edit && random() < 0.2 ? pick() : 'a', 'b'], note: edit && random() < 0.2 ? pick() : 'n' });
    return { id: edit && random() < 0.5 ? pick() : 1, items: Array.from({ length: 6 }, (_, i) => item(i)), owner: { name: edit && random() < 0.5 ? pick() : 'Ada', plan: 'free' } };
  };
  let compared = 0;
  for (let round = 0; round < 300; round++) {
    const a = JSON.stringify(documentOf(false));
    const b = JSON.stringify(documentOf(true));
    for (const options of [{}, keyedOptions, { maxDifferences: 3 }]) {
      const fast = lockstep(a, b, options);
      if (fast) {
        compared++;
        assert.deepEqual(fast, reference(a, b, options), `${a} | ${b}`);
      }
    }
  }
  assert.ok(compared > 300, `most pairs were compared as bytes (${compared})`);
});

test('comparePair gives the same verdict and differences whether or not the bodies can be compared as bytes', () => {
  const stable = { id: 1, items: [{ sku: 'A', qty: 1 }, { sku: 'B', qty: 2 }], at: '2026-01-01T00:00:00Z' };
  const shadow = { id: 1, items: [{ sku: 'A', qty: 1 }, { sku: 'B', qty: 3 }], at: '2026-01-01T00:00:01Z' };
  const response = (body: string) => ({ status: 200, headers: [{ name: 'content-type', value: 'application/json' }], body: Buffer.from(body), size: body.length, truncated: false, sha256: null });
  // Spacing in one body sends the pair down the parsed path: the outcome must not change.
  const bytes = comparePair(response(JSON.stringify(stable)), response(JSON.stringify(shadow)), keyedItems);
  const parsed = comparePair(response(JSON.stringify(stable, null, 1)), response(JSON.stringify(shadow)), keyedItems);
  assert.deepEqual(bytes, parsed);
  assert.deepEqual(
    bytes.differences.map((d) => `${d.path} ${d.noise ?? 'real'}`),
    ['$.items[sku=B].qty real', '$.at timestamp'],
  );
});
