import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { Pool } from 'undici';
import { configError } from '../shared/errors.js';
import type { RecorderOptions } from './capture-options.js';
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
  /** Largest request/response head accepted, in bytes. */
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
  drainTimeoutMs: 10_000,
  forwardRequestId: false,
};

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

function upstreamUrl(value: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below
  }
  throw configError(`upstream must be an http(s) URL such as http://stable:8080; got "${value}"`);
}

/** Starts the capture agent: a reverse proxy in front of stable, or a target for mirrored traffic. */
export async function startCaptureServer(options: CaptureServerOptions): Promise<CaptureServer> {
  if (Boolean(options.upstream) === Boolean(options.mirrorTarget)) {
    throw configError('capture needs exactly one of an upstream URL (proxy mode) or mirror-target mode');
  }
  const host = options.host ?? captureServerDefaults.host;
  const maxHeaderSize = options.maxHeaderBytes ?? captureServerDefaults.maxHeaderBytes;
  const drainTimeoutMs = options.drainTimeoutMs ?? captureServerDefaults.drainTimeoutMs;
  const recorder = new CaptureRecorder(options);
  const upstream = options.upstream ? upstreamUrl(options.upstream) : null;
  const basePath = upstream ? upstream.pathname.replace(/\/$/, '') : '';
  const pool = upstream ? new Pool(upstream.origin, { maxHeaderSize }) : null;

  const proxy = pool && { recorder, pool, upstreamHost: upstream!.host, basePath, forwardRequestId: options.forwardRequestId ?? captureServerDefaults.forwardRequestId };
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
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });

  const port = await listen(server, options.port, host);
  const metricsServer =
    options.metricsPort === undefined
      ? null
      : await serveMetrics(recorder.metrics.registry, { host: options.metricsHost ?? host, port: options.metricsPort });
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  recorder.logger.info({ url, upstream: upstream?.origin, mirrorTarget: !upstream, metrics: metricsServer?.url }, 'capture agent listening');

  let closing: Promise<void> | null = null;
  const close = async () => {
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
