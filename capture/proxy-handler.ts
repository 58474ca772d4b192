import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, pipeline } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import type { Header } from '../shared/records/types.js';
import { nowMicros } from '../shared/records/types.js';
import type { BodyTap } from './body-tap.js';
import type { CaptureRecorder, Exchange } from './capture-recorder.js';
import { endToEndFromRaw, flattenHeaders, hasBody } from './http-headers.js';

export interface ProxyContext {
  recorder: CaptureRecorder;
  pool: Pool;
  /** The Host stable is sent: the upstream URL's, as undici would set it. */
  upstreamHost: string;
  /** Path prefix of the upstream URL, without a trailing slash. */
  basePath: string;
  forwardRequestId: boolean;
}

const clientClosed = 'client closed the connection';

/**
 * The headers stable is sent, in order, which are also what the capture records (so a replay
 * sends the shadow what stable got): the client's end-to-end headers with Host set to the
 * upstream's, X-Forwarded-For/-Host/-Proto, and the generated request id when asked for.
 */
function forwardedHeaders(req: IncomingMessage, exchange: Exchange, ctx: ProxyContext): Header[] {
  const headers: Header[] = [{ name: 'host', value: ctx.upstreamHost }];
  let forwardedFor = -1;
  for (const h of exchange.requestHeaders) {
    const lower = h.name.toLowerCase();
    // Node has already answered Expect: 100-continue itself.
    if (lower === 'host' || lower === 'expect') continue;
    if (lower === 'x-forwarded-for') forwardedFor = headers.length;
    headers.push(h);
  }
  const client = req.socket.remoteAddress ?? 'unknown';
  if (forwardedFor >= 0) headers[forwardedFor] = { name: headers[forwardedFor].name, value: `${headers[forwardedFor].value}, ${client}` };
  else headers.push({ name: 'x-forwarded-for', value: client });
  if (req.headers.host && !req.headers['x-forwarded-host']) headers.push({ name: 'x-forwarded-host', value: req.headers.host });
  if (!req.headers['x-forwarded-proto']) headers.push({ name: 'x-forwarded-proto', value: 'http' });
  if (ctx.forwardRequestId && !exchange.clientRequestId) headers.push({ name: ctx.recorder.options.requestIdHeader, value: exchange.id });
  return headers;
}

async function* chunksOf(stream: Transform): AsyncIterable<Buffer> {
  for await (const chunk of stream) yield chunk as Buffer;
}

function describe(error: Error): string {
  const code = (error as { code?: string }).code;
  return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}

/**
 * One request on its way to stable and back. It is undici's handler itself, written against
 * the callbacks undici's client calls directly (onConnect/onHeaders/onData/...): the newer
 * onResponse* interface is adapted to them by a wrapper that parses every response head into an
 * object, which this proxy never needs. State lives in fields, not in per-request closures.
 */
