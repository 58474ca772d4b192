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

function splitPayloads(file: Buffer): Buffer[] {
  const payloads: Buffer[] = [];
  let from = 0;
  for (let at = file.indexOf(SEPARATOR, from); at !== -1; at = file.indexOf(SEPARATOR, from)) {
    payloads.push(file.subarray(from, at));
    from = at + SEPARATOR.length;
  }
  if (file.subarray(from).toString().trim() !== '') payloads.push(file.subarray(from));
  return payloads;
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

/**
 * Turns a GoReplay .gor file into captures: requests (type 1) paired by id with their original
 * responses (type 2); replayed responses (type 3) are not stable's and are skipped.
 */
export function* goreplayItems(file: Buffer, source: ImportSource, name = 'GoReplay file'): Generator<ImportItem> {
  const requests = new Map<string, { meta: Meta; message: Message; response: { meta: Meta; message: Message } | null }>();
  const order: string[] = [];
  const skipped: string[] = [];
  const payloads = splitPayloads(file);
  if (payloads.length === 0) throw new ShadowtapError('ST_BAD_INPUT_FILE', `${name} holds no GoReplay payloads`);
  for (const payload of payloads) {
    const newline = payload.indexOf('\n');
    const meta = parseMeta(payload.subarray(0, newline === -1 ? payload.length : newline).toString());
    const message = meta && newline !== -1 ? parseMessage(payload.subarray(newline + 1)) : null;
    if (!meta || !message) {
      skipped.push('malformed record');
      continue;
    }
    if (meta.type === '1') {
      if (requests.has(meta.id)) {
        skipped.push('duplicate request id');
        continue;
      }
      requests.set(meta.id, { meta, message, response: null });
      order.push(meta.id);
    } else if (meta.type === '2') {
      const request = requests.get(meta.id);
      if (!request) skipped.push('response without a request');
      else request.response = { meta, message };
    } else if (meta.type === '3') skipped.push('replayed response (type 3)');
    else skipped.push(`unknown payload type ${meta.type}`);
  }
  if (order.length === 0 && skipped.every((s) => s === 'malformed record')) {
    throw new ShadowtapError('ST_BAD_INPUT_FILE', `${name} is not in GoReplay's format (records start with "<type> <id> <timestamp> <latency>")`);
  }
  for (const reason of skipped) yield { skip: reason };
  for (const id of order) {
    const { meta, message, response } = requests.get(id)!;
    const [method, target] = message.startLine;
    const { path, query } = splitTarget(target);
    const start = Number(meta.timestampNs / 1000n);
    const status = response ? Number(response.message.startLine[1]) : NaN;
    const end = response
      ? response.meta.latencyNs > 0n
        ? start + Number(response.meta.latencyNs / 1000n)
        : Number(response.meta.timestampNs / 1000n)
      : null;
    const capture: Capture = {
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
    yield { capture };
  }
}
