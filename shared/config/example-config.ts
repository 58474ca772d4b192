import { stringify } from 'yaml';
import { logSectionName, type ConfigOption, type ConfigSection } from './option-catalog.js';

/**
 * A config file naming every option of every command with its default, all commented out, so it
 * is valid as printed and each line can be switched on by removing its `# `.
 */
export function renderExampleConfig(catalog: Map<string, ConfigSection>): string {
  const lines = [
    '# shadowtap configuration: `shadowtap --config shadowtap.yml <command>` (or SHADOWTAP_CONFIG=shadowtap.yml).',
    '# Precedence: command-line flag > environment variable > this file > built-in default;',
    '# for repeatable options (--ignore, --route, ...) flags add to the list given here.',
    '# Keys are the long flag names in camelCase (--metrics-listen is metricsListen); kebab-case works too.',
    '# The `log:` section applies to every command that reads or writes the log; a command section overrides it.',
    '# Relative paths are taken from the folder of this file. Check a file with `shadowtap config check FILE`.',
  ];
  const log = catalog.get(logSectionName);
  // The log options every log command shares are shown once, under `log:`.
  const shownInLog = (section: ConfigSection, option: ConfigOption) =>
    section !== log && log?.options.get(option.key)?.description === option.description;
  for (const section of catalog.values()) {
    const options = [...section.options.values()].filter((o) => !o.hidden && !shownInLog(section, o));
    if (section.hidden || options.length === 0) continue;
    lines.push('', `# ${section.description}`, `${section.name}:`);
    for (const option of options) {
      lines.push(`  # ${describe(option)}`, `  # ${option.key}:${renderDefault(option)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Starts with the flag, so a description is never mistaken for a `key: value` line. */
function describe(option: ConfigOption): string {
  const flag = option.placeholder ? `${option.flag} <${option.placeholder}>` : option.flag;
  const facts = [];
  if (option.choices) facts.push(`one of ${option.choices.join(', ')}`);
  if (option.envVar) facts.push(`env ${option.envVar}`);
  return `${flag}: ${option.description}${facts.length > 0 ? ` (${facts.join('; ')})` : ''}`;
}

/** The default as YAML, or nothing after the colon when the option has no default. */
function renderDefault(option: ConfigOption): string {
  const value = option.takesValue ? option.defaultValue : (option.defaultValue ?? false);
  if (value === undefined) return '';
  const primitive = (v: unknown) => ['string', 'number', 'boolean'].includes(typeof v);
  if (!primitive(value) && !(Array.isArray(value) && value.every(primitive))) return '';
  return ` ${stringify(value, { collectionStyle: 'flow' }).trim()}`;
}
