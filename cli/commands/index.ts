import type { Command } from 'commander';
import { registerCapture } from './capture.js';
import { registerConfig } from './config.js';
import { registerDemo } from './demo.js';
import { registerDiff } from './diff.js';
import { registerGate } from './gate.js';
import { registerImport } from './import.js';
import { registerInspect } from './inspect.js';
import { registerKeys } from './keys.js';
import { registerReplay } from './replay.js';
import { registerReport } from './report.js';
import { registerSampleApp } from './sample-app.js';
import { registerSoak } from './soak.js';

/** Each subcommand lives in its own file and only parses flags, then hands a typed context to its stage. */
export function registerCommands(program: Command): void {
  registerCapture(program);
  registerReplay(program);
  registerSoak(program);
  registerDemo(program);
  registerDiff(program);
  registerReport(program);
  registerGate(program);
  registerImport(program);
  registerInspect(program);
  registerKeys(program);
  registerConfig(program);
  registerSampleApp(program);
}
