import type { IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';

/**
 * Passes an Upgrade (WebSocket) request through to stable as raw bytes in both directions.
 * Upgraded connections are not recorded: they are not request/response exchanges.
 */
export function tunnelUpgrade(upstream: URL, basePath: string, req: IncomingMessage, client: Duplex, head: Buffer): void {
  const secure = upstream.protocol === 'https:';
  const port = Number(upstream.port) || (secure ? 443 : 80);
  const onConnect = () => {
    const lines = [`${req.method} ${basePath}${req.url} HTTP/1.1`];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i].toLowerCase() === 'host' ? upstream.host : req.rawHeaders[i + 1]}`);
    }
    server.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) server.write(head);
    server.pipe(client).pipe(server);
  };
  const server: Socket = secure
    ? tlsConnect({ host: upstream.hostname, port, servername: upstream.hostname }, onConnect)
    : netConnect({ host: upstream.hostname, port }, onConnect);
  server.on('error', () => {
    if (client.writable && server.bytesRead === 0) client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    else client.destroy();
  });
  client.on('error', () => server.destroy());
  client.on('close', () => server.destroy());
  server.on('close', () => client.destroy());
}
