import type { ServerResponse } from 'node:http';
import type { Header } from '../shared/records/types.js';

/**
 * Calls `onHead` with the headers of the response head once node has written it, learnt through
 * public API only: what the app set and gave writeHead as node merged them (getRawHeaderNames
 * keeps the case the app used), plus the Date and Content-Length node adds on its own.
 * `wholeBody()` says the body's length when end() writes the head with the whole body (node then
 * sends Content-Length instead of chunking).
 */
export function onResponseHead(res: ServerResponse, wholeBody: () => number | undefined, onHead: (headers: Header[]) => void): void {
  const writeHead = res.writeHead;
  // writeHead is also what write()/end() call for an implicit head.
  res.writeHead = function (this: ServerResponse) {
    const result = (writeHead as (...args: unknown[]) => ServerResponse).apply(this, arguments as unknown as unknown[]);
    onHead(headersOf(this, arguments, wholeBody()));
    return result;
  } as ServerResponse['writeHead'];
}

function headersOf(res: ServerResponse, args: ArrayLike<unknown>, wholeBody: number | undefined): Header[] {
  // Headers set before writeHead are where node merged writeHead's own into; without them node
  // wrote writeHead's as given.
  const set = setHeaders(res);
  const headers = set.length > 0 ? set : givenHeaders(typeof args[1] === 'string' ? args[2] : args[1]);
  const has = (name: string) => headers.some((h) => h.name.toLowerCase() === name);
  const status = res.statusCode;
  const auto: Header[] = [];
  if (res.sendDate && !has('date')) auto.push({ name: 'Date', value: new Date().toUTCString() });
  // node sends a body given whole to end() with its length, unless the head says how it is framed,
  // the answer has no body (HEAD, 1xx, 204, 304) or the client speaks HTTP/1.0.
  const bodiless = res.req?.method === 'HEAD' || status < 200 || status === 204 || status === 304;
  const http11 = res.req === undefined || res.req.httpVersion !== '1.0';
  if (wholeBody !== undefined && !bodiless && http11 && !has('content-length') && !has('transfer-encoding') && !has('trailer')) {
    auto.push({ name: 'Content-Length', value: String(wholeBody) });
  }
  return [...headers, ...auto];
}

/** The headers set with setHeader()/appendHeader(), in order, one entry a value. */
function setHeaders(res: ServerResponse): Header[] {
  const out: Header[] = [];
  // A public method of every OutgoingMessage (node ≥ 14.17); @types/node declares it on ClientRequest only.
  const names = (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
  for (const name of names) pushValues(out, name, res.getHeader(name));
  return out;
}

/** writeHead's headers alone: an object, a flat [name, value, …] list or [name, value] pairs, in order. */
function givenHeaders(given: unknown): Header[] {
  const out: Header[] = [];
  if (Array.isArray(given)) {
    if (Array.isArray(given[0])) for (const [name, value] of given as [string, unknown][]) pushValues(out, name, value);
    else for (let i = 0; i + 1 < given.length; i += 2) pushValues(out, String(given[i]), given[i + 1]);
  } else if (given && typeof given === 'object') {
    for (const [name, value] of Object.entries(given)) if (name) pushValues(out, name, value);
  }
  return out;
}

function pushValues(out: Header[], name: string, value: unknown): void {
  if (value === undefined) return;
  for (const v of Array.isArray(value) ? value : [value]) out.push({ name, value: String(v) });
}
