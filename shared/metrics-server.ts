import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { listenOn } from './listen.js';

export interface MetricsServer {
  server: Server;
  port: number;
  /** Where Prometheus scrapes, e.g. http://127.0.0.1:9464/metrics. */
  url: string;
  close(): Promise<void>;
}

/** An extra GET endpoint of the admin port, such as a probe's /healthz: its status and JSON body. */
export type AdminRoute = () => { status: number; body: object };

/** Serves one stage's registry on GET /metrics (and any `routes`); capture, replay and diff each run one. */
export async function serveMetrics(registry: Registry, listen: { host: string; port: number }, routes: Record<string, AdminRoute> = {}): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const route = req.method === 'GET' && Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route) {
      const { status, body } = route();
      res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404).end(`see ${['/metrics', ...Object.keys(routes)].join(', ')}\n`);
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: Error) => res.writeHead(500).end(`${error.message}\n`),
    );
  });
  const port = await listenOn(server, listen, '--metrics-listen');
  // A scrape must never keep a finished process alive.
  server.unref();
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    server,
    port,
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
