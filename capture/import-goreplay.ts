import { randomUUID } from 'node:crypto';
import { ShadowtapError } from '../shared/errors.js';
import type { Capture, Header } from '../shared/records/types.js';
import { captureV2Defaults, headerValue } from '../shared/records/types.js';
import { boundedBody, type ImportItem, type ImportSource } from './capture-importer.js';
import { endToEndHeaders, splitTarget } from './http-headers.js';

/** GoReplay writes this line between payloads. */
const SEPARATOR = Buffer.from('\n🐵🙈🙉\n');

interface Meta {
  type: string;
  id: string;
  timestampNs: bigint;
  latencyNs: bigint;
}

interface Message {
  startLine: string[];
  headers: Header[];
  body: Buffer;
}

/**
 * The payloads of a GoReplay file read chunk by chunk: bytes are gathered in one buffer that
 * doubles when it must (a payload larger than a chunk costs linear time, not quadratic) and is
 * compacted only once payloads were taken from it. Each payload is a copy of its own.
 */
async function* payloadsOf(chunks: Iterable<Buffer> | AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let buf = Buffer.alloc(1 << 16);
  let length = 0;
  let searchFrom = 0;
  for await (const chunk of chunks) {
    if (length + chunk.length > buf.length) {
      const larger = Buffer.alloc(Math.max(2 * buf.length, length + chunk.length));
      buf.copy(larger, 0, 0, length);
      buf = larger;
    }
    chunk.copy(buf, length);
    length += chunk.length;
    let from = 0;
    for (let at = buf.indexOf(SEPARATOR, searchFrom); at !== -1 && at + SEPARATOR.length <= length; at = buf.indexOf(SEPARATOR, from)) {
      yield Buffer.from(buf.subarray(from, at));
      from = at + SEPARATOR.length;
    }
    if (from > 0) {
      buf.copyWithin(0, from, length);
      length -= from;
    }
    // A separator may straddle this chunk and the next.
    searchFrom = Math.max(0, length - SEPARATOR.length + 1);
  }
  const rest = buf.subarray(0, length);
  if (rest.toString().trim() !== '') yield Buffer.from(rest);
}

