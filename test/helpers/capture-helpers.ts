import { request as httpRequest, createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { packageRoot } from '../../shared/package-root.js';
import type { LogEntry, RecordLog } from '../../shared/log/record-log.js';
import type { Capture } from '../../shared/records/types.js';
import { listenLocal, type LocalServer } from './local-server.js';

export const silentLogger = pino({ level: 'silent' });

/** An in-memory captures log whose appends can be made to fail, as a broker outage would. */
export class MemorySink implements RecordLog<Capture> {
  readonly name = 'memory';
  readonly records: Capture[] = [];
  failing = false;
  failedAppends = 0;

  async append(records: Capture[]): Promise<void> {
    if (this.failing) {
      this.failedAppends++;
      throw new Error('log unreachable (test)');
    }
    this.records.push(...records);
  }

  async *read(): AsyncIterable<LogEntry<Capture>> {
    for (const [offset, value] of this.records.entries()) {
      yield { value, position: { partition: 0, offset }, timestampMs: Math.floor(value.captureTime / 1000) };
    }
  }

  async commit(): Promise<void> {}

  async close(): Promise<void> {}
}

export { waitFor } from './wait-for.js';

export type TestServer = LocalServer;

export function startHttpServer(handler: RequestListener<typeof IncomingMessage, typeof ServerResponse>): Promise<TestServer> {
  return listenLocal(createServer({ maxHeaderSize: 64 * 1024 }, handler));
}

export interface RawResponse {
  status: number;
  statusMessage: string;
  rawHeaders: string[];
  body: Buffer;
  /** Set when the response ended early (the connection was cut). */
  error: string | null;
}

/** A plain node:http request that keeps raw headers and body bytes exactly as received. */
export function rawRequest(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string | string[]>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(options.path ?? '/', url);
    const req = httpRequest(target, { method: options.method ?? 'GET', headers: options.headers, agent: false, maxHeaderSize: 64 * 1024 }, (res) => {
      const chunks: Buffer[] = [];
      let error: string | null = null;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => (error = e.message));
      res.on('close', () =>
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
          error: error ?? (res.complete ? null : 'incomplete'),
        }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Headers that describe the connection or the moment, which a proxy may legitimately change. */
const connectionHeaders = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

export function endToEnd(rawHeaders: string[]): string[][] {
  const pairs: string[][] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!connectionHeaders.has(rawHeaders[i].toLowerCase())) pairs.push([rawHeaders[i].toLowerCase(), rawHeaders[i + 1]]);
  }
  return pairs;
}

export { readAll } from './local-server.js';

/**
 * Runs one of this area's commands in a child process, as `shadowtap <args>` would, before the
 * lead wires it into cli/main.ts: a program with only that command, parsed like main.ts does.
 */
export function spawnCommand(module: 'capture' | 'import', args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const url = pathToFileURL(join(packageRoot(), 'dist', 'cli', 'commands', `${module}.js`)).href;
  const register = module === 'capture' ? 'registerCapture' : 'registerImport';
  const script = `
    import { Command } from 'commander';
    import { ${register} } from ${JSON.stringify(url)};
    const program = new Command('shadowtap').exitOverride();
    ${register}(program);
    try { await program.parseAsync(process.argv.slice(1), { from: 'user' }); }
    catch (error) { if (error.code !== 'commander.helpDisplayed') { process.stderr.write(String(error.message) + '\\n'); process.exitCode = 2; } }
  `;
  return spawn(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c) => (stdout += c));
  child.stderr?.on('data', (c) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

