import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordLog } from '../../shared/log/record-log.js';

export interface LocalServer {
  url: string;
  port: number;
  server: Server;
  /** Drops open keep-alive connections and stops listening. */
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1 (tests and benchmarks alike). */
export async function listenLocal(server: Server): Promise<LocalServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Every record of a log, oldest first (a log that is not followed ends). */
export async function readAll<T>(log: RecordLog<T>): Promise<T[]> {
  const values: T[] = [];
  for await (const entry of log.read()) values.push(entry.value);
  return values;
}
