import { request as httpRequest } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { clientHeaders, type CaseRequest, type RealCase } from './real-case.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body with its content-encoding undone. */
  body: Buffer;
}

function decode(body: Buffer, encoding: string | undefined): Buffer {
  if (body.length === 0) return body;
  if (encoding === 'gzip') return gunzipSync(body);
  if (encoding === 'br') return brotliDecompressSync(body);
  if (encoding === 'deflate') return inflateSync(body);
  return body;
}

/** Sends one case request to `origin` (a fresh connection each time, so no state rides on keep-alive). */
export function send(origin: string, realCase: RealCase, request: CaseRequest): Promise<Answer> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: request.method, path: request.path, headers: clientHeaders(realCase, request), agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const encoding = res.headers['content-encoding'];
          resolve({ status: res.statusCode!, headers: res.headers, body: decode(Buffer.concat(chunks), typeof encoding === 'string' ? encoding : undefined) });
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${request.method} ${request.path}: no answer from ${origin} in 10 s`)));
    req.on('error', reject);
    req.end(request.body);
  });
}
