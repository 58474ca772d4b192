import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { configError } from '../shared/errors.js';
import type { RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { redactionDefaults, resolveRedaction, type RedactionOptions, type ResolvedRedaction } from '../shared/redaction/redaction-options.js';

export { resolveRedaction, type RedactionMode, type RedactionOptions, type ResolvedRedaction } from '../shared/redaction/redaction-options.js';

export interface SamplingOptions {
  /** Fraction of requests kept, 0..1. */
  rate?: number;
  /** Consistent sampling key: `header:<name>`, `query:<name>` or `cookie:<name>`; random when absent. */
  by?: string;
  /** Only these methods are recorded (empty: all). */
  allowMethods?: string[];
  /** These methods are never recorded. */
  denyMethods?: string[];
  /** Only paths matching one of these globs are recorded (`*` one segment, `**` any depth). */
  allowPaths?: string[];
  /** Paths matching one of these globs are never recorded. */
  denyPaths?: string[];
}

export interface QueueOptions {
  /** Bound of the in-memory queue, in (estimated) record bytes. */
  memoryBytes?: number;
  /** Folder of the disk spool used when memory is full; no spool when absent. */
  spoolDir?: string;
  /** Bound of the disk spool in bytes. */
  spoolBytes?: number;
  /** Largest batch handed to the log in one append, in records. */
  batchRecords?: number;
  /** Largest batch in (estimated) bytes; under Kafka's default 1 MB message.max.bytes. */
  batchBytes?: number;
  /**
   * Longest a record waits for others to share its append. A batch leaves earlier when it is full;
   * while an append is under way records gather anyway, so this only matters when the log is idle.
   */
  lingerMs?: number;
  /**
   * Longest a record waits when the agent is busy: when records keep arriving fast enough to make
   * a batch of 5 within this time (250/s with 20 ms), batches wait for it, which saves the
   * log's per-append cost (a record in a batch of 100 costs about a third of one in a batch of 22).
   */
  busyLingerMs?: number;
  /** Backoff between retries of a failing log, doubling from min to max. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

/** What the proxy and the middleware share: where records go and how they are shaped. */
export interface RecorderOptions {
  sink: RecordLog<Capture>;
  service?: string;
  agent?: string;
  maxBodyBytes?: number;
  /** All body copies of exchanges in flight together; beyond it bodies are recorded truncated. */
  maxInflightBodyBytes?: number;
  requestIdHeader?: string;
  redaction?: RedactionOptions;
  sampling?: SamplingOptions;
  queue?: QueueOptions;
  /** Structured logger; defaults to pino on stderr at level info. */
  logger?: Logger;
}

export const recorderDefaults = {
  service: 'default',
  maxBodyBytes: 1024 * 1024,
  maxInflightBodyBytes: 128 * 1024 * 1024,
  requestIdHeader: 'x-request-id',
  redaction: redactionDefaults,
  sampling: { rate: 1 },
  queue: {
    memoryBytes: 64 * 1024 * 1024,
    spoolBytes: 1024 * 1024 * 1024,
    batchRecords: 500,
    batchBytes: 768 * 1024,
    lingerMs: 5,
    busyLingerMs: 20,
    retryMinMs: 100,
    retryMaxMs: 5000,
  },
};

/** The capture agent's own defaults (the server and its proxy mode); the recorder's are above. */
export const captureServerDefaults = {
  host: '127.0.0.1',
  maxHeaderBytes: 64 * 1024,
  upstreamTimeoutMs: 60_000,
  /** How long close() waits for in-flight requests and the queue (the middleware's too). */
  drainTimeoutMs: 10_000,
  forwardRequestId: false,
  rewriteHost: false,
};

export interface ResolvedSampling {
  rate: number;
  by: { source: 'header' | 'query' | 'cookie'; name: string } | null;
  allowMethods: string[];
  denyMethods: string[];
  allowPaths: string[];
  denyPaths: string[];
}

export interface ResolvedQueue {
  memoryBytes: number;
  spoolDir: string | null;
  spoolBytes: number;
  batchRecords: number;
  batchBytes: number;
  lingerMs: number;
  busyLingerMs: number;
  retryMinMs: number;
  retryMaxMs: number;
}

export interface ResolvedRecorderOptions {
  sink: RecordLog<Capture>;
  service: string;
  agent: string;
  maxBodyBytes: number;
  maxInflightBodyBytes: number;
  requestIdHeader: string;
  redaction: ResolvedRedaction;
  sampling: ResolvedSampling;
  queue: ResolvedQueue;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw configError(`${name} must be a positive number; got ${value}`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw configError(`${name} must be 0 or more; got ${value}`);
  return value;
}

export function resolveSampling(options: SamplingOptions = {}): ResolvedSampling {
  const rate = options.rate ?? recorderDefaults.sampling.rate;
  if (!(rate >= 0 && rate <= 1)) throw configError(`sampling rate must be between 0 and 1; got ${rate}`);
  let by: ResolvedSampling['by'] = null;
  if (options.by) {
    const match = /^(header|query|cookie):(.+)$/.exec(options.by);
    if (!match) throw configError(`sampling key must be header:<name>, query:<name> or cookie:<name>; got "${options.by}"`);
    const source = match[1] as 'header' | 'query' | 'cookie';
    by = { source, name: source === 'header' ? match[2].toLowerCase() : match[2] };
  }
  const upper = (list?: string[]) => (list ?? []).map((m) => m.toUpperCase());
  return {
    rate,
    by,
    allowMethods: upper(options.allowMethods),
    denyMethods: upper(options.denyMethods),
    allowPaths: options.allowPaths ?? [],
    denyPaths: options.denyPaths ?? [],
  };
}

export function resolveQueue(options: QueueOptions = {}): ResolvedQueue {
  const d = recorderDefaults.queue;
  return {
    memoryBytes: positive(options.memoryBytes ?? d.memoryBytes, 'queue memoryBytes'),
    spoolDir: options.spoolDir ?? null,
    spoolBytes: positive(options.spoolBytes ?? d.spoolBytes, 'queue spoolBytes'),
    batchRecords: positive(options.batchRecords ?? d.batchRecords, 'queue batchRecords'),
    batchBytes: positive(options.batchBytes ?? d.batchBytes, 'queue batchBytes'),
    lingerMs: nonNegative(options.lingerMs ?? d.lingerMs, 'queue lingerMs'),
    busyLingerMs: nonNegative(options.busyLingerMs ?? d.busyLingerMs, 'queue busyLingerMs'),
    retryMinMs: positive(options.retryMinMs ?? d.retryMinMs, 'queue retryMinMs'),
    retryMaxMs: positive(options.retryMaxMs ?? d.retryMaxMs, 'queue retryMaxMs'),
  };
}

export function resolveRecorderOptions(options: RecorderOptions): ResolvedRecorderOptions {
  if (!options.sink) throw configError('capture needs a sink (a RecordLog<Capture>)');
  return {
    sink: options.sink,
    service: options.service ?? recorderDefaults.service,
    agent: options.agent ?? hostname(),
    maxBodyBytes: positive(options.maxBodyBytes ?? recorderDefaults.maxBodyBytes, 'maxBodyBytes'),
    maxInflightBodyBytes: positive(options.maxInflightBodyBytes ?? recorderDefaults.maxInflightBodyBytes, 'maxInflightBodyBytes'),
    requestIdHeader: (options.requestIdHeader ?? recorderDefaults.requestIdHeader).toLowerCase(),
    redaction: resolveRedaction(options.redaction),
    sampling: resolveSampling(options.sampling),
    queue: resolveQueue(options.queue),
  };
}
