import { isUnsafeMethod } from '../shared/records/side-effects.js';

/** The answer a blocked call gets instead of the real one. */
export interface StandIn {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** An outbound call as the guard sees it. */
export interface OutboundCall {
  method: string;
  /** scheme://host:port */
  origin: string;
  path: string;
}

export interface OutboundPolicyOptions {
  /**
   * Calls sent even in shadow context, whatever their method: `"POST http://validator:8080"`,
   * `"http://sandbox.payments"` (any method), `"PUT *"`.
   */
  allow?: readonly string[];
  /** Calls never sent in shadow context, safe methods included; deny wins over allow. */
  deny?: readonly string[];
  /**
   * Safe calls to an origin go to its read-only copy instead: `{ 'http://orders-db-api': 'http://orders-replica-api' }`.
   * Both sides of a pair use the same scheme (node:http cannot switch between http and https).
   */
  readOnlyOrigins?: Readonly<Record<string, string>>;
  /** What a blocked call answers: one answer, or one per call. */
  standIn?: StandIn | ((call: OutboundCall) => StandIn);
}

export const defaultStandIn: StandIn = {
  status: 202,
  headers: { 'content-type': 'application/json' },
  body: '{"shadowtap":"stand-in: this call was not sent by the shadow"}',
};

export type Decision = { action: 'send'; origin: string } | { action: 'block'; standIn: StandIn };

interface Rule {
  method: string | '*';
  origin: string | '*';
}

export interface OutboundPolicy {
  decide(call: OutboundCall): Decision;
}

/** Validates the options once; a mistake throws one TypeError naming the entry and the expected form. */
export function createOutboundPolicy(options: OutboundPolicyOptions = {}): OutboundPolicy {
  const allow = (options.allow ?? []).map((entry) => parseRule(entry, 'allow'));
  const deny = (options.deny ?? []).map((entry) => parseRule(entry, 'deny'));
  const readOnly = new Map<string, string>();
  for (const [from, to] of Object.entries(options.readOnlyOrigins ?? {})) {
    const source = parseOrigin(from, 'readOnlyOrigins');
    const target = parseOrigin(to, 'readOnlyOrigins');
    if (new URL(source).protocol !== new URL(target).protocol) {
      throw new TypeError(`shadowtap/shadow readOnlyOrigins: ${from} and ${to} must use the same scheme`);
    }
    readOnly.set(source, target);
  }
  const standIn = options.standIn ?? defaultStandIn;
  const matches = (rules: Rule[], call: OutboundCall, method: string) =>
    rules.some((r) => (r.method === '*' || r.method === method) && (r.origin === '*' || r.origin === call.origin));
  return {
    decide(call) {
      const method = call.method.toUpperCase();
      const block = deny.length > 0 && matches(deny, call, method);
      if (!block && (!isUnsafeMethod(method) || matches(allow, call, method))) {
        return { action: 'send', origin: isUnsafeMethod(method) ? call.origin : (readOnly.get(call.origin) ?? call.origin) };
      }
      return { action: 'block', standIn: typeof standIn === 'function' ? standIn(call) : standIn };
    },
  };
}

function parseRule(entry: string, list: string): Rule {
  const parts = entry.trim().split(/\s+/);
  const form = `use "METHOD origin", "origin" or "METHOD *", e.g. "POST http://validator:8080"`;
  if (parts.length === 1 && parts[0]) {
    return /^[A-Za-z]+$/.test(parts[0]) ? { method: parts[0].toUpperCase(), origin: '*' } : { method: '*', origin: parseOrigin(parts[0], list) };
  }
  if (parts.length === 2 && /^([A-Za-z]+|\*)$/.test(parts[0]!)) {
    return { method: parts[0]!.toUpperCase(), origin: parts[1] === '*' ? '*' : parseOrigin(parts[1]!, list) };
  }
  throw new TypeError(`shadowtap/shadow ${list} entry "${entry}": ${form}`);
}

function parseOrigin(value: string, list: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  } catch {
    // Reported below with the expected form.
  }
  throw new TypeError(`shadowtap/shadow ${list}: "${value}" is not an http(s) origin such as http://mail:8025`);
}
