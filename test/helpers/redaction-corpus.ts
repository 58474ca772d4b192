import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../shared/package-root.js';
import { findSecretValues } from '../../shared/redaction/secret-values.js';
import { isSensitiveName } from '../../shared/redaction/sensitive-names.js';

/** The labelled corpus of test/fixtures/redaction (built by bench/redaction-corpus.ts). */
export interface RedactionCorpus {
  sources: string[];
  names: Array<{ name: string; where: 'header' | 'query' | 'cookie' | 'body'; secret: boolean; rule: string | null; sources: number[] }>;
  values: Array<{ value: string; secret: boolean; kind: string; source: string }>;
}

export function loadRedactionCorpus(): RedactionCorpus {
  return JSON.parse(readFileSync(join(packageRoot(), 'test/fixtures/redaction/corpus.json'), 'utf8')) as RedactionCorpus;
}

export interface Score {
  precision: number;
  recall: number;
  truePositives: number;
  falsePositives: string[];
  falseNegatives: string[];
}

function score<T>(items: T[], label: (item: T) => boolean, predict: (item: T) => boolean, show: (item: T) => string): Score {
  let truePositives = 0;
  const falsePositives: string[] = [];
  const falseNegatives: string[] = [];
  for (const item of items) {
    const predicted = predict(item);
    if (predicted && label(item)) truePositives++;
    else if (predicted) falsePositives.push(show(item));
    else if (label(item)) falseNegatives.push(show(item));
  }
  return {
    precision: truePositives / Math.max(1, truePositives + falsePositives.length),
    recall: truePositives / Math.max(1, truePositives + falseNegatives.length),
    truePositives,
    falsePositives,
    falseNegatives,
  };
}

/** Names as the redactor sees them: a JSON field is read in JSON context (a lone `key` there is no API key). */
export function scoreNames(corpus: RedactionCorpus, classify = (name: string, where: string) => isSensitiveName(name, { json: where === 'body' })): Score {
  return score(corpus.names, (n) => n.secret, (n) => classify(n.name, n.where), (n) => `${n.where}:${n.name}`);
}

/** A value counts as found when a rule matches inside it. */
export function scoreValues(corpus: RedactionCorpus): Score {
  return score(corpus.values, (v) => v.secret, (v) => findSecretValues(v.value).length > 0, (v) => `${v.kind}:${v.value.slice(0, 60)}`);
}
