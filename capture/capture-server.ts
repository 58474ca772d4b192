import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { configError } from '../shared/errors.js';
import { listenOn } from '../shared/listen.js';
import { serveMetrics } from '../shared/metrics-server.js';
import type { CaptureCounters } from './capture-metrics.js';
import type { CaptureModeFactory } from './capture-mode.js';
import { captureServerDefaults, type RecorderOptions } from './capture-options.js';
import { CaptureRecorder } from './capture-recorder.js';
import { mirrorMode } from './mirror-handler.js';
import { proxyMode, type ProxyModeOptions } from './proxy-handler.js';

export interface CaptureOptions extends RecorderOptions {
  /** How exchanges arrive: proxyMode({ upstream }) in front of stable, or mirrorMode() for mirrored copies. */
  mode: CaptureModeFactory;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest request/response head accepted, in bytes; a larger request head gets 431. */
  maxHeaderBytes?: number;
  /** How long close() waits for in-flight requests and the queue to drain. */
  drainTimeoutMs?: number;
  /** Port of the admin server with GET /metrics, /healthz and /readyz; none when absent. */
  metricsPort?: number;
  metricsHost?: string;
}

/** startCaptureServer's options: `upstream` picks the proxy mode, `mirrorTarget` the mirror mode. */
export interface CaptureServerOptions extends Omit<CaptureOptions, 'mode'>, Partial<ProxyModeOptions> {
  /** Receive mirrored copies and record requests only, instead of proxying. */
  mirrorTarget?: boolean;
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

/** Starts the capture agent in proxy mode (`upstream`) or mirror-target mode (`mirrorTarget`). */
export function startCaptureServer(options: CaptureServerOptions): Promise<CaptureServer> {
  if (Boolean(options.upstream) === Boolean(options.mirrorTarget)) {
    throw configError('capture needs exactly one of an upstream URL (proxy mode) or mirror-target mode');
  }
  return createCapture({ ...options, mode: options.upstream ? proxyMode({ ...options, upstream: options.upstream }) : mirrorMode() });
}

/** The capture agent: one server and recorder, its exchanges handled by the given mode. */
export async function createCapture(options: CaptureOptions): Promise<CaptureServer> {
  const host = options.host ?? captureServerDefaults.host;
  const maxHeaderSize = options.maxHeaderBytes ?? captureServerDefaults.maxHeaderBytes;
  const drainTimeoutMs = options.drainTimeoutMs ?? captureServerDefaults.drainTimeoutMs;
  const recorder = new CaptureRecorder(options);
  const mode = options.mode(recorder, { maxHeaderBytes: maxHeaderSize });
  const server = createServer({ maxHeaderSize }, (req, res) => mode.request(req, res));
  // Upgraded connections leave the HTTP server's bookkeeping; close() must end them itself.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    recorder.metrics.request('upgrade');
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    mode.upgrade(req, socket, head);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    const refusal =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 'HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'
        : 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
    // Bytes that do not parse after a whole request (a body sent without a length) are the next
    // request's: the one in flight still gets stable's answer first, as from stable itself.
    // A request cut short (a client gone mid-upload) is ended now, as before.
    const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
    if (inFlight && !inFlight.writableEnded && inFlight.req.complete) inFlight.once('finish', () => socket.end(refusal));
    else socket.end(refusal);
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
          await mode.close();
          throw error;
        });
  const port = await listenOn(server, { host, port: options.port }, '--listen').catch(async (error: unknown) => {
    await metricsServer?.close();
    await recorder.close(0);
    await mode.close();
    throw error;
  });
  serving = true;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  recorder.logger.info({ url, ...mode.describe, metrics: metricsServer?.url }, 'capture agent listening');

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
    await mode.close();
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
