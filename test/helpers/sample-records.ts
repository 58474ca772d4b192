import type { Capture, HttpResponse, Result } from '../../shared/records/types.js';

/** A fully populated capture: every field set, so codec tests cover the whole schema. */
export function sampleCapture(overrides: Partial<Capture> = {}): Capture {
  return {
    id: 'req-0001',
    captureTime: 1_764_000_000_000_000,
    agent: 'agent-a',
    service: 'orders',
    request: {
      method: 'POST',
      path: '/orders/42',
      query: 'expand=items&expand=owner',
      headers: [
        { name: 'content-type', value: 'application/json' },
        { name: 'x-tag', value: 'one' },
        { name: 'x-tag', value: 'two' },
      ],
      body: Buffer.from('{"qty":3}'),
      size: 9,
      truncated: false,
      sha256: '9a'.repeat(32),
    },
    response: sampleResponse(),
    upstreamError: null,
    timings: { start: 1_764_000_000_000_000, firstByte: 1_764_000_000_001_500, end: 1_764_000_000_002_000 },
    redactions: ['request.header:authorization'],
    sampling: { rate: 1, mode: 'all' },
    clientRequestId: 'client-7',
    redactionMode: 'seal',
    sealed: { keyId: 'k1', scheme: 'x25519-hkdf-sha256-aes-256-gcm', payload: Buffer.from([1, 2, 3, 4]) },
    sideEffects: [
      { kind: 'http', name: 'POST', origin: 'http://mail:25', pathTemplate: '/send/:id', status: 202, bodySha256: 'ab'.repeat(32), blocked: false },
      { kind: 'guard', name: 'db.insert', origin: '', pathTemplate: '', status: null, bodySha256: null, blocked: true },
    ],
    ...overrides,
  };
}

export function sampleResponse(overrides: Partial<HttpResponse> = {}): HttpResponse {
  return {
    status: 200,
    headers: [{ name: 'content-type', value: 'application/json' }],
    body: Buffer.from('{"id":42,"items":[{"sku":"a","qty":3}]}'),
    size: 39,
    truncated: false,
    sha256: '5f'.repeat(32),
    ...overrides,
  };
}

export function sampleResult(overrides: Partial<Result> = {}): Result {
  return {
    id: 'req-0001',
    captureId: 'req-0001',
    source: { log: 'shadowtap.captures', partition: 2, offset: 17 },
    target: 'http://shadow:8080',
    scheduledTime: 1_764_000_100_000_000,
    sentTime: 1_764_000_100_000_300,
    attempt: 1,
    outcome: 'response',
    error: null,
    skipReason: null,
    response: sampleResponse({ body: Buffer.from('{"id":42,"items":[{"sku":"a","qty":4}]}') }),
    latencyMicros: 1800,
    role: 'shadow',
    replayMode: 'window',
    requestChanges: [{ kind: 'marker-added', name: 'x-shadowtap-replay', from: null, to: '1' }],
    redactions: ['response.header:set-cookie'],
    sideEffects: [{ kind: 'http', name: 'POST', origin: 'http://mail:25', pathTemplate: '/send/:id', status: 202, bodySha256: null, blocked: true }],
    guarded: true,
    ...overrides,
  };
}
