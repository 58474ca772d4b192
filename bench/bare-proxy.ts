import { createServer } from 'node:http';
import { Pool } from 'undici';
import { listenLocal, type LocalServer } from '../test/helpers/local-server.js';

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'host']);

/** The baseline the capture proxy is measured against: a plain undici reverse proxy that records nothing. */
export async function startBareProxy(upstream: string): Promise<LocalServer> {
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
  const local = await listenLocal(server);
  return {
    ...local,
    close: async () => {
      await local.close();
      await pool.close();
    },
  };
}
