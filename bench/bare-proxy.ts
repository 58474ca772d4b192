import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'host']);

/** The baseline the capture proxy is measured against: a plain undici reverse proxy that records nothing. */
export async function startBareProxy(upstream: string): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const pool = new Pool(upstream, { connections: 128 });
  const server = createServer((req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
    pool
      .request({ method: req.method as 'GET', path: req.url ?? '/', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req })
      .then(({ statusCode, headers: responseHeaders, body }) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(responseHeaders)) if (value !== undefined && !hopByHop.has(name)) out[name] = value;
        res.writeHead(statusCode, out);
        body.pipe(res);
      })
      .catch(() => {
        res.writeHead(502);
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
    },
  };
}
