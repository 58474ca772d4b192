import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { usageError } from './errors.js';

const reasons: Record<string, string> = {
  EADDRINUSE: 'the port is already in use; stop what listens there or choose another port',
  EACCES: 'permission denied; ports below 1024 need privileges, choose a port of 1024 or more',
  EADDRNOTAVAIL: 'no network interface of this machine has that address; use 0.0.0.0 or one of its addresses',
};

/**
 * Starts listening and resolves with the bound port. A port in use or an address this machine
 * lacks is the user's choice of flag, so it is a usage error (exit 2) naming the flag.
 */
export function listenOn(server: Server, address: { host: string; port: number }, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      const reason = reasons[error.code ?? ''] ?? error.message;
      reject(usageError(`cannot listen on ${address.host}:${address.port} (${flag}): ${reason}`));
    };
    server.once('error', failed);
    server.listen(address.port, address.host, () => {
      server.off('error', failed);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
