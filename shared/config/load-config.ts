import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import type { ConfigProblem } from './config-problem.js';

/** A config file as read: its sections as plain values, plus what went wrong reading it. */
export interface LoadedConfig {
  path: string;
  /** Folder of the file; relative paths inside it are taken from here. */
  dir: string;
  /** Top-level keys (sections) to their raw values; empty when the file could not be read. */
  sections: Record<string, unknown>;
  problems: ConfigProblem[];
  /** The line of `section` or `section.key`, for messages. */
  lineOf(path: string): number | undefined;
}

/** Reads a YAML config file. Never throws: unreadable files and syntax errors become problems. */
export function loadConfigFile(path: string): LoadedConfig {
  const absolute = resolve(path);
  const lines = new Map<string, number>();
  const loaded: LoadedConfig = {
    path,
    dir: dirname(absolute),
    sections: {},
    problems: [],
    lineOf: (key) => lines.get(key),
  };

  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    loaded.problems.push({ path: '', message: `cannot read the config file: ${reason}` });
    return loaded;
  }

  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  for (const error of document.errors) {
    const line = error.linePos?.[0].line;
    loaded.problems.push({ path: '', message: `not valid YAML: ${error.message.split('\n')[0]}`, line });
  }
  if (document.errors.length > 0) return loaded;

  const lineAt = (node: Node | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : undefined);
  const root = document.contents;
  if (root === null || (isScalar(root) && root.value === null)) return loaded;
  if (!isMap(root)) {
    loaded.problems.push({ path: '', message: 'must be a mapping of sections such as `log:`, `capture:`, `replay:`', line: lineAt(root) });
    return loaded;
  }
  for (const pair of root.items) {
    const section = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const line = lineAt(pair.key as Node);
    if (line !== undefined) lines.set(section, line);
    if (isMap(pair.value)) {
      for (const inner of pair.value.items) {
        const innerLine = lineAt(inner.key as Node);
        if (innerLine !== undefined) lines.set(`${section}.${String(isScalar(inner.key) ? inner.key.value : inner.key)}`, innerLine);
      }
    }
  }
  loaded.sections = document.toJS() as Record<string, unknown>;
  return loaded;
}
