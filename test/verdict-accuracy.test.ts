import assert from 'node:assert/strict';
import { test } from 'node:test';
import { realCases } from './real-programs/cases/index.js';
import { measureCases } from './real-programs/measure.js';
import { describeScore } from './real-programs/scoring.js';

// Issue 12's measure: on real pairs of versions of real programs, with default settings, the
// status/body verdicts of capture → replay → diff reach precision and recall ≥ 0.99 against the
// truth taken by asking both versions directly (test/real-programs/README.md).
const scores = measureCases(realCases);
// Each test awaits its own case; a case that throws must not leave an unhandled rejection meanwhile.
for (const score of scores) score.catch(() => {});
for (const [i, realCase] of realCases.entries()) {
  test(`verdicts on ${realCase.name} (${realCase.stable} → ${realCase.shadow}), default settings: precision and recall ≥ 0.99`, async () => {
    const score = await scores[i];
    const report = describeScore(score);
    assert.ok(score.truthDiffering > 0 && score.truthDiffering < score.pairs, `the case must hold real differences and equal answers\n${report}`);
    assert.ok(score.precision >= 0.99, `precision ${score.precision.toFixed(3)} < 0.99\n${report}`);
    assert.ok(score.recall >= 0.99, `recall ${score.recall.toFixed(3)} < 0.99\n${report}`);
    // Not-compared pairs (skipped, altered, merged ids…) are neither hits nor misses; the report lists them.
  });
}
