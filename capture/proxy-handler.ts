import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, pipeline } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import type { Header } from '../shared/records/types.js';
import { nowMicros } from '../shared/records/types.js';
import type { BodyTap } from './body-tap.js';
import type { CaptureRecorder, Exchange } from './capture-recorder.js';
import { endToEndHeaders, flattenHeaders, headersFromRaw } from './http-headers.js';

export interface ProxyContext {
  recorder: CaptureRecorder;
  pool: Pool;
  /** Path prefix of the upstream URL, without a trailing slash. */
  basePath: string;
  forwardRequestId: boolean;
}

/** Response headers in arrival order; undici keeps the raw list on its controller, else the parsed object is used. */
function responseHeaders(controller: Dispatcher.DispatchController, parsed: Record<string, string | string[] | undefined>): Header[] {
  const raw = (controller as unknown as { rawHeaders?: Buffer[] | null }).rawHeaders;
  if (raw) return headersFromRaw(raw.map((b) => b.toString('latin1')));
  const headers: Header[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.push({ name, value: v });
  }
  return headers;
}

function forwardedHeaders(req: IncomingMessage, exchange: Exchange, ctx: ProxyContext): string[] {
  const out: Header[] = [];
  let forwardedFor: Header | null = null;
  for (const h of endToEndHeaders(headersFromRaw(req.rawHeaders))) {
    const lower = h.name.toLowerCase();
    // undici sets Host from the upstream; node has already answered Expect: 100-continue itself.
    if (lower === 'host' || lower === 'expect') continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = { name: h.name, value: h.value };
      out.push(forwardedFor);
    } else out.push(h);
  }
  const client = req.socket.remoteAddress ?? 'unknown';
  if (forwardedFor) forwardedFor.value = `${forwardedFor.value}, ${client}`;
  else out.push({ name: 'x-forwarded-for', value: client });
  if (req.headers.host && !req.headers['x-forwarded-host']) out.push({ name: 'x-forwarded-host', value: req.headers.host });
  if (!req.headers['x-forwarded-proto']) out.push({ name: 'x-forwarded-proto', value: 'http' });
  if (ctx.forwardRequestId && !exchange.idFromRequest) {
    out.push({ name: ctx.recorder.options.requestIdHeader, value: exchange.id });
  }
  return flattenHeaders(out);
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function describe(error: Error): string {
  const code = (error as { code?: string }).code;
  return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}

/**
 * Forwards one request to stable and streams stable's answer back untouched, teeing both bodies
 * into bounded buffers; the capture is built once the exchange is over.
 */
export function proxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const receivedAt = performance.now();
  const { recorder } = ctx;
  const exchange = recorder.begin('proxy', req.method ?? 'GET', req.url ?? '/', req.rawHeaders, req.headers);
  const recording = exchange.sampling.sampled;
  const requestBody = recorder.bodyTap();
  const responseBody = recorder.bodyTap();
  let response: { status: number; headers: Header[]; body: BodyTap } | null = null;
  let firstByte: number | null = null;
  let controller: Dispatcher.DispatchController | null = null;
  let clientGone = false;
  let finished = false;
  let dispatchedAt = 0;

  const finish = (error: Error | null) => {
    if (finished) return;
    finished = true;
    recorder.complete(exchange, {
      requestBody,
      response,
      upstreamError: error ? describe(error) : null,
      firstByte,
      end: nowMicros(),
    });
  };

  res.on('close', () => {
    if (res.writableFinished) return;
    clientGone = true;
    controller?.abort(new Error('client closed the connection'));
  });

  let body: Transform | null = null;
  if (hasBody(req)) {
    body = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (recording) requestBody.add(chunk);
        callback(null, chunk);
      },
    });
    // On a client abort pipeline destroys `body`, which makes undici abort the upstream request.
    pipeline(req, body, () => {});
  }

  const target = req.url?.startsWith('/') ? req.url : `${exchange.path}${exchange.query ? `?${exchange.query}` : ''}`;
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (clientGone) c.abort(new Error('client closed the connection'));
    },
    onResponseStart(c, statusCode, headers, statusMessage) {
      // Informational answers (100, 103) are not relayed: node answers Expect itself.
      if (statusCode < 200) return;
      const headersAt = performance.now();
      firstByte = nowMicros();
      const all = responseHeaders(c, headers);
      response = { status: statusCode, headers: all, body: responseBody };
      try {
        res.writeHead(statusCode, statusMessage || undefined, flattenHeaders(endToEndHeaders(all)));
      } catch (error) {
        // A head node refuses to send (an invalid header from stable) becomes a 502, like an unreachable stable.
        response = null;
        c.abort(error as Error);
        return;
      }
      recorder.metrics.observeAddedLatency((dispatchedAt - receivedAt + performance.now() - headersAt) / 1000);
    },
    onResponseData(c, chunk) {
      if (recording) responseBody.add(chunk);
      if (res.destroyed) return;
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      // HTTP trailers are not relayed: node would need them declared before the body started.
      res.end();
      finish(null);
    },
    onResponseError(_c, error) {
      if (!res.headersSent && !res.destroyed) {
        const text = `shadowtap: stable did not answer (${(error as { code?: string }).code ?? 'error'})\n`;
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
      } else {
        // Headers already went out: cutting the connection is how the client learns the body is incomplete.
        res.destroy();
      }
      finish(clientGone ? new Error('client closed the connection') : error);
    },
  };
  res.sendDate = false;
  dispatchedAt = performance.now();
  try {
    ctx.pool.dispatch(
      { path: `${ctx.basePath}${target}`, method: (req.method ?? 'GET') as Dispatcher.HttpMethod, headers: forwardedHeaders(req, exchange, ctx), body },
      handler,
    );
  } catch (error) {
    handler.onResponseError!(controller!, error as Error);
  }
}