function parseMeta(line: string): Meta | null {
  const match = /^(\d) (\S+) (\d+) (-?\d+)$/.exec(line.trim());
  if (!match) return null;
  return { type: match[1], id: match[2], timestampNs: BigInt(match[3]), latencyNs: BigInt(match[4]) };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = parseInt(body.subarray(at, lineEnd).toString().split(';')[0], 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Parses a raw HTTP/1.x message as GoReplay recorded it off the wire. */
function parseMessage(raw: Buffer): Message | null {
  let headEnd = raw.indexOf('\r\n\r\n');
  let gap = 4;
  if (headEnd === -1) {
    headEnd = raw.indexOf('\n\n');
    gap = 2;
  }
  const head = (headEnd === -1 ? raw : raw.subarray(0, headEnd)).toString('latin1').split(/\r?\n/);
  const startLine = head[0]?.split(' ') ?? [];
  if (startLine.length < 2) return null;
  const headers: Header[] = [];
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  let body = headEnd === -1 ? Buffer.alloc(0) : raw.subarray(headEnd + gap);
  if (/chunked/i.test(headerValue(headers, 'transfer-encoding') ?? '')) body = dechunk(body);
  else {
    const length = Number(headerValue(headers, 'content-length'));
    if (Number.isInteger(length) && length >= 0) body = body.subarray(0, length);
  }
  return { startLine, headers: endToEndHeaders(headers), body };
}

/** Requests waiting for their response at most; past it the oldest is imported without one. */
const maxPendingRequests = 10_000;
/** Ids of requests imported without a response that are remembered, to name a response that comes too late. */
const maxLateIds = 100_000;

type Pending = { meta: Meta; message: Message; response: { meta: Meta; message: Message } | null };

/**
 * Turns a GoReplay .gor file (its bytes, or its chunks as read) into captures: requests (type 1)
 * paired by id with their original responses (type 2); replayed responses (type 3) are not
 * stable's and are skipped. Streamed in bounded memory: a request is imported once its response
 * came, or without one when more than maxPendingRequests requests wait behind it (a response
 * that comes later still is skipped and named).
 */
export async function* goreplayItems(file: Buffer | AsyncIterable<Buffer>, source: ImportSource, name = 'GoReplay file'): AsyncGenerator<ImportItem> {
  const pending = new Map<string, Pending>();
  const late = new Set<string>();
  let payloads = 0;
  let captures = 0;
  let malformed = 0;
  const importOldest = (): ImportItem => {
    const [id, request] = pending.entries().next().value as [string, Pending];
    pending.delete(id);
    if (!request.response) {
      late.add(id);
      if (late.size > maxLateIds) late.delete(late.values().next().value as string);
    }
    captures++;
    return { capture: toCapture(request, source) };
  };
  for await (const payload of payloadsOf(Buffer.isBuffer(file) ? [file] : file)) {
    payloads++;
    const newline = payload.indexOf('\n');
    const meta = parseMeta(payload.subarray(0, newline === -1 ? payload.length : newline).toString());
    const message = meta && newline !== -1 ? parseMessage(payload.subarray(newline + 1)) : null;
    if (!meta || !message) {
      malformed++;
      yield { skip: 'malformed record' };
      continue;
    }
    if (meta.type === '1') {
      if (pending.has(meta.id)) {
        yield { skip: 'duplicate request id' };
        continue;
      }
      pending.set(meta.id, { meta, message, response: null });
      if (pending.size > maxPendingRequests) yield importOldest();
    } else if (meta.type === '2') {
      const request = pending.get(meta.id);
      if (request) request.response = { meta, message };
      else yield { skip: late.has(meta.id) ? `response more than ${maxPendingRequests} requests after its request` : 'response without a request' };
    } else if (meta.type === '3') yield { skip: 'replayed response (type 3)' };
    else yield { skip: `unknown payload type ${meta.type}` };
    // Requests are imported in their order, each as soon as it and those before it are answered.
    while (pending.size > 0 && pending.values().next().value!.response) yield importOldest();
  }
  if (payloads === 0) throw new ShadowtapError('ST_BAD_INPUT_FILE', `${name} holds no GoReplay payloads`);
  if (captures === 0 && pending.size === 0 && malformed === payloads) {
    throw new ShadowtapError('ST_BAD_INPUT_FILE', `${name} is not in GoReplay's format (records start with "<type> <id> <timestamp> <latency>")`);
  }
  while (pending.size > 0) yield importOldest();
}

function toCapture({ meta, message, response }: Pending, source: ImportSource): Capture {
  const [method, target] = message.startLine;
  const { path, query } = splitTarget(target);
  const start = Number(meta.timestampNs / 1000n);
  const status = response ? Number(response.message.startLine[1]) : NaN;
  const end = response
    ? response.meta.latencyNs > 0n
      ? start + Number(response.meta.latencyNs / 1000n)
      : Number(response.meta.timestampNs / 1000n)
    : null;
  return {
    // Generated: GoReplay's ids are unique within one recording only, a client's may repeat.
    id: randomUUID(),
    captureTime: start,
    agent: source.agent,
    service: source.service,
    request: { method, path, query, headers: message.headers, ...boundedBody(message.body, source.maxBodyBytes) },
    response:
      response && Number.isInteger(status)
        ? { status, headers: response.message.headers, ...boundedBody(response.message.body, source.maxBodyBytes) }
        : null,
    upstreamError: null,
    timings: { start, firstByte: null, end },
    redactions: [],
    sampling: { rate: 1, mode: 'all' },
    ...captureV2Defaults(),
    clientRequestId: headerValue(message.headers, 'x-request-id') ?? null,
  };
}
