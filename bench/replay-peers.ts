import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { listenLocal, type LocalServer } from '../test/helpers/local-server.js';

/**
 * The parts around the replay worker in the replay benchmark, each on its own thread: in a real
 * deployment the shadow and the capture agent are other processes, and on one event loop their
 * CPU time and garbage collections would count as the replay worker's lateness and lag.
 */
export type PeerSpec =
  /** A shadow answering `body` (default `{"ok":true}`); closing tells how many requests came, the first and the last when (ms since the epoch). */
  | { role: 'shadow'; body?: string }
  /** Stable plus a capture proxy in front of it, appending to the file log in `dir`. */
  | { role: 'capture'; dir: string; batchRecords: number };

export interface Peer {
  /** What the peer said when ready (its URL for servers). */
  ready: string;
  /** Stops the peer and returns its closing figures. */
  close(): Promise<Record<string, number>>;
  /** A shadow's requests so far. */
  requests(): number;
}

export async function startPeer(spec: PeerSpec): Promise<Peer> {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL(import.meta.url), { workerData: { ...spec, counter } });
  const [ready] = (await once(worker, 'message')) as [string];
  return {
    ready,
    requests: () => Atomics.load(counter, 0),
    async close() {
      worker.postMessage('close');
      const [figures] = (await once(worker, 'message')) as [Record<string, number>];
      await worker.terminate();
      return figures;
    },
  };
}

function listen(handler: RequestListener): Promise<LocalServer> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  return listenLocal(server);
}

const answer =
  (body: string): RequestListener =>
  (req, res) => {
    req.resume();
    req.on('end', () => res.end(body));
  };

async function runPeer(spec: PeerSpec, counter: Int32Array, port: NonNullable<typeof parentPort>): Promise<void> {
  const closed = new Promise<void>((resolve) => port.once('message', () => resolve()));
  switch (spec.role) {
    case 'shadow': {
      const reply = answer(spec.body ?? '{"ok":true}');
      let requests = 0;
      let firstMs = NaN;
      let lastMs = NaN;
      const shadow = await listen((req, res) => {
        lastMs = performance.timeOrigin + performance.now();
        if (requests++ === 0) firstMs = lastMs;
        Atomics.store(counter, 0, requests);
        reply(req, res);
      });
      port.postMessage(shadow.url);
      await closed;
      shadow.server.closeAllConnections();
      shadow.server.close();
      port.postMessage({ requests, firstMs, lastMs });
      return;
    }
    case 'capture': {
      const stable = await listen(answer('{"stable":true}'));
      const log = await openFileLog(captureKind, { dir: spec.dir });
      // Append times tell how much of the capture-to-shadow lag the log write takes.
      const appendMs: number[] = [];
      const sink = {
        ...log,
        async append(records: Capture[]) {
          const started = performance.now();
          await log.append(records);
          appendMs.push(performance.now() - started);
        },
      };
      const capture = await startCaptureServer({
        port: 0,
        upstream: stable.url,
        sink,
        logger: pino({ level: 'warn' }),
        queue: { batchRecords: spec.batchRecords },
      });
      port.postMessage(capture.url);
      await closed;
      await capture.close();
      await log.close();
      stable.server.closeAllConnections();
      stable.server.close();
      appendMs.sort((a, b) => a - b);
      const at = (q: number) => appendMs[Math.min(appendMs.length - 1, Math.floor(appendMs.length * q))] ?? NaN;
      port.postMessage({ delivered: capture.metrics.delivered, appends: appendMs.length, appendP50Ms: at(0.5), appendP99Ms: at(0.99) });
      return;
    }
  }
}

const data = workerData as (PeerSpec & { counter: Int32Array }) | undefined;
if (!isMainThread && parentPort && data?.role) await runPeer(data, data.counter, parentPort);
