import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Header } from '../shared/records/types.js';
import { nowMicros } from '../shared/records/types.js';
import { controlEntry, observedKind } from '../shared/records/side-effects.js';
import { EffectLog } from '../shadow/effect-log.js';
import { installHttpGuard } from '../shadow/outbound-http.js';
import { installFetchGuard } from '../shadow/outbound-undici.js';
import { addResumeHook, beforeHead, enterScope } from '../shadow/request-scope.js';
import { BodyTap } from '../shared/http/body-tap.js';
import { captureServerDefaults, type RecorderOptions } from './capture-options.js';
import type { CaptureCounters } from './capture-metrics.js';
import { CaptureRecorder } from './capture-recorder.js';
import { endToEndHeaders, hasBody } from './http-headers.js';
import { onResponseHead } from './response-head.js';

export interface CaptureMiddlewareOptions extends RecorderOptions {
  /** How long close() waits for the queue to drain. */
  drainTimeoutMs?: number;
  /**
   * Record the outbound calls (fetch, undici, node:http/https) and guard() actions the app makes
   * for each request before its response head, into Capture.sideEffects (default true). Observed
   * only: nothing is blocked or changed.
   */
  sideEffects?: boolean;
}

export interface CaptureMiddleware {
  /** node:http and Express signature; `next` is called at once, recording happens on the side. */
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  readonly metrics: CaptureCounters;
  readonly registry: Registry;
  /** Drains the queue into the sink within the deadline. The sink stays open. */
  close(): Promise<void>;
}

type Chunk = string | Uint8Array;

function toBuffer(chunk: Chunk, encoding?: BufferEncoding): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Copies request body chunks as node's HTTP parser hands them over, whoever reads them and when. */
function tapRequestBody(req: IncomingMessage, tap: BodyTap): void {
  const push = req.push;
  req.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null && chunk !== undefined) tap.add(toBuffer(chunk as Chunk, encoding));
    return push.call(this, chunk, encoding);
  };
}

/**
 * Copies what the app writes, leaving write()/end() semantics as they were. The originals are
 * called with `arguments` as given: no bound functions or rest arrays on every request.
 */
function tapResponseBody(res: ServerResponse, tap: BodyTap, watch: { firstByte(): void; wholeBody(bytes: number): void }): void {
  const { write, end } = res;
  let wrote = false;
  const take = (chunk: unknown, encoding: unknown) => {
    watch.firstByte();
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return 0;
    const bytes = toBuffer(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);
    tap.add(bytes);
    return bytes.length;
  };
  res.write = function (this: ServerResponse, chunk: unknown, encoding?: unknown) {
    wrote = true;
    take(chunk, encoding);
    return (write as (...args: unknown[]) => boolean).apply(this, arguments as unknown as unknown[]);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, encoding?: unknown) {
    const bytes = take(chunk, encoding);
    // A body given whole to end() before the head is sent goes out with its length, not chunked.
    if (!wrote && !this.headersSent) watch.wholeBody(bytes);
    return (end as (...args: unknown[]) => ServerResponse).apply(this, arguments as unknown as unknown[]);
  } as ServerResponse['end'];
}

/**
 * Records each exchange of a Node app the way the proxy would, without an extra hop. Works as a
 * node:http wrapper, Express middleware (mount it first, before body parsers) and, through
 * captureFastifyPlugin, in Fastify. Captures are built and queued after the response is sent.
 */
export function captureMiddleware(options: CaptureMiddlewareOptions): CaptureMiddleware {
  const recorder = new CaptureRecorder(options);
  const drainTimeoutMs = options.drainTimeoutMs ?? captureServerDefaults.drainTimeoutMs;
  const observeEffects = options.sideEffects ?? true;
  if (observeEffects) {
    installHttpGuard();
    installFetchGuard();
  }
  const observe = (req: IncomingMessage, res: ServerResponse) => {
    const exchange = recorder.begin('middleware', req.method ?? 'GET', req.url ?? '/', req.rawHeaders, req.headers);
    if (!exchange.sampling.sampled) {
      if (observeEffects) enterScope(req, undefined);
      return;
    }
    // Frozen when the head is written, as the shadow's list is, so both cover the same span.
    const effects = observeEffects ? new EffectLog() : undefined;
    if (effects) {
      beforeHead(res, () => effects.freeze());
      enterScope(req, { effects, policy: null, captureId: null });
    }
    let head: Header[] = [];
    let wholeBody: number | undefined;
    onResponseHead(res, () => wholeBody, (headers) => (head = headers));
    const requestBody = recorder.bodyTap();
    const responseBody = recorder.bodyTap();
    let firstByte: number | null = null;
    if (hasBody(req)) tapRequestBody(req, requestBody);
    tapResponseBody(res, responseBody, { firstByte: () => (firstByte ??= nowMicros()), wholeBody: (bytes) => (wholeBody = bytes) });
    const done = (upstreamError: string | null) => {
      // HEAD, 204 and 304 answers carry no body on the wire, whatever the app wrote.
      const bodiless = req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
      if (bodiless) responseBody.release();
      recorder.complete(exchange, {
        requestBody,
        response: res.headersSent ? { status: res.statusCode, headers: endToEndHeaders(head), body: bodiless ? new BodyTap(0) : responseBody } : null,
        upstreamError,
        firstByte,
        end: nowMicros(),
        sideEffects: effects ? [controlEntry(observedKind), ...effects.freeze()] : [],
      });
    };
    res.once('close', () => done(res.writableFinished ? null : 'client closed the connection'));
  };
  const middleware = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => {
    try {
      observe(req, res);
    } catch (error) {
      // Recording must never break the app.
      recorder.logger.warn({ error: (error as Error).message }, 'capture middleware could not observe a request');
    }
    next?.();
  }) as CaptureMiddleware;
  Object.defineProperties(middleware, {
    metrics: { value: recorder.metrics.counters },
    registry: { value: recorder.metrics.registry },
    close: { value: () => recorder.close(drainTimeoutMs) },
  });
  return middleware;
}

/** The parts of Fastify the plugin uses, so Fastify stays a dev dependency. */
interface FastifyLike {
  addHook(name: 'onRequest' | 'preHandler', hook: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse }, done: () => void) => void): unknown;
  addHook(name: 'onClose', hook: (instance: unknown, done: () => void) => void): unknown;
}

/**
 * Fastify plugin: `app.register(captureFastifyPlugin, { sink, ... })`. It applies to every route
 * (it is not encapsulated) and drains the queue when the app closes.
 */
export function captureFastifyPlugin(fastify: FastifyLike, options: CaptureMiddlewareOptions, done: (error?: Error) => void): void {
  const middleware = captureMiddleware(options);
  fastify.addHook('onRequest', (request, reply, next) => middleware(request.raw, reply.raw, next));
  addResumeHook(fastify);
  fastify.addHook('onClose', (_instance, next) => void middleware.close().then(() => next(), () => next()));
  done();
}
// Fastify reads these symbols: skip-override keeps the hooks global, like fastify-plugin does.
Object.assign(captureFastifyPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'shadowtap-capture',
});
