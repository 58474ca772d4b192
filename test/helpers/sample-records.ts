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
    },
    response: sampleResponse(),
    upstreamError: null,
    timings: { start: 1_764_000_000_000_000, firstByte: 1_764_000_000_001_500, end: 1_764_000_000_002_000 },
    redactions: ['request.header:authorization'],
    sampling: { rate: 1, mode: 'all' },
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
    ...overrides,
  };
}
