import { accessSync, constants } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { httpUrl, notHttpUrl } from '../http/http-url.js';
import type { ConfigProblem } from './config-problem.js';
import { didYouMean } from './did-you-mean.js';
import type { LoadedConfig } from './load-config.js';
import type { ConfigOption, ConfigSection } from './option-catalog.js';

/** Option values a config file sets, already parsed exactly as the flags would be: section → key → value. */
export type ConfigValues = Map<string, Map<string, unknown>>;

export interface CheckedConfig {
  values: ConfigValues;
  /** Every problem in the file, not just the first. */
  problems: ConfigProblem[];
}

/**
 * Checks every key of a loaded config file against the commands' options and parses each value
 * with the option's own parser, so a config value is accepted exactly when the flag would be.
 */
export function checkConfig(loaded: LoadedConfig, catalog: Map<string, ConfigSection>): CheckedConfig {
  const problems = [...loaded.problems];
  const values: ConfigValues = new Map();
  const problem = (path: string, message: string) => problems.push({ path, message, line: loaded.lineOf(path) });

  for (const [sectionName, rawSection] of Object.entries(loaded.sections)) {
    const section = catalog.get(sectionName);
    if (!section) {
      const hint = didYouMean(sectionName, catalog.keys());
      problem(sectionName, hint ? `unknown section (did you mean ${hint}?)` : `unknown section; sections are ${[...catalog.keys()].join(', ')}`);
      continue;
    }
    if (rawSection === null || rawSection === undefined) continue;
    if (!isPlainObject(rawSection)) {
      problem(sectionName, `must be a mapping of option names to values; got ${describeValue(rawSection)}`);
      continue;
    }
    const sectionValues = new Map<string, unknown>();
    values.set(sectionName, sectionValues);
    for (const [rawKey, rawValue] of Object.entries(rawSection)) {
      const path = `${sectionName}.${rawKey}`;
      const option = section.options.get(camelCase(rawKey));
      if (!option) {
        const hint = didYouMean(camelCase(rawKey), section.options.keys());
        problem(path, hint ? `unknown key (did you mean ${hint}?)` : `unknown key; ${sectionName} takes ${[...section.options.keys()].join(', ')}`);
        continue;
      }
      const converted = convertValue(option, rawValue, loaded.dir);
      if ('error' in converted) problem(path, converted.error);
      else sectionValues.set(option.key, converted.value);
    }
  }
  return { values, problems };
}

type Converted = { value: unknown } | { error: string };

function convertValue(option: ConfigOption, raw: unknown, baseDir: string): Converted {
  if (raw === null || raw === undefined) return { error: 'has no value; give one or remove the key' };
  if (!option.takesValue) {
    return typeof raw === 'boolean' ? { value: raw } : { error: `is a switch and must be true or false; got ${describeValue(raw)}` };
  }
  if (isPlainObject(raw)) return { error: `must be a value or a list of values, not a mapping` };

  const items = Array.isArray(raw) ? raw : [raw];
  if (items.some((item) => item === null || typeof item === 'object')) return { error: 'list items must be plain values' };
  const texts = items.map((item) => resolvePath(option, String(item), baseDir));
  // A list is one flag per item for options that collect (variadic, or an array default such as
  // `--ignore`), and the comma-separated form of the flag for the others (`brokers: [a:9092, b:9092]`).
  const repeatable = option.variadic || Array.isArray(option.defaultValue);
  const inputs = repeatable ? texts : [texts.join(',')];

  let value: unknown = option.defaultValue;
  for (const text of inputs) {
    if (option.choices && !option.choices.includes(text)) {
      return { error: `must be one of ${option.choices.join(', ')}; got "${text}"` };
    }
    const problem = checkPlaceholder(option, text);
    if (problem) return { error: problem };
    if (option.parse) {
      try {
        value = option.parse(text, value);
      } catch (error) {
        return { error: withoutFlag((error as Error).message, option.flag) };
      }
    } else {
      value = repeatable ? [...(Array.isArray(value) && value !== option.defaultValue ? value : []), text] : text;
    }
  }
  return { value };
}

/** The flag's placeholder says what a value is; files and folders named in a config file are relative to it. */
function resolvePath(option: ConfigOption, text: string, baseDir: string): string {
  return isPathPlaceholder(option.placeholder) && !isAbsolute(text) ? resolve(baseDir, text) : text;
}

function isPathPlaceholder(placeholder: string | undefined): boolean {
  return placeholder !== undefined && /(^|-)(file|dir|path|folder)$/i.test(placeholder);
}

/** Checks what the placeholder promises when the option has no parser of its own to do it. */
function checkPlaceholder(option: ConfigOption, text: string): string | undefined {
  const placeholder = option.placeholder ?? '';
  if (/(^|-)file$/i.test(placeholder) && !isOutput(option)) {
    try {
      accessSync(text, constants.R_OK);
    } catch {
      return `cannot read file "${text}"`;
    }
  }
  if (!option.parse && /(^|-)url$/i.test(placeholder) && !httpUrl(text)) return notHttpUrl(text);
  return undefined;
}

/** Files a command writes (`--out`, `--output`, `--report-out`) need not exist yet. */
function isOutput(option: ConfigOption): boolean {
  return /^out(put)?$|Out(put)?$/.test(option.key);
}

/** Parsers say "--rate must be ..."; under a key path the flag name is noise. */
function withoutFlag(message: string, flag: string): string {
  return message.startsWith(`${flag} `) || message.startsWith(`${flag}:`) ? message.slice(flag.length).replace(/^:?\s*/, '') : message;
}

function camelCase(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'a mapping';
  return JSON.stringify(value);
}
