import { createHash } from 'node:crypto';
import { logUnreachable } from '../shared/errors.js';
import type { RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { resolveRedaction, type RedactionOptions } from './capture-options.js';
import { Redactor } from '../shared/redaction/redactor.js';

/** One entry of an input file: a capture, or why the entry was left out. */
export type ImportItem = { capture: Capture } | { skip: string };

export interface ImportSummary {
  imported: number;
  skipped: number;
  /** Skipped entries by reason. */
  reasons: Record<string, number>;
}

export interface ImportOptions {
  redaction?: RedactionOptions;
  batchRecords?: number;
  /** Told the counts so far after each batch written. */
  onProgress?: (summary: ImportSummary) => void;
}

/**
 * Shared by all importers: redacts each capture exactly as the live agent would and appends in
 * batches, taking the next items only once a batch is written (a streamed file is read no faster
 * than the log takes it, in bounded memory).
 */
export async function importCaptures(
  items: Iterable<ImportItem> | AsyncIterable<ImportItem>,
  sink: Pick<RecordLog<Capture>, 'name' | 'append'>,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const redactor = new Redactor(resolveRedaction(options.redaction));
  const batchRecords = options.batchRecords ?? 500;
  const summary: ImportSummary = { imported: 0, skipped: 0, reasons: {} };
  let batch: Capture[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    try {
      await sink.append(batch);
    } catch (error) {
      throw logUnreachable(`cannot write captures to ${sink.name}: ${(error as Error).message}. Check --store or --brokers.`, error);
    }
    summary.imported += batch.length;
    batch = [];
    options.onProgress?.(summary);
  };
  for await (const item of items) {
    if ('skip' in item) {
      summary.skipped++;
      summary.reasons[item.skip] = (summary.reasons[item.skip] ?? 0) + 1;
      continue;
    }
    batch.push(await redactor.redact(item.capture));
    if (batch.length >= batchRecords) await flush();
  }
  await flush();
  return summary;
}

export interface ImportSource {
  agent: string;
  service: string;
  maxBodyBytes: number;
}

/** Cuts a body at the configured maximum the way the live agent does. */
export function boundedBody(body: Buffer, max: number): { body: Buffer; size: number; truncated: boolean; sha256: string } {
  return {
    body: body.length > max ? body.subarray(0, max) : body,
    size: body.length,
    truncated: body.length > max,
    sha256: createHash('sha256').update(body).digest('hex'),
  };
}
