import type { RealCase } from './real-case.js';
import { scoreCase, type CaseScore } from './scoring.js';
import { runTool } from './tool-path.js';
import { takeTruth } from './truth.js';

/** Truth and the tool's verdicts for one case, scored. */
export async function measureCase(realCase: RealCase): Promise<CaseScore> {
  // Separate instances: the truth's servers and the tool's never see each other's requests.
  const [truth, run] = await Promise.all([takeTruth(realCase), runTool(realCase)]);
  return scoreCase(realCase, truth, run);
}

/** Every case measured at once (each has its own servers and store); scores in the cases' order. */
export function measureCases(cases: RealCase[]): Array<Promise<CaseScore>> {
  return cases.map((realCase) => measureCase(realCase));
}
