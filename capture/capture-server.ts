import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { Pool } from 'undici';
import { configError } from '../shared/errors.js';
import { parseHttpUrl } from '../shared/http/http-url.js';
import type { RecorderOptions } from './capture-options.js';
import { listenOn } from '../shared/listen.js';
import { serveMetrics } from '../shared/metrics-server.js';
import type { CaptureCounters } from './capture-metrics.js';
import { CaptureRecorder } from './capture-recorder.js';
import { mirrorRequest } from './mirror-handler.js';
import { proxyRequest } from './proxy-handler.js';
import { tunnelUpgrade } from './upgrade-tunnel.js';

export interface CaptureServerOptions extends RecorderOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Stable's URL (reverse-proxy mode); a path in it is prefixed to every request path. */
  upstream?: string;
  /** Receive mirrored copies and record requests only, instead of proxying. */
  mirrorTarget?: boolean;
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
  /** Largest request/response head accepted, in bytes; a larger request head gets 431. */
  maxHeaderBytes?: number;
  /** How long close() waits for in-flight requests and the queue to drain. */
  drainTimeoutMs?: number;
  /** Port of the admin server with GET /metrics; none when absent. */
  metricsPort?: number;
  metricsHost?: string;
}

export interface CaptureServer {
  url: string;
  port: number;
  metrics: CaptureCounters;
  /** The Prometheus registry of this agent alone. */
  registry: Registry;
  metricsUrl: string | null;
  /** Stops accepting, lets in-flight requests end, drains the queue into the sink within the deadline. The sink stays open. */
  close(): Promise<void>;
}

export const captureServerDefaults = {
  host: '127.0.0.1',
  maxHeaderBytes: 64 * 1024,
  upstreamTimeoutMs: 60_000,
  drainTimeoutMs: 10_000,
  forwardRequestId: false,
  rewriteHost: false,
};

/** Starts the capture agent: a reverse proxy in front of stable, or a target for mirrored traffic. */
export async function startCaptureServer(options: CaptureServerOptions): Promise<CaptureServer> {
  if (Boolean(options.upstream) === Boolean(options.mirrorTarget)) {
    throw configError('capture needs exactly one of an upstream URL (proxy mode) or mirror-target mode');
  }
  const host = options.host ?? captureServerDefaults.host;
  const maxHeaderSize = options.maxHeaderBytes ?? captureServerDefaults.maxHeaderBytes;
  const drainTimeoutMs = options.drainTimeoutMs ?? captureServerDefaults.drainTimeoutMs;
  const recorder = new CaptureRecorder(options);
  const upstream = options.upstream ? parseHttpUrl(options.upstream, 'upstream', 'http://stable:8080', configError) : null;
  const basePath = upstream ? upstream.pathname.replace(/\/$/, '') : '';
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? captureServerDefaults.upstreamTimeoutMs;
  const pool = upstream ? new Pool(upstream.origin, { maxHeaderSize, headersTimeout: upstreamTimeoutMs, bodyTimeout: upstreamTimeoutMs }) : null;

  const rewriteHost = options.rewriteHost ?? captureServerDefaults.rewriteHost;
  const proxy = pool && { recorder, pool, upstreamHost: upstream!.host, keepClientHost: !rewriteHost, basePath, upstreamTimeoutMs, forwardRequestId: options.forwardRequestId ?? captureServerDefaults.forwardRequestId };
  const server = createServer({ maxHeaderSize }, (req, res) => {
    if (proxy) proxyRequest(proxy, req, res);
    else mirrorRequest(recorder, req, res);
  });
  // Upgraded connections leave the HTTP server's bookkeeping; close() must end them itself.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    recorder.metrics.request('upgrade');
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    if (upstream) tunnelUpgrade(upstream, basePath, req, socket, head);
    else socket.end('HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    if (error.code === 'HPE_HEADER_OVERFLOW') socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    else socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });

  let serving = false;
  const health = () => {
    const { delivered, dropped, queueBytes, spoolBytes } = recorder.metrics.counters;
    return { status: 'ok', log: recorder.logState, delivered, dropped, queueBytes, spoolBytes };
  };
  // The admin port first: when it is taken, nothing was started that would keep the process alive.
  const metricsServer =
    options.metricsPort === undefined
      ? null
      : await serveMetrics(recorder.metrics.registry, { host: options.metricsHost ?? host, port: options.metricsPort }, {
          // Liveness: the agent answers; its log's state is information, never a reason to restart it.
          '/healthz': () => ({ status: 200, body: health() }),
          // Readiness never depends on the log: captures wait in memory and spool while it is away.
          '/readyz': () => ({ status: serving ? 200 : 503, body: { ready: serving, ...health() } }),
        }).catch(async (error: unknown) => {
          await recorder.close(0);
          await pool?.close();
          throw error;
        });
  const port = await listenOn(server, { host, port: options.port }, '--listen').catch(async (error: unknown) => {
    await metricsServer?.close();
    await recorder.close(0);
    await pool?.close();
    throw error;
  });
  serving = true;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  recorder.logger.info({ url, upstream: upstream?.origin, mirrorTarget: !upstream, metrics: metricsServer?.url }, 'capture agent listening');

  let closing: Promise<void> | null = null;
  const close = async () => {
    serving = false;
    const deadline = Date.now() + drainTimeoutMs;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    for (const socket of upgraded) socket.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stopped, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainTimeoutMs)))]);
    clearTimeout(timer);
    // Exchanges cut here complete a moment later; recorder.close() waits for them.
    server.closeAllConnections();
    await recorder.close(Math.max(0, deadline - Date.now()));
    await pool?.close();
    if (metricsServer) await metricsServer.close();
    const { delivered, dropped, spoolBytes } = recorder.metrics.counters;
    recorder.logger.info({ delivered, dropped, spoolBytes }, 'capture agent stopped');
  };

  return {
    url,
    port,
    metrics: recorder.metrics.counters,
    registry: recorder.metrics.registry,
    metricsUrl: metricsServer?.url ?? null,
    close: () => (closing ??= close()),
  };
}
