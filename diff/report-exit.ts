import { ExitCode } from '../shared/errors.js';
import type { DiffReport } from './report.js';

/** 0 when every threshold holds, 1 when any is breached (see DiffReport.breaches). */
export function reportExitCode(report: DiffReport): number {
  return report.breaches.length > 0 ? ExitCode.thresholdBreached : ExitCode.ok;
}
