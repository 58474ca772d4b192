import { Pool, type Dispatcher } from 'undici';
import { BodyTap } from '../shared/http/body-tap.js';
import type { ErrorKind, Header, HttpResponse } from '../shared/records/types.js';
import { nowMicros } from '../shared/records/types.js';
import { errorKind, errorMessage } from './error-kind.js';
import type { OutgoingRequest } from './request-builder.js';

export interface ShadowSenderOptions {
  /** Connections kept to the shadow; the replay concurrency. */
  connections: number;
  /** Whole request, connect to end of body. */
  timeoutMs: number;
  /** Response bodies are kept up to this size and marked truncated past it; size and sha256 cover the whole body. */
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
   * timeouts (no per-request timers or signals, which cost lateness at high rates). A dispatch
   * handler collects the body directly: no body stream or async iterator per request, which at
   * thousands of sends a second were a large share of the worker's CPU and garbage.
   */
  send(request: Omit<OutgoingRequest, 'changes'>): Promise<SendOutcome> {
    const sentTime = nowMicros();
    const started = performance.now();
    const { maxBodyBytes } = this.options;
    return new Promise((resolve) => {
      let status = 0;
      let headers: Header[] = [];
      // undici's chunks are ours to keep: no copy. Hashed once a body kept whole has ended (a hash object per answer cost ~3 % of the worker).
      const tap = new BodyTap(maxBodyBytes, null, false);
      const fail = (error: unknown) => resolve({ ok: false, sentTime, kind: errorKind(error), message: errorMessage(error) });
      const handler: Dispatcher.DispatchHandler = {
        // Its presence tells undici this handler speaks the controller API.
        onRequestStart() {},
        onResponseStart(controller, statusCode) {
          // 1xx informational answers precede the real one.
          if (statusCode < 200) return;
          status = statusCode;
          headers = headerList((controller.rawHeaders ?? []) as Array<string | Buffer>);
        },
        onResponseData(_controller, chunk) {
          tap.add(chunk);
        },
        onResponseEnd() {
          const latencyMicros = Math.round((performance.now() - started) * 1000);
          const response = { status, headers, body: tap.body(), size: tap.size, truncated: tap.truncated, sha256: tap.sha256() };
          resolve({ ok: true, sentTime, response, latencyMicros });
        },
        onResponseError(_controller, error) {
          fail(error);
        },
      };
      try {
        // undici takes any iterable body (a chunked upload), though its types list fewer.
        const body = request.body as Dispatcher.DispatchOptions['body'];
        this.pool.dispatch({ origin: this.target.origin, method: request.method, path: request.path, headers: request.headers, body }, handler);
      } catch (error) {
        fail(error);
      }
    });
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
