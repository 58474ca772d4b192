import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { isShadow, shadowMode } from '../shadow/index.js';
import { listenLocal } from '../test/helpers/local-server.js';
import { itemsDocument, seconds, startJsonServer } from './fixtures.js';
import { load, meanOf, printTable, type LoadFigures } from './load.js';

/**
 * What shadowtap/shadow costs a node:http service per request, against the same app without it,
 * in one run, for two apps: a bare handler (the harshest case) and one that makes a safe
 * outbound fetch per request (the guard's hooks at work). Three variants: the app alone; app +
 * shadowMode with requests outside shadow context; the same with the replay's marker headers
 * (shadow context: a scope, the guard marker and the effects header on every answer). Each is
 * warmed up, then run in rounds, the variants in turn, so drift on a shared machine touches all
 * alike; medians are printed. The cost a request is the CPU this process spends a request (load
 * generator and servers together) minus the plain app's.
 *   node dist/bench/shadow-mode-overhead.js        (BENCH_SECONDS=N changes the 5 s per run; BENCH_ROUNDS=N the 3 rounds)
 */
const duration = seconds(5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
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

async function run(name: string, handler: RequestListener, runSeconds: number, headers?: Record<string, string>): Promise<LoadFigures> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  const { url, close } = await listenLocal(server);
  try {
    return await load(name, url, { seconds: runSeconds, headers });
  } finally {
    await close();
  }
}

function median(name: string, runs: LoadFigures[]): LoadFigures {
  const mid = (pick: (f: LoadFigures) => number) => runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  return { ...meanOf(name, runs), requestsPerSecond: mid((f) => f.requestsPerSecond), p50Ms: mid((f) => f.p50Ms), p99Ms: mid((f) => f.p99Ms), cpuMicrosPerRequest: mid((f) => f.cpuMicrosPerRequest) };
}

const upstream = await startJsonServer();
try {
  const shadow = shadowMode({ env: {} });
  const apps: Array<[string, RequestListener]> = [
    ['bare node:http app', bareApp],
    ['node:http app with one fetch a request', fetchingApp(upstream.url)],
  ];
  for (const [name, app] of apps) {
    const variants: Array<[string, RequestListener, Record<string, string> | undefined]> = [
      [name, app, undefined],
      [`${name} + shadowMode, outside shadow context`, shadow.wrap(app), undefined],
      [`${name} + shadowMode, in shadow context (markers)`, shadow.wrap(app), markers],
    ];
    for (const [variant, handler, headers] of variants) await run(`${variant} (warm-up)`, handler, 2, headers);
    const runs: LoadFigures[][] = variants.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, [variant, handler, headers]] of variants.entries()) runs[i]!.push(await run(variant, handler, duration, headers));
    }
    const [plain, outside, inside] = variants.map(([variant], i) => median(`${variant}, median of ${rounds}`, runs[i]!)) as [LoadFigures, LoadFigures, LoadFigures];
    printTable([plain, outside, inside], plain);
    for (const row of [outside, inside]) {
      const cost = row.cpuMicrosPerRequest - plain.cpuMicrosPerRequest;
      console.log(`${row.name}: ${cost >= 0 ? '+' : ''}${cost.toFixed(1)} µs CPU a request (${(row.cpuMicrosPerRequest / plain.cpuMicrosPerRequest).toFixed(3)}× the app's), throughput ${(row.requestsPerSecond / plain.requestsPerSecond).toFixed(3)}×`);
    }
    console.log();
  }
} finally {
  await upstream.close();
}
