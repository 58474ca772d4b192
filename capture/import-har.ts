import { randomUUID } from 'node:crypto';
import { JSONParser } from '@streamparser/json';
import { ShadowtapError } from '../shared/errors.js';
import type { Capture, Header } from '../shared/records/types.js';
import { captureV2Defaults, headerValue } from '../shared/records/types.js';
import { boundedBody, type ImportItem, type ImportSource } from './capture-importer.js';
import { endToEndHeaders } from './http-headers.js';

interface HarHeader {
  name: string;
  value: string;
}

interface HarEntry {
  startedDateTime?: string;
  time?: number;
  request?: {
    method?: string;
    url?: string;
    headers?: HarHeader[];
    postData?: { mimeType?: string; text?: string; encoding?: string; params?: { name: string; value?: string }[] };
  };
  response?: {
    status?: number;
    headers?: HarHeader[];
    content?: { text?: string; encoding?: string };
  };
  timings?: Record<string, number>;
}

/** HTTP/2 pseudo-headers (":authority") are not message headers. */
const messageHeaders = (headers: HarHeader[] = []): Header[] =>
  endToEndHeaders(headers.filter((h) => !h.name.startsWith(':')).map((h) => ({ name: h.name, value: String(h.value) })));

const decodeText = (text: string | undefined, encoding: string | undefined): Buffer =>
  text === undefined ? Buffer.alloc(0) : Buffer.from(text, encoding === 'base64' ? 'base64' : 'utf8');

function requestBody(postData: NonNullable<HarEntry['request']>['postData']): Buffer {
  if (!postData) return Buffer.alloc(0);
  if (postData.text !== undefined) return decodeText(postData.text, postData.encoding);
  const params = new URLSearchParams();
  for (const p of postData.params ?? []) params.append(p.name, p.value ?? '');
  return Buffer.from(params.toString());
}

/** Time to first byte: the HAR phases before `receive` that were measured (-1 means not measured). */
function firstByteMs(timings: Record<string, number> | undefined): number | null {
  if (!timings || timings.wait === undefined || timings.wait < 0) return null;
  return ['blocked', 'dns', 'connect', 'send', 'wait'].reduce((sum, phase) => sum + Math.max(0, timings[phase] ?? 0), 0);
}

function entryToItem(entry: HarEntry, source: ImportSource): ImportItem {
  const { request, response } = entry;
  if (!request?.method || !request.url) return { skip: 'entry without request method or url' };
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return { skip: 'invalid request url' };
  }
  const startedMs = Date.parse(entry.startedDateTime ?? '');
  if (Number.isNaN(startedMs)) return { skip: 'invalid startedDateTime' };
  if (!response || !response.status) return { skip: 'no response (status 0: blocked or failed in the browser)' };
  const start = startedMs * 1000;
  const requestHeaders = messageHeaders(request.headers);
  // HAR stores the decoded response body, so the recorded headers must not claim an encoding or length.
  const responseHeaders = messageHeaders(response.headers).filter((h) => !/^content-(encoding|length)$/i.test(h.name));
  const firstByte = firstByteMs(entry.timings);
  const capture: Capture = {
    // Generated: a client's request id may repeat; it is kept as clientRequestId.
    id: randomUUID(),
    captureTime: start,
    agent: source.agent,
    service: source.service,
    request: {
      method: request.method.toUpperCase(),
      path: url.pathname,
      query: url.search.slice(1),
      headers: requestHeaders,
      ...boundedBody(requestBody(request.postData), source.maxBodyBytes),
    },
    response: {
      status: response.status,
      headers: responseHeaders,
      ...boundedBody(decodeText(response.content?.text, response.content?.encoding), source.maxBodyBytes),
    },
    upstreamError: null,
    timings: {
      start,
      firstByte: firstByte === null ? null : Math.round(start + firstByte * 1000),
      end: entry.time === undefined || entry.time < 0 ? null : Math.round(start + entry.time * 1000),
    },
    redactions: [],
    sampling: { rate: 1, mode: 'all' },
    ...captureV2Defaults(),
    clientRequestId: headerValue(requestHeaders, 'x-request-id') ?? null,
  };
  return { capture };
}

/**
 * Turns the entries of a HAR 1.2 file (browser devtools, proxies) into captures. The file (its
 * text, or its chunks as read) is parsed as a stream: each entry of `log.entries` is taken whole
 * and then dropped, so memory holds one entry and one chunk whatever the file's size.
 */
export async function* harItems(file: string | Buffer | AsyncIterable<Buffer>, source: ImportSource, name = 'HAR file'): AsyncGenerator<ImportItem> {
  const parser = new JSONParser({ paths: ['$.log.entries.*', '$.log.entries'], keepStack: false });
  let entries: unknown[] = [];
  let sawEntries = false;
  parser.onValue = ({ value, key, parent }) => {
    if (key === 'entries' && !Array.isArray(parent)) sawEntries = Array.isArray(value);
    else entries.push(value);
  };
  const notJson = (error: unknown) =>
    new ShadowtapError('ST_BAD_INPUT_FILE', `${name} is not JSON (${(error as Error).message}); expected a HAR 1.2 file`);
  const chunks = typeof file === 'string' || Buffer.isBuffer(file) ? [file] : file;
  for await (const chunk of chunks) {
    try {
      parser.write(chunk);
    } catch (error) {
      throw notJson(error);
    }
    const taken = entries;
    entries = [];
    for (const entry of taken) yield entryToItem(entry as HarEntry, source);
  }
  try {
    // A whole document ends the parser by itself; one cut short is refused here.
    if (!parser.isEnded) parser.end();
  } catch (error) {
    throw notJson(error);
  }
  if (!sawEntries) throw new ShadowtapError('ST_BAD_INPUT_FILE', `${name} has no log.entries; expected a HAR 1.2 file`);
}
