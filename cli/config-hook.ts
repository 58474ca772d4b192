import { Command, Option } from 'commander';
import { checkConfig, type CheckedConfig } from '../shared/config/check-config.js';
import { formatProblem } from '../shared/config/config-problem.js';
import { loadConfigFile } from '../shared/config/load-config.js';
import { commandTree, configCatalog, logSectionName, type ConfigSection } from '../shared/config/option-catalog.js';
import { configError } from '../shared/errors.js';
import { addLogOptions } from './common.js';

export const configEnvVar = 'SHADOWTAP_CONFIG';

/** The sections and keys a config file may hold, read from the program's own commands. */
export function programConfigCatalog(program: Command): Map<string, ConfigSection> {
  return configCatalog(program, addLogOptions(new Command(logSectionName)));
}

/** Loads and checks a config file against the program's commands. */
export function checkConfigFile(program: Command, file: string): CheckedConfig {
  return checkConfig(loadConfigFile(file), programConfigCatalog(program));
}

/**
 * Adds the global `--config FILE` option and fills every option the user did not give as a flag
 * or environment variable from that file. Call after all commands are registered.
 *
 * The values are set from a preSubcommand hook, that is before commander parses the
 * subcommand's flags and environment: flags and `.env()` variables then override them by
 * commander's own rules (flag > env > config > default), and a mandatory option given only
 * in the file passes commander's check, which runs before any preAction hook.
 */
export function applyConfigFile(program: Command): void {
  program.addOption(
    new Option('--config <file>', 'YAML file with options for every command (see `shadowtap config example`)').env(configEnvVar),
  );
  for (const parent of commandTree(program)) {
    if (parent.commands.length === 0) continue;
    parent.hook('preSubcommand', (thisCommand, subcommand) => {
      // Help must work even with a broken config file, and shows the built-in defaults anyway.
      if (!asksForHelp(thisCommand.args)) fillFromConfig(program, subcommand);
    });
  }
}

function fillFromConfig(program: Command, command: Command): void {
  const file = program.opts<{ config?: string }>().config;
  const section = topLevelName(program, command);
  if (!file || !programConfigCatalog(program).has(section)) return;

  const { values, problems } = checkConfigFile(program, file);
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more; run \`shadowtap config check ${file}\`)` : '';
    throw configError(`${formatProblem(file, problems[0]!)}${more}`);
  }
  // The command's own section overrides the shared log section.
  const fromFile = new Map([...(values.get(logSectionName) ?? []), ...(values.get(section) ?? [])]);
  for (const option of command.options) {
    const key = option.attributeName();
    const source = command.getOptionValueSource(key);
    if (fromFile.has(key) && (source === undefined || source === 'default')) {
      command.setOptionValueWithSource(key, fromFile.get(key), 'config');
    }
  }
}

function asksForHelp(args: readonly string[]): boolean {
  return args[0] === 'help' || args.includes('--help') || args.includes('-h');
}

function topLevelName(program: Command, command: Command): string {
  let current = command;
  while (current.parent && current.parent !== program) current = current.parent;
  return current.name();
}
