import { rm } from 'node:fs/promises';
import { damages, fuzzCase, openFuzzStore } from '../test/helpers/log-fuzz.js';

/**
 * The longer run of the file log fuzz test: FUZZ_CASES damaged copies (default 10,000) of a
 * 400-record store. Prints, per kind of damage, the cases, the records read good and dead-lettered
 * against those written, and the slowest read against the median one (the baseline).
 */
const cases = Number(process.env.FUZZ_CASES ?? 10_000);
const firstSeed = Number(process.env.FUZZ_SEED ?? 1);
const store = await openFuzzStore(400);
const byDamage = new Map(damages.map((d) => [d, { cases: 0, good: 0, dead: 0, written: 0, refused: 0, wrong: 0 }]));
const times: number[] = [];
try {
  for (let seed = firstSeed; seed < firstSeed + cases; seed++) {
    const result = await fuzzCase(store, seed);
    const row = byDamage.get(result.damage)!;
    row.cases++;
    times.push(result.readMs);
    if (result.refused !== undefined) {
      row.refused++;
      if (result.damage !== 'foreign') row.wrong++;
      continue;
    }
    row.good += result.good;
    row.dead += result.dead;
    row.written += result.written;
    if (result.good + result.dead !== result.written || result.appendedAfter === -1) {
      row.wrong++;
      console.log(`seed ${seed}: ${JSON.stringify(result)}`);
    }
  }
} finally {
  await rm(store.dir, { recursive: true, force: true });
}
times.sort((a, b) => a - b);
console.log(`${cases} damaged stores (seeds ${firstSeed}..${firstSeed + cases - 1}):`);
for (const [damage, row] of byDamage) {
  console.log(
    `  ${damage.padEnd(8)} ${String(row.cases).padStart(6)} cases  good ${row.good} + dead-lettered ${row.dead} of ${row.written} written  refused ${row.refused}  wrong ${row.wrong}`,
  );
}
const median = times[Math.floor(times.length / 2)]!;
console.log(`read time: median ${median.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms (${(times.at(-1)! / median).toFixed(1)}x the median)`);
process.exitCode = [...byDamage.values()].some((row) => row.wrong > 0) ? 1 : 0;
