import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { isShadow, shadowMode } from '../shadow/index.js';
import { listenLocal } from '../test/helpers/local-server.js';
import { itemsDocument, seconds, startJsonServer } from './fixtures.js';
import { load, meanOf, printTable, type LoadFigures } from './load.js';

/**
 * What shadowtap/shadow costs a node:http service per request, against the same app without it,
 * in one run, for two apps: a bare handler (the harshest case) and one that makes a safe
 * outbound fetch per request (the guard's hooks at work). For each: app alone, app +
 * shadowMode with requests outside shadow context, the same with the replay's marker headers
 * (shadow context: a scope, the guard marker and the effects header on every answer), app alone
 * again; the baseline is the mean of the two plain runs. The cost per request is the CPU this
 * process spends per request (load generator and servers together) minus the baseline's.
 *   node dist/bench/shadow-mode-overhead.js        (BENCH_SECONDS=N changes the 10 s per run)
 */
const duration = seconds(10);
const body = Buffer.from(itemsDocument);
const markers = { 'x-shadowtap-replay': '1', 'x-mirrored-request': 'true' };

function answer(res: ServerResponse, shadow: boolean): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'x-shadow': String(shadow) });
  res.end(body);
}

function bareApp(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on('end', () => answer(res, isShadow()));
}

function fetchingApp(upstream: string): RequestListener {
  return (req, res) => {
    req.resume();
    req.on('end', () => {
      void fetch(`${upstream}/items/7`)
        .then((r) => r.arrayBuffer())
        .then(
          () => answer(res, isShadow()),
          () => res.writeHead(502).end(),
        );
    });
  };
}

async function run(name: string, handler: RequestListener, headers?: Record<string, string>): Promise<LoadFigures> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  const { url, close } = await listenLocal(server);
  try {
    await load('warm-up', url, { seconds: 2, headers });
    return await load(name, url, { seconds: duration, headers });
  } finally {
    await close();
  }
}

const upstream = await startJsonServer();
try {
  const shadow = shadowMode({ env: {} });
  const apps: Array<[string, RequestListener]> = [
    ['bare node:http app', bareApp],
    ['node:http app with one fetch a request', fetchingApp(upstream.url)],
  ];
  for (const [name, app] of apps) {
    const first = await run(name, app);
    const outside = await run(`${name} + shadowMode, outside shadow context`, shadow.wrap(app));
    const inside = await run(`${name} + shadowMode, in shadow context (markers)`, shadow.wrap(app), markers);
    const last = await run(`${name} (again)`, app);
    const baseline = meanOf('baseline: mean of the plain runs', [first, last]);
    printTable([first, outside, inside, last, baseline], baseline);
    for (const row of [outside, inside]) {
      const cost = row.cpuMicrosPerRequest - baseline.cpuMicrosPerRequest;
      console.log(`${row.name}: ${cost >= 0 ? '+' : ''}${cost.toFixed(1)} µs CPU a request (${(row.cpuMicrosPerRequest / baseline.cpuMicrosPerRequest).toFixed(3)}× the app's), throughput ${(row.requestsPerSecond / baseline.requestsPerSecond).toFixed(3)}×`);
    }
    console.log();
  }
} finally {
  await upstream.close();
}
