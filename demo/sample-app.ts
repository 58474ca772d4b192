import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOn } from '../shared/listen.js';
import { setTimeout as sleep } from 'node:timers/promises';

export type SampleVariant = 'stable' | 'shadow';

/**
 * The bundled sample service for `shadowtap demo` and docker-compose. The shadow variant differs
 * from stable on purpose, in exactly three ways:
 *   1. GET /api/products/{id}: the `price` field changed (tax now included);
 *   2. GET /api/search: answers 500 instead of 200;
 *   3. GET /api/orders/{id}: 60 ms slower.
 * Everything else is identical, apart from values that always differ between two runs
 * (`servedAt` timestamps, `traceId`s), which a good diff must call noise.
 */
export function sampleHandler(variant: SampleVariant): (req: IncomingMessage, res: ServerResponse) => void {
  const shadow = variant === 'shadow';
  return (req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sample');
    const body = await readBody(req);
    const json = (status: number, value: unknown) => {
      const bytes = Buffer.from(JSON.stringify(value));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    };
    const noise = { servedAt: new Date().toISOString(), traceId: crypto.randomUUID() };
    let match: RegExpExecArray | null;

    if (url.pathname === '/health') return json(200, { status: 'ok' });
    if ((match = /^\/api\/users\/(\d+)$/.exec(url.pathname))) {
      const id = Number(match[1]);
      return json(200, { id, name: `user-${id}`, plan: id % 3 === 0 ? 'pro' : 'free', roles: ['reader'], ...noise });
    }
    if ((match = /^\/api\/products\/([A-Z0-9-]+)$/.exec(url.pathname))) {
      const sku = match[1]!;
      const base = 10 + (sku.length % 7) * 2.5;
      return json(200, { sku, name: `Product ${sku}`, price: shadow ? Math.round(base * 120) / 100 : base, stock: 7, ...noise });
    }
    if (url.pathname === '/api/search') {
      if (shadow) return json(500, { error: 'search index unavailable' });
      const q = url.searchParams.get('q') ?? '';
      return json(200, { q, hits: [{ sku: `SKU-${q.length}`, score: 0.9 }], ...noise });
    }
    if ((match = /^\/api\/orders\/(\d+)$/.exec(url.pathname))) {
      await sleep(shadow ? 65 : 5);
      return json(200, { id: Number(match[1]), status: 'shipped', items: [{ sku: 'SKU-1', qty: 2 }], ...noise });
    }
    if (url.pathname === '/api/orders' && req.method === 'POST') {
      return json(201, { created: true, received: body.length });
    }
    return json(404, { error: 'not found' });
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export interface SampleApp {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startSampleApp(variant: SampleVariant, port = 0, host = '127.0.0.1'): Promise<SampleApp> {
  const server = createServer(sampleHandler(variant));
  const bound = await listenOn(server, { host, port }, '--listen');
  return {
    url: `http://${host}:${bound}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The traffic the demo sends: a mix of routes with realistic id spread, a few unsafe POSTs. */
export function* demoTraffic(count: number): Generator<{ method: string; path: string; body?: string; headers?: Record<string, string> }> {
  const skus = ['AB-1', 'CD-22', 'EF-333', 'GH-4444', 'IJ-55555'];
  for (let i = 0; i < count; i++) {
    const pick = i % 10;
    if (pick < 3) yield { method: 'GET', path: `/api/users/${100 + (i % 37)}`, headers: { authorization: `Bearer demo-secret-${i % 5}` } };
    else if (pick < 5) yield { method: 'GET', path: `/api/products/${skus[i % skus.length]}` };
    else if (pick < 6) yield { method: 'GET', path: `/api/search?q=term${i % 4}&token=demo-token` };
    else if (pick < 8) yield { method: 'GET', path: `/api/orders/${5000 + (i % 23)}` };
    else if (pick < 9) yield { method: 'GET', path: '/health' };
    else yield { method: 'POST', path: '/api/orders', body: JSON.stringify({ sku: skus[i % 5], qty: 1, password: 'hunter2' }), headers: { 'content-type': 'application/json' } };
  }
}
