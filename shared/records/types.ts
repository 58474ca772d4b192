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
  /** Hex SHA-256 of the whole body as received, also when only a prefix is stored; null when unknown. */
  sha256: string | null;
}

export interface HttpResponse {
  status: number;
  headers: Header[];
  body: Buffer;
  size: number;
  truncated: boolean;
  /** Hex SHA-256 of the whole body as received, also when only a prefix is stored; null when unknown. */
  sha256: string | null;
}

/** An outbound call or guarded action, seen on stable by the capture middleware or reported by the shadow's library. */
export interface SideEffect {
  kind: 'http' | 'guard' | string;
  /** Method for http, action name for guard. */
  name: string;
  origin: string;
  pathTemplate: string;
  status: number | null;
  bodySha256: string | null;
  blocked: boolean;
}

/** Redacted originals encrypted to the replay worker's public key. */
export interface SealedSecrets {
  keyId: string;
  scheme: string;
  payload: Buffer;
}

/** One change the replay made to the recorded request. */
export interface RequestChange {
  kind: string;
  name: string;
  from: string | null;
  to: string | null;
}

export type ResultRole = 'shadow' | 'baseline' | 'reference';

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
  /** The client's x-request-id; never used as the id. */
  clientRequestId: string | null;
  /** mask, hash or seal; null when redaction was off or the record predates v2. */
  redactionMode: string | null;
  sealed: SealedSecrets | null;
  sideEffects: SideEffect[];
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
  role: ResultRole | string;
  /** follow, window or soak; null for v1 records. */
  replayMode: string | null;
  requestChanges: RequestChange[];
  /** What was redacted in the shadow's answer. */
  redactions: string[];
  sideEffects: SideEffect[];
  /** The answer carried the shadow-mode library's guard marker. */
  guarded: boolean;
}

export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Header lookup by lower-cased name; the first occurrence wins. */
export function headerValue(headers: Header[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

/** Values of the capture fields added in schema v2, for a capture that has none of them. */
export function captureV2Defaults(): Pick<Capture, 'clientRequestId' | 'redactionMode' | 'sealed' | 'sideEffects'> {
  return { clientRequestId: null, redactionMode: null, sealed: null, sideEffects: [] };
}

/** Values of the result fields added in schema v2, for a plain shadow result. */
export function resultV2Defaults(): Pick<Result, 'role' | 'replayMode' | 'requestChanges' | 'redactions' | 'sideEffects' | 'guarded'> {
  return { role: 'shadow', replayMode: null, requestChanges: [], redactions: [], sideEffects: [], guarded: false };
}
