import { realCases } from '../test/real-programs/cases/index.js';
import { measureCases } from '../test/real-programs/measure.js';
import { describeScore } from '../test/real-programs/scoring.js';

/**
 * Verdict accuracy on real pairs of versions of real programs (test/real-programs/README.md):
 * per case the status/body verdicts of `shadowtap capture → replay → diff` with default settings
 * against the truth taken by asking both versions directly. Arguments filter cases by name;
 * VERBOSE=1 also prints every request's truth and call.
 */
const filters = process.argv.slice(2);
const cases = realCases.filter((c) => filters.length === 0 || filters.some((f) => c.name.includes(f)));
let tp = 0;
let fp = 0;
let fn = 0;
let notCompared = 0;
let hidden = 0;
for (const measured of measureCases(cases)) {
  const score = await measured;
  tp += score.tp;
  fp += score.fp;
  fn += score.fn;
  notCompared += score.notCompared;
  hidden += score.notComparedDiffering;
  console.log(describeScore(score, process.env.VERBOSE === '1'));
}
const ratio = (n: number, d: number) => (d === 0 ? 1 : n / d).toFixed(3);
console.log(
  `all cases: TP ${tp}, FP ${fp}, FN ${fn}, precision ${ratio(tp, tp + fp)}, recall ${ratio(tp, tp + fn)}; ` +
    `not compared ${notCompared}, of which the versions really differ on ${hidden}`,
);
