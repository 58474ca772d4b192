import { Pool } from 'undici';
import type { ErrorKind, Header, HttpResponse } from '../shared/records/types.js';
import { nowMicros } from '../shared/records/types.js';
import { errorKind, errorMessage } from './error-kind.js';
import type { OutgoingRequest } from './request-builder.js';

export interface ShadowSenderOptions {
  /** Connections kept to the shadow; the replay concurrency. */
  connections: number;
  /** Whole request, connect to end of body. */
  timeoutMs: number;
  /** Shadow response bodies are kept up to this size and marked truncated past it. */
  maxBodyBytes: number;
}

export type SendOutcome =
  | { ok: true; sentTime: number; response: HttpResponse; latencyMicros: number }
  | { ok: false; sentTime: number; kind: ErrorKind; message: string };

/** Sends rebuilt requests to the one configured shadow origin and reads whole responses. */
export class ShadowSender {
  private readonly pool: Pool;
  private closing: Promise<void> | undefined;

  constructor(
    readonly target: URL,
    private readonly options: ShadowSenderOptions,
  ) {
    this.pool = new Pool(target.origin, {
      connections: options.connections,
      connect: { timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /**
   * Never throws: failures come back as an error kind. The timeout is undici's headers and body
   * timeouts (no per-request timers or signals, which cost lateness at high rates).
   */
  async send(request: OutgoingRequest): Promise<SendOutcome> {
    const sentTime = nowMicros();
    const started = performance.now();
    try {
      const res = await this.pool.request({
        method: request.method,
        path: request.path,
        headers: request.headers,
        body: request.body,
        responseHeaders: 'raw',
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let kept = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (kept < this.options.maxBodyBytes) {
          const part = chunk.subarray(0, this.options.maxBodyBytes - kept);
          chunks.push(part);
          kept += part.length;
        }
      }
      const latencyMicros = Math.round((performance.now() - started) * 1000);
      const response: HttpResponse = {
        status: res.statusCode,
        headers: headerList(res.headers as unknown as Array<string | Buffer>),
        body: Buffer.concat(chunks),
        size,
        truncated: size > kept,
      };
      return { ok: true, sentTime, response, latencyMicros };
    } catch (error) {
      return { ok: false, sentTime, kind: errorKind(error), message: errorMessage(error) };
    }
  }

  /** Closes the connections; requests still in flight fail at once. */
  close(): Promise<void> {
    this.closing ??= this.pool.destroy();
    return this.closing;
  }
}

function headerList(raw: Array<string | Buffer>): Header[] {
  const headers: Header[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) headers.push({ name: String(raw[i]), value: String(raw[i + 1]) });
  return headers;
}
