import type { ErrorKind } from '../shared/records/types.js';

const timeoutCodes = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', 'ABORT_ERR', 'UND_ERR_ABORTED']);
const resetCodes = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'UND_ERR_CLOSED']);
const tlsCodes = new Set(['EPROTO', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);

/** Sorts a send failure into the Result's error kinds from undici and Node error codes, looking through `cause`. */
export function errorKind(error: unknown): ErrorKind {
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    const { code, name } = current as { code?: unknown; name?: unknown };
    if (name === 'AbortError' || name === 'TimeoutError') return 'timeout';
    if (typeof code !== 'string') continue;
    if (timeoutCodes.has(code)) return 'timeout';
    if (code === 'ECONNREFUSED') return 'refused';
    if (resetCodes.has(code)) return 'reset';
    if (tlsCodes.has(code) || code.startsWith('CERT_') || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) return 'tls';
  }
  return 'other';
}

/** Failures to reach the shadow at all: the ones worth a retry and the ones the circuit breaker counts. */
export function isConnectionFailure(kind: ErrorKind): boolean {
  return kind === 'refused' || kind === 'reset';
}

export function errorMessage(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message ? message : String(error);
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}
