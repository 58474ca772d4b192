import { STATUS_CODES } from 'node:http';
import type { StandIn } from './outbound-policy.js';

/** On every stand-in answer, so the shadow's own code (and its logs) can tell it was not sent. */
export const standInHeader = 'x-shadowtap-stand-in';

/** The stand-in's headers as name/value pairs, without names or values that could break a message. */
export function standInHeaders(standIn: StandIn, bodyLength: number): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(standIn.headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'connection' || lower === 'transfer-encoding') continue;
    if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) && !/[\r\n\0]/.test(value)) headers.push([lower, value]);
  }
  headers.push(['content-length', String(bodyLength)], [standInHeader, '1']);
  return headers;
}

export function standInBody(standIn: StandIn): Buffer {
  const body = standIn.body ?? '';
  return typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** The stand-in as an HTTP/1.1 response message, for node:http's own parser to read. */
export function standInMessage(standIn: StandIn, head: boolean): Buffer {
  const body = standInBody(standIn);
  const lines = [`HTTP/1.1 ${standIn.status} ${STATUS_CODES[standIn.status] ?? 'Stand-in'}`];
  for (const [name, value] of standInHeaders(standIn, body.length)) lines.push(`${name}: ${value}`);
  lines.push('connection: close', '', '');
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), head ? Buffer.alloc(0) : body]);
}
