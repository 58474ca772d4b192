import type { LocalServer } from '../helpers/local-server.js';

/** One request of a case, sent byte for byte the same to every server that is asked it. */
export interface CaseRequest {
  method: string;
  /** Path and query, as sent on the request line. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** What the request exercises, shown in reports. */
  note?: string;
}

/**
 * Two published versions of one real program, and the traffic a user would send it. `start`
 * gives a fresh instance (its own state) on a free port of 127.0.0.1 each time it is called.
 */
export interface RealCase {
  name: string;
  /** npm packages and versions, as installed through the aliases in package.json. */
  stable: string;
  shadow: string;
  /** The Host the clients use (every request carries it; the servers are reached on 127.0.0.1). */
  host: string;
  start(version: 'stable' | 'shadow'): Promise<LocalServer>;
  requests: CaseRequest[];
}

/** Headers every request of every case carries, as a plain HTTP client would send them. */
export function clientHeaders(realCase: RealCase, request: CaseRequest): Record<string, string> {
  return { host: realCase.host, 'user-agent': 'verdict-cases/1.0', accept: '*/*', ...request.headers };
}
