/**
 * Values that differ between any two runs of the same code: clocks, generated ids, tokens,
 * counters. When both sides of a difference look like the same kind of such value, the
 * difference is noise, not a regression. Both sides must match, so a timestamp turning into a
 * number, or a uuid into null, stays a real difference.
 */
export type NoiseReason = 'timestamp' | 'uuid' | 'token' | 'counter' | 'embedded-id';

const isoTimestamp = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;
const httpDate = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const hexToken = /^[0-9a-f]{16,}$/i;
const base64Token = /^[A-Za-z0-9+/_-]{20,}={0,2}$/;
const jwt = /^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}$/;
const counterName = /(?:count(?:er)?|seq(?:uence)?|nonce|uptime|revision|hits|version)$/i;

const YEAR_SECONDS = 365 * 86400;

/** Epoch seconds or milliseconds within ten years before and one year after now. */
function epochUnit(value: number, nowMs: number): 's' | 'ms' | undefined {
  if (!Number.isFinite(value) || value <= 0) return undefined;
  const nowS = nowMs / 1000;
  if (value > nowS - 10 * YEAR_SECONDS && value < nowS + YEAR_SECONDS) return 's';
  if (value > nowMs - 10 * YEAR_SECONDS * 1000 && value < nowMs + YEAR_SECONDS * 1000) return 'ms';
  return undefined;
}

function stringKind(value: string): NoiseReason | undefined {
  if (isoTimestamp.test(value) || httpDate.test(value)) return 'timestamp';
  if (uuid.test(value)) return 'uuid';
  if (jwt.test(value)) return 'token';
  if (hexToken.test(value) && /\d/.test(value)) return 'token';
  if (base64Token.test(value) && /\d/.test(value) && /[A-Za-z]/.test(value)) return 'token';
  return undefined;
}

const embedded = [
  /\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/gi,
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi,
  /\b(?=[0-9a-f]*\d)[0-9a-f]{16,}\b/gi,
  /\b\d{10,13}\b/g,
];

/** Every pattern above needs a digit, but the uuid, which needs dashes: text with neither has nothing to mask. */
const maskable = /[\d-]/;

/** The text with timestamps, uuids, hex ids and epoch numbers replaced by one placeholder each. */
export function maskVolatile(text: string): string {
  if (!maskable.test(text)) return text;
  let out = text;
  for (const pattern of embedded) out = out.replace(pattern, '\u0000');
  return out;
}

/**
 * Why a stable/shadow value pair is noise, or undefined when it is a real difference.
 * `key` is the last field name on the path, used to recognise counters.
 */
export function noiseReason(stable: unknown, shadow: unknown, key?: string, nowMs = Date.now()): NoiseReason | undefined {
  if (typeof stable === 'string' && typeof shadow === 'string') {
    const kind = stringKind(stable);
    if (kind && kind === stringKind(shadow) && (kind !== 'token' || stable.length === shadow.length)) return kind;
    if (stable !== shadow && maskVolatile(stable) === maskVolatile(shadow)) return 'embedded-id';
    return undefined;
  }
  if (typeof stable === 'number' && typeof shadow === 'number') {
    if (Number.isInteger(stable) && Number.isInteger(shadow)) {
      const unit = epochUnit(stable, nowMs);
      if (unit && unit === epochUnit(shadow, nowMs)) return 'timestamp';
      if (key !== undefined && counterName.test(key)) return 'counter';
    }
  }
  return undefined;
}
