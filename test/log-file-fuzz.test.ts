import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { fuzzCase, openFuzzStore, type FuzzCase, type FuzzStore } from './helpers/log-fuzz.js';

/** A bounded run; `node dist/bench/log-fuzz.js` runs a longer one. */
const cases = Number(process.env.SHADOWTAP_FUZZ_CASES ?? 1000);
const records = 200;

let store: FuzzStore | undefined;
after(() => store && rm(store.dir, { recursive: true, force: true }));

test(`file log reader under ${cases} randomly damaged segments: it always ends, and good + dead-lettered records = written`, { timeout: 10 * 60_000 }, async () => {
  store = await openFuzzStore(records);
  const seen = new Map<string, number>();
  for (let seed = 1; seed <= cases; seed++) {
    const result: FuzzCase = await fuzzCase(store, seed);
    const what = `seed ${seed}: ${JSON.stringify(result)}`;
    seen.set(result.damage, (seen.get(result.damage) ?? 0) + 1);
    if (result.damage === 'foreign') {
      // Not a segment and no index to count its records by: refused in one line naming it.
      assert.ok(result.refused, what);
      assert.match(result.refused, new RegExp(`${result.segment} is not a shadowtap log segment|${result.segment} has a damaged or foreign schema|not records`), what);
      assert.doesNotMatch(result.refused, /\n/, what);
      continue;
    }
    assert.equal(result.refused, undefined, what);
    assert.equal(result.good + result.dead, records, what);
    if (result.appendedAfter !== undefined) assert.equal(result.appendedAfter, 1, `the append after a cut is read: ${what}`);
  }
  assert.equal(seen.size, 5, `every kind of damage was tried: ${[...seen]}`);
});
