#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../shared/errors.js';
import { checkUnknownFlagsFirst, reportFailure } from './common.js';
import { registerCommands } from './commands/index.js';
import { applyConfigFile } from './config-hook.js';

const program = new Command('shadowtap')
  .description('Shadow deployments: capture live traffic, replay it to a shadow, diff the answers.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

await registerCommands(program, process.argv);
applyConfigFile(program);
checkUnknownFlagsFirst(program);

// A failure outside any awaited path (a timer, a stream's error event) is still one line, exit 3.
const fatal = (error: unknown) => {
  reportFailure(error);
  process.exit();
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

// `shadowtap inspect | head` closes stdout early; that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  fatal(error);
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; every other commander error is a usage mistake.
    process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    reportFailure(error);
  }
}
