import { promisify } from 'node:util';
import zlib from 'node:zlib';

/**
 * Undoing a Content-Encoding, for the redactor (asynchronously, in the capture path) and the diff
 * (synchronously, per pair). Codings are listed in the order they were applied and undone in
 * reverse; `deflate` is tried zlib-wrapped, then raw, as servers send both under that name.
 */
export interface ContentCodingOptions {
  /** Fail with ERR_BUFFER_TOO_LARGE past this many decoded bytes (a guard against zip bombs). */
  maxOutputLength?: number;
}

/** Whether every coding a Content-Encoding value lists is one these functions undo. */
export function canDecode(encoding: string | undefined): boolean {
  return codings(encoding).every((coding) => coding in syncSteps);
}

export function decodeContentSync(body: Buffer, encoding: string | undefined, options: ContentCodingOptions = {}): Buffer {
  let out = body;
  for (const coding of codings(encoding)) {
    const step = syncSteps[coding];
    if (!step) throw unknownCoding(coding);
    out = step(out, options);
  }
  return out;
}

export async function decodeContent(body: Buffer, encoding: string | undefined, options: ContentCodingOptions = {}): Promise<Buffer> {
  let out = body;
  for (const coding of codings(encoding)) {
    const step = asyncSteps[coding];
    if (!step) throw unknownCoding(coding);
    out = await step(out, options);
  }
  return out;
}

/** The codings to undo, in the order to undo them; identity ones left out. */
function codings(encoding: string | undefined): string[] {
  if (!encoding) return [];
  return encoding
    .toLowerCase()
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '' && c !== 'identity')
    .reverse();
}

function unknownCoding(coding: string): Error {
  return Object.assign(new Error(`unknown content-encoding ${coding}`), { code: 'ERR_UNKNOWN_CONTENT_ENCODING' });
}

type SyncStep = (body: Buffer, options: zlib.ZlibOptions) => Buffer;
type AsyncStep = (body: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

const syncSteps: Record<string, SyncStep> = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  br: zlib.brotliDecompressSync,
  deflate: (body, options) => {
    try {
      return zlib.inflateSync(body, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw error;
      return zlib.inflateRawSync(body, options);
    }
  },
};

const inflate = promisify(zlib.inflate) as AsyncStep;
const inflateRaw = promisify(zlib.inflateRaw) as AsyncStep;
const asyncSteps: Record<string, AsyncStep> = {
  gzip: promisify(zlib.gunzip) as AsyncStep,
  'x-gzip': promisify(zlib.gunzip) as AsyncStep,
  br: promisify(zlib.brotliDecompress) as AsyncStep,
  deflate: (body, options) =>
    inflate(body, options).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ERR_BUFFER_TOO_LARGE') throw error;
      return inflateRaw(body, options);
    }),
};
