import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, pipeline } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { configError } from '../shared/errors.js';
import { parseHttpUrl } from '../shared/http/http-url.js';
import type { Header } from '../shared/records/types.js';
import { nowMicros } from '../shared/records/types.js';
import type { BodyTap } from '../shared/http/body-tap.js';
import type { CaptureModeFactory } from './capture-mode.js';
import { captureServerDefaults } from './capture-options.js';
import type { CaptureRecorder, Exchange } from './capture-recorder.js';
import { endToEndFromRaw, flattenHeaders, hasBody } from './http-headers.js';
import { tunnelUpgrade } from './upgrade-tunnel.js';

export interface ProxyModeOptions {
  /** Stable's URL; a path in it is prefixed to every request path. */
  upstream: string;
  /** Send the generated request id to stable when the request had none. */
  forwardRequestId?: boolean;
  /**
   * Send stable the upstream URL's host as Host (as nginx's proxy_pass does) instead of the
   * client's (as Envoy and Istio sidecars do, the default): stable then builds absolute URLs from
   * an address the client never used, and the capture records that.
   */
  rewriteHost?: boolean;
  /** How long stable may take to start its answer, or stay silent mid-body, before the client gets 504. */
  upstreamTimeoutMs?: number;
}

/** Reverse-proxy mode: forwards each request to stable and records the exchange; Upgrades are tunnelled. */
export function proxyMode(options: ProxyModeOptions): CaptureModeFactory {
  const upstream = parseHttpUrl(options.upstream, 'upstream', 'http://stable:8080', configError);
  const basePath = upstream.pathname.replace(/\/$/, '');
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? captureServerDefaults.upstreamTimeoutMs;
  return (recorder, { maxHeaderBytes }) => {
    const pool = new Pool(upstream.origin, { maxHeaderSize: maxHeaderBytes, headersTimeout: upstreamTimeoutMs, bodyTimeout: upstreamTimeoutMs });
    const ctx: ProxyContext = {
      recorder,
      pool,
      upstreamHost: upstream.host,
      keepClientHost: !(options.rewriteHost ?? captureServerDefaults.rewriteHost),
      basePath,
      upstreamTimeoutMs,
      forwardRequestId: options.forwardRequestId ?? captureServerDefaults.forwardRequestId,
    };
    return {
      describe: { upstream: upstream.origin },
      request: (req, res) => proxyRequest(ctx, req, res),
      upgrade: (req, socket, head) => tunnelUpgrade(upstream, basePath, req, socket, head),
      close: () => pool.close(),
    };
  };
}

export interface ProxyContext {
  recorder: CaptureRecorder;
  pool: Pool;
  /** The upstream URL's host: sent as Host with --rewrite-host, or when the client sent none. */
  upstreamHost: string;
  /** Keep the client's Host, as a sidecar does (the default). */
  keepClientHost: boolean;
  /** Path prefix of the upstream URL, without a trailing slash. */
  basePath: string;
  forwardRequestId: boolean;
  /** How long stable may take to start its answer, and to send each next piece of its body. */
  upstreamTimeoutMs: number;
}

const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

const clientClosed = 'client closed the connection';

/**
 * The headers stable is sent, in order, which are also what the capture records (so a replay
 * sends the shadow what stable got): the client's end-to-end headers (Host kept, unless
 * --rewrite-host sets the upstream's), X-Forwarded-For/-Host/-Proto, and the generated request id
 * when asked for.
 */
function forwardedHeaders(req: IncomingMessage, exchange: Exchange, ctx: ProxyContext): Header[] {
  const headers: Header[] = [{ name: 'host', value: (ctx.keepClientHost && req.headers.host) || ctx.upstreamHost }];
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
    const code = (error as { code?: string }).code;
    if (code && timeoutCodes.has(code)) {
      // Recorded as a timeout in words, so the capture says what the client met.
      error = Object.assign(new Error(`timeout: stable sent nothing for ${this.ctx.upstreamTimeoutMs / 1000} s (--upstream-timeout)`), { code });
    }
    if (!res.headersSent && !res.destroyed) {
      const timedOut = code !== undefined && timeoutCodes.has(code);
      const text = timedOut ? `shadowtap: stable did not answer within ${this.ctx.upstreamTimeoutMs / 1000} s\n` : `shadowtap: stable did not answer (${code ?? 'error'})\n`;
      res.writeHead(timedOut ? 504 : 502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
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
