import type { Command } from 'commander';
import { formatProblem } from '../../shared/config/config-problem.js';
import { renderExampleConfig } from '../../shared/config/example-config.js';
import { usageError } from '../../shared/errors.js';
import { checkConfigFile, configEnvVar, programConfigCatalog } from '../config-hook.js';
import { action } from '../common.js';

/** `shadowtap config check FILE` and `shadowtap config example`. */
export function registerConfig(program: Command): void {
  const config = program.command('config').description('check a config file, or print an example with every option');

  config
    .command('check')
    .description('report every problem in a config file, each with its key path; exit 2 when there is any')
    .argument('[file]', `config file (default: the global --config or ${configEnvVar})`)
    .addHelpText('after', '\nExample:\n  shadowtap config check shadowtap.yml')
    .action(
      action(async (file: string | undefined) => {
        const path = file ?? program.opts<{ config?: string }>().config;
        if (!path) throw usageError(`config check needs a file: shadowtap config check shadowtap.yml (or set ${configEnvVar})`);
        const { problems } = checkConfigFile(program, path);
        if (problems.length === 0) {
          process.stdout.write(`${path}: ok\n`);
          return 0;
        }
        for (const problem of problems) process.stderr.write(`${formatProblem(path, problem)}\n`);
        process.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${path}\n`);
        return 2;
      }),
    );

  config
    .command('example')
    .description('print a commented config file naming every option with its default')
    .addHelpText('after', '\nExample:\n  shadowtap config example > shadowtap.yml')
    .action(
      action(async () => {
        process.stdout.write(renderExampleConfig(programConfigCatalog(program)));
      }),
    );
}
