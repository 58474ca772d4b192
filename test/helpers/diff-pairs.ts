import { gzipSync } from 'node:zlib';
import { captureV2Defaults, resultV2Defaults, type Capture, type Header, type HttpResponse, type Result } from '../../shared/records/types.js';

/** Builders of responses, captures and results for the diff tests. */
export function json(body: unknown, status = 200, headers: Header[] = []): HttpResponse {
  const bytes = Buffer.from(JSON.stringify(body));
  return { status, headers: [{ name: 'content-type', value: 'application/json' }, ...headers], body: bytes, size: bytes.length, truncated: false, sha256: null };
}

export function gzipJson(body: unknown, status = 200): HttpResponse {
  const bytes = gzipSync(Buffer.from(JSON.stringify(body)));
  return {
    status,
    headers: [
      { name: 'content-type', value: 'application/json; charset=utf-8' },
      { name: 'content-encoding', value: 'gzip' },
    ],
    body: bytes,
    size: bytes.length,
    truncated: false,
    sha256: null,
  };
}

export function text(body: string, contentType = 'text/plain; charset=utf-8', status = 200): HttpResponse {
  const bytes = Buffer.from(body);
  return { status, headers: [{ name: 'content-type', value: contentType }], body: bytes, size: bytes.length, truncated: false, sha256: null };
}

export function bytes(body: Buffer, status = 200): HttpResponse {
  return { status, headers: [{ name: 'content-type', value: 'application/octet-stream' }], body, size: body.length, truncated: false, sha256: null };
}

const baseMicros = 1_764_000_000_000_000;

export function capture(id: string, path: string, response: HttpResponse | null, atMs = 0, method = 'GET', latencyMicros = 1000): Capture {
  const start = baseMicros + atMs * 1000;
  return {
    id,
    captureTime: start,
    agent: 'test',
    service: 'svc',
    request: { method, path, query: '', headers: [], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null },
    response,
    upstreamError: null,
    timings: { start, firstByte: start + latencyMicros / 2, end: start + latencyMicros },
    redactions: [],
    ...captureV2Defaults(),
    sampling: { rate: 1, mode: 'all' },
  };
}

export function result(captureId: string, response: HttpResponse | null, atMs = 0, overrides: Partial<Result> = {}): Result {
  const sent = baseMicros + atMs * 1000 + 500;
  return {
    id: captureId,
    captureId,
    source: { log: 'memory.captures', partition: 0, offset: 0 },
    target: 'http://shadow',
    scheduledTime: sent,
    sentTime: sent,
    attempt: 1,
    outcome: response ? 'response' : 'error',
    error: response ? null : { kind: 'timeout', message: 'timed out after 5000 ms' },
    skipReason: null,
    response,
    latencyMicros: 1200,
    ...resultV2Defaults(),
    ...overrides,
  };
}

export const baseMs = baseMicros / 1000;
