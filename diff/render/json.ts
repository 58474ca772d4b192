import { createWriteStream } from 'node:fs';
import type { PairRecord } from '../pair-record.js';
import type { DiffReport } from '../report.js';

/** The whole report as JSON; its schema is documented in docs/report-schema.md. */
export function renderJson(report: DiffReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** One JSON object per pair verdict, one per line. */
export function renderJsonLines(verdicts: Iterable<PairRecord>): string {
  let out = '';
  for (const verdict of verdicts) out += jsonLine(verdict);
  return out;
}

const jsonLine = (verdict: PairRecord) => `${JSON.stringify(verdict)}\n`;

export interface JsonLinesWriter {
  write(verdict: PairRecord): void;
  /** Ends the file (stdout stays open); resolves once every line is written. */
  close(): Promise<void>;
}

/** JSON Lines go out as pairs are judged, so a follow run or a huge window streams instead of piling up. */
export function jsonLinesWriter(out?: string): JsonLinesWriter {
  if (!out) return { write: (verdict) => void process.stdout.write(jsonLine(verdict)), close: async () => undefined };
  const stream = createWriteStream(out);
  return {
    write: (verdict) => void stream.write(jsonLine(verdict)),
    close: () => new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve()))),
  };
}
