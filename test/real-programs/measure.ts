import type { RealCase } from './real-case.js';
import { scoreCase, type CaseScore } from './scoring.js';
import { runTool } from './tool-path.js';
import { takeTruth } from './truth.js';

/** Truth and the tool's verdicts for one case, scored. */
export async function measureCase(realCase: RealCase): Promise<CaseScore> {
  const truth = await takeTruth(realCase);
  const run = await runTool(realCase);
  return scoreCase(realCase, truth, run);
}
