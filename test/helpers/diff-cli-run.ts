import { Command } from 'commander';
import { registerDiff } from '../../cli/commands/diff.js';
import { ShadowtapError } from '../../shared/errors.js';

/** Runs `shadowtap diff --store STORE ARGS` in this process and returns its exit code, as cli/main.ts would set it. */
export async function runDiffCli(store: string, ...args: string[]): Promise<number> {
  const program = new Command('shadowtap').exitOverride();
  registerDiff(program);
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'shadowtap', 'diff', '--store', store, ...args]);
  } catch (error) {
    // As cli/main.ts does: flag parsers throw ShadowtapErrors before the action runs.
    if (!(error instanceof ShadowtapError)) throw error;
    process.stderr.write(`shadowtap: ${error.message}\n`);
    process.exitCode = error.exitCode;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return code;
}
