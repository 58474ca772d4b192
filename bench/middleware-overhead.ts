import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import pino from 'pino';
import { captureMiddleware, type CaptureMiddleware } from '../capture/middleware.js';
import { openLog } from '../shared/log/open-log.js';
import { captureKind } from '../shared/log/record-log.js';
import { seconds } from './fixtures.js';
import { load, meanOf, printTable, type LoadFigures } from './load.js';
import { listenLocal } from '../test/helpers/local-server.js';

/**
 * The in-process capture middleware against the same app without it, in one run, for two apps:
 * a bare node:http handler (about 20 µs a request: the harshest case) and the article's setting,
 * an Express app with a JSON route. For each: app alone, app + captureMiddleware → file log, app
 * alone again (the baseline is the mean of the two plain runs). Figure to reach: ≥ 0.90×.
 *   node dist/bench/middleware-overhead.js        (BENCH_SECONDS=N changes the 15 s per run)
 */
const duration = seconds(15);
const body = Buffer.from(JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ sku: `SKU-${i}`, qty: i, name: 'x'.repeat(20) })) }));

function app(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
}

/** An Express app of the usual shape: a router, a JSON body parser, a route answering JSON. */
function expressApp(capture?: CaptureMiddleware): RequestListener {
  const items = JSON.parse(body.toString('utf8')) as unknown;
  const application = express();
  if (capture) application.use(capture);
  application.use(express.json());
  application.get('/', (_req, res) => void res.json(items));
  return application as unknown as RequestListener;
}

async function run(name: string, handler: RequestListener): Promise<LoadFigures> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  const { url, close } = await listenLocal(server);
  try {
    await load('warm-up', url, { seconds: 2 });
    return await load(name, url, { seconds: duration });
  } finally {
    await close();
  }
}

const store = await mkdtemp(join(tmpdir(), 'shadowtap-bench-mw-'));
try {
  const apps: Array<[string, (capture?: CaptureMiddleware) => RequestListener]> = [
    ['node:http app', (capture) => (capture ? (req, res) => capture(req, res, () => app(req, res)) : app)],
    ['Express app', expressApp],
  ];
  for (const [name, build] of apps) {
    const rows: LoadFigures[] = [];
    const first = await run(name, build());
    rows.push(first);
    const sink = await openLog(captureKind, { store: join(store, name.replace(/\W+/g, '-')) });
    const capture = captureMiddleware({ sink, logger: pino({ level: 'warn' }) });
    const withCapture = await run(`${name} + captureMiddleware → file log`, build(capture));
    await capture.close();
    await sink.close();
    rows.push({ ...withCapture, name: `${withCapture.name} (delivered ${capture.metrics.delivered}, dropped ${capture.metrics.dropped})` });
    const last = await run(`${name} (again)`, build());
    rows.push(last);
    const baseline = meanOf('baseline: mean of the plain runs', [first, last]);
    rows.push(baseline);
    printTable(rows, baseline);
    console.log();
  }
} finally {
  await rm(store, { recursive: true, force: true });
}
