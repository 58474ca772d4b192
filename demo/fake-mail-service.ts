import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The demo's mail provider: a local HTTP service on a free port that accepts `POST /send` and
 * counts what reaches it, so the demo can show that no email the shadow tried ever left.
 */
export interface FakeMailService {
  url: string;
  /** Emails that reached the service. */
  readonly received: number;
  close(): Promise<void>;
}

export async function startFakeMailService(host = '127.0.0.1'): Promise<FakeMailService> {
  let received = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const sent = req.method === 'POST' && req.url === '/send';
      if (sent) received++;
      res.writeHead(sent ? 202 : 404, { 'content-type': 'application/json' });
      res.end(sent ? '{"queued":true}' : '{"error":"not found"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    get received() {
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
