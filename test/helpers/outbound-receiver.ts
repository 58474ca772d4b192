import { createServer } from 'node:http';
import { listenLocal, type LocalServer } from './local-server.js';

/** A real service on port 0 that counts what reaches it, as `METHOD /path` lines. */
export interface OutboundReceiver extends LocalServer {
  received: string[];
  count(method: string): number;
}

export async function startOutboundReceiver(): Promise<OutboundReceiver> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(`${req.method} ${req.url}`);
      res.writeHead(req.method === 'GET' ? 200 : 201, { 'content-type': 'application/json' });
      res.end('{"real":true}');
    });
  });
  const local = await listenLocal(server);
  return Object.assign(local, { received, count: (method: string) => received.filter((line) => line.startsWith(`${method} `)).length });
}