class ProxyExchange implements Dispatcher.DispatchHandler {
  private readonly recording: boolean;
  private readonly requestBody: BodyTap;
  private readonly responseBody: BodyTap;
  private response: { status: number; headers: Header[]; body: BodyTap } | null = null;
  private firstByte: number | null = null;
  private abortUpstream: ((error: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private clientGone = false;
  private finished = false;
  private dispatchedAt = 0;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly exchange: Exchange,
    private readonly res: ServerResponse,
    private readonly receivedAt: number,
  ) {
    this.recording = exchange.sampling.sampled;
    this.requestBody = ctx.recorder.bodyTap();
    this.responseBody = ctx.recorder.bodyTap();
  }

  start(req: IncomingMessage): void {
    const { res, exchange, ctx } = this;
    res.on('close', () => {
      if (res.writableFinished) return;
      this.clientGone = true;
      this.abortUpstream?.(new Error(clientClosed));
    });
    let body: Transform | AsyncIterable<Buffer> | null = null;
    if (hasBody(req)) {
      const { recording, requestBody } = this;
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          if (recording) requestBody.add(chunk);
          callback(null, chunk);
        },
      });
      // On a client abort pipeline destroys `tap`, which makes undici abort the upstream request.
      pipeline(req, tap, () => {});
      // A body sent without a length goes to stable chunked, as it came: given the stream itself,
      // undici would send a length whenever the body had all arrived before it wrote the head,
      // which neither the capture nor a replay could know.
      body = req.headers['content-length'] === undefined ? chunksOf(tap) : tap;
    }
    const target = req.url?.startsWith('/') ? req.url : `${exchange.path}${exchange.query ? `?${exchange.query}` : ''}`;
    // The capture records the request as stable receives it: upstream path prefix and headers included.
    exchange.path = `${ctx.basePath}${exchange.path}`;
    exchange.requestHeaders = forwardedHeaders(req, exchange, ctx);
    res.sendDate = false;
    this.dispatchedAt = performance.now();
    try {
      ctx.pool.dispatch(
        // undici takes an async iterable body too, though its types list fewer.
        { path: `${ctx.basePath}${target}`, method: (req.method ?? 'GET') as Dispatcher.HttpMethod, headers: flattenHeaders(exchange.requestHeaders), body: body as Transform | null },
        this,
      );
    } catch (error) {
      this.onError(error as Error);
    }
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort(new Error(clientClosed));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // Informational answers (100, 103) are not relayed: node answers Expect itself.
    if (statusCode < 200) return true;
    const headersAt = performance.now();
    this.firstByte = nowMicros();
    this.resumeUpstream = resume;
    const raw = new Array<string>(rawHeaders.length);
    for (let i = 0; i < rawHeaders.length; i++) raw[i] = rawHeaders[i].toString('latin1');
    const headers = endToEndFromRaw(raw);
    this.response = { status: statusCode, headers, body: this.responseBody };
    try {
      this.res.writeHead(statusCode, statusText || undefined, flattenHeaders(headers));
    } catch (error) {
      // A head node refuses to send (an invalid header from stable) becomes a 502, like an unreachable stable.
      this.response = null;
      this.abortUpstream?.(error as Error);
      return false;
    }
    this.ctx.recorder.metrics.observeAddedLatency((this.dispatchedAt - this.receivedAt + performance.now() - headersAt) / 1000);
    return true;
  }

  onData(chunk: Buffer): boolean {
    const { res } = this;
    const flowing = res.destroyed || res.write(chunk);
    // Copied and hashed once the chunk is on its way to the client, not before.
    if (this.recording) this.responseBody.add(chunk);
    if (flowing) return true;
    res.once('drain', this.resumeUpstream!);
    return false;
  }

  onComplete(): void {
    // HTTP trailers are not relayed: node would need them declared before the body started.
    this.res.end();
    this.finish(null);
  }

  onError(error: Error): void {
    const { res } = this;
    if (!res.headersSent && !res.destroyed) {
      const text = `shadowtap: stable did not answer (${(error as { code?: string }).code ?? 'error'})\n`;
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
    } else {
      // Headers already went out: cutting the connection is how the client learns the body is incomplete.
      res.destroy();
    }
    this.finish(this.clientGone ? new Error(clientClosed) : error);
  }

  private finish(error: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.ctx.recorder.complete(this.exchange, {
      requestBody: this.requestBody,
      response: this.response,
      upstreamError: error ? describe(error) : null,
      firstByte: this.firstByte,
      end: nowMicros(),
    });
  }
}

/**
 * Forwards one request to stable and streams stable's answer back untouched, teeing both bodies
 * into bounded buffers; the capture is built once the exchange is over.
 */
export function proxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const receivedAt = performance.now();
  const exchange = ctx.recorder.begin('proxy', req.method ?? 'GET', req.url ?? '/', req.rawHeaders, req.headers);
  new ProxyExchange(ctx, exchange, res, receivedAt).start(req);
}
