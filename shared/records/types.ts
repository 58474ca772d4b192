// TypeScript shapes of the Avro records in shared/schemas. Times are microseconds since the epoch.

export interface Header {
  name: string;
  value: string;
}

export interface HttpRequest {
  method: string;
  path: string;
  query: string;
  headers: Header[];
  body: Buffer;
  size: number;
  truncated: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Header[];
  body: Buffer;
  size: number;
  truncated: boolean;
}

export interface Capture {
  id: string;
  captureTime: number;
  agent: string;
  service: string;
  request: HttpRequest;
  response: HttpResponse | null;
  upstreamError: string | null;
  timings: { start: number; firstByte: number | null; end: number | null };
  redactions: string[];
  sampling: { rate: number; mode: string };
}

export type Outcome = 'response' | 'error' | 'skipped';
export type ErrorKind = 'timeout' | 'refused' | 'reset' | 'tls' | 'other';

export interface Result {
  id: string;
  captureId: string;
  source: { log: string; partition: number; offset: number };
  target: string;
  scheduledTime: number;
  sentTime: number | null;
  attempt: number;
  outcome: Outcome;
  error: { kind: ErrorKind; message: string } | null;
  skipReason: string | null;
  response: HttpResponse | null;
  latencyMicros: number | null;
}

export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Header lookup by lower-cased name; the first occurrence wins. */
export function headerValue(headers: Header[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === lower)?.value;
}
