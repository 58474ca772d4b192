import type { Command, Option } from 'commander';

/**
 * What a config file may say, read from the commander definitions themselves so that a flag
 * added to a command is at once a config key, with the same parser, choices and default.
 */
export interface ConfigOption {
  /** The key in the config file: the option's attribute name (`metricsListen` for `--metrics-listen`). */
  key: string;
  /** The long flag, for messages and the example (`--metrics-listen`). */
  flag: string;
  /** The value placeholder of the flag (`addr` in `--listen <addr>`); names the kind of value. */
  placeholder?: string;
  description: string;
  defaultValue: unknown;
  envVar?: string;
  /** False for switches such as `--follow` or `--no-color`, which take true or false in a config file. */
  takesValue: boolean;
  variadic: boolean;
  choices?: readonly string[];
  parse?: (value: string, previous: unknown) => unknown;
  hidden: boolean;
}

export interface ConfigSection {
  /** `log`, or a top-level command name. */
  name: string;
  description: string;
  hidden: boolean;
  options: Map<string, ConfigOption>;
}

/** The shared section whose keys apply to every command that has the same options. */
export const logSectionName = 'log';

/** Commands whose options a config file must never change (checking a config must work with a broken one). */
const unconfigurable = new Set(['config', 'help']);

/**
 * One section per top-level command (its subcommands' options merge into it, as `import har` and
 * `import goreplay` share theirs) plus `log`, whose options come from `logCommand`.
 */
export function configCatalog(program: Command, logCommand: Command): Map<string, ConfigSection> {
  const sections = new Map<string, ConfigSection>();
  sections.set(logSectionName, {
    name: logSectionName,
    description: 'where records live; applies to every command that reads or writes the log',
    hidden: false,
    options: optionsOf([logCommand]),
  });
  for (const command of program.commands) {
    if (unconfigurable.has(command.name())) continue;
    sections.set(command.name(), {
      name: command.name(),
      description: command.description(),
      hidden: isHidden(command),
      options: optionsOf(commandTree(command)),
    });
  }
  return sections;
}

/** A command and all its subcommands, depth first. */
export function commandTree(command: Command): Command[] {
  return [command, ...command.commands.flatMap(commandTree)];
}

function optionsOf(commands: Command[]): Map<string, ConfigOption> {
  const options = new Map<string, ConfigOption>();
  for (const command of commands) {
    for (const option of command.options as readonly Option[]) {
      const key = option.attributeName();
      if (!option.long || options.has(key)) continue;
      options.set(key, describe(option));
    }
  }
  return options;
}

function describe(option: Option): ConfigOption {
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1]?.replace(/\.\.\.$/, '');
  return {
    key: option.attributeName(),
    flag: option.long!,
    placeholder,
    description: option.description,
    defaultValue: option.defaultValue,
    envVar: option.envVar,
    takesValue: option.required || option.optional,
    variadic: option.variadic,
    choices: option.argChoices,
    parse: option.parseArg as ConfigOption['parse'],
    hidden: option.hidden,
  };
}

// commander keeps the hidden flag private; `.command(name, { hidden: true })` sets `_hidden`.
function isHidden(command: Command): boolean {
  return (command as unknown as { _hidden?: boolean })._hidden === true;
}
