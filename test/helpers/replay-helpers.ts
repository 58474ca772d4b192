import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileLog } from '../../shared/log/file-log.js';
import { captureKind, resultKind, type RecordLog } from '../../shared/log/record-log.js';
import { captureV2Defaults, type Capture, type HttpRequest, type Result } from '../../shared/records/types.js';
import { listenLocal, type LocalServer } from './local-server.js';

/** A capture with plausible defaults; `request` fields merge over a GET /. */
export function makeCapture(id: string, captureTimeMs: number, request: Partial<HttpRequest> = {}): Capture {
  return {
    id,
    captureTime: captureTimeMs * 1000,
    agent: 'test-agent',
    service: 'test-service',
    request: {
      method: 'GET',
      path: '/',
      query: '',
      headers: [{ name: 'host', value: 'stable.local' }],
      body: Buffer.alloc(0),
      size: 0,
      truncated: false,
      sha256: null,
      ...request,
    },
    response: { status: 200, headers: [], body: Buffer.from('ok'), size: 2, truncated: false, sha256: null },
    upstreamError: null,
    timings: { start: captureTimeMs * 1000, firstByte: null, end: null },
    redactions: [],
    ...captureV2Defaults(),
    sampling: { rate: 1, mode: 'all' },
  };
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: Buffer;
}

export interface TestServer extends LocalServer {
  seen: SeenRequest[];
}

/** A real HTTP server on port 0 that records what reaches it. */
export async function startServer(handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void = (_q, res) => res.end('shadow')): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
      handler(req, res, body);
    });
  });
  return { ...(await listenLocal(server)), seen };
}

export interface TestStore {
  dir: string;
  captures: RecordLog<Capture>;
  results: RecordLog<Result>;
  cleanup(): Promise<void>;
}

/** Captures and results as embedded file logs in a fresh temp folder. */
export async function tempStore(): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-replay-'));
  const captures = await openFileLog(captureKind, { dir });
  const results = await openFileLog(resultKind, { dir });
  return {
    dir,
    captures,
    results,
    cleanup: async () => {
      await captures.close();
      await results.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export { readAll } from './local-server.js';

export { waitFor } from './wait-for.js';
