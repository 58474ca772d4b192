import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { Capture } from '../shared/records/types.js';
import { benchKafka, itemsDocument } from './fixtures.js';

/**
 * What a capture costs the agent after the proxying, in process, without the network: CPU µs of
 * the process (every thread: producer thread, compression, file system) a capture.
 * - recorder path: CaptureRecorder's begin, body taps and complete for capture-overhead's exchange
 *   (a GET answered with the 1 KB JSON document), then redaction, the queue and the sink: a sink
 *   that drops the batches (the path alone), and the file log;
 * - sink: captures of that exchange appended in batches of 22 and 87 (what the queue forms at
 *   4,344 req/s with the 5 ms linger and with the 20 ms busy one) to the file log, Kafka
 *   (compression auto) and Kafka (none).
 * Each figure comes from a fresh process, after a warm-up of the same work. BASELINE_DIST=<another
 * build's dist folder> runs the same through that build in alternated rounds: new/old ratios.
 *   KAFKA_BROKERS=… node dist/bench/capture-path-cost.js   (BENCH_ROUNDS, default 3; BENCH_RECORDS, default 30,000)
 */
type Job = { kind: 'recorder'; sink: 'drop' | 'file' } | { kind: 'sink'; sink: 'file' | 'kafka-auto' | 'kafka-none'; batch: number };
interface ChildTask {
  dist: string;
  job: Job;
  records: number;
  brokers: string[];
  store: string;
}

const ownDist = resolve(dirname(fileURLToPath(import.meta.url)), '..');

if (process.env.SHADOWTAP_BENCH_CHILD) {
  const micros = await measure(JSON.parse(process.env.SHADOWTAP_BENCH_CHILD) as ChildTask);
  process.send!(micros, () => process.exit(0));
} else await main();

async function main(): Promise<void> {
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
  const records = Number(process.env.BENCH_RECORDS ?? 30_000);
  const baseline = process.env.BASELINE_DIST ? resolve(process.env.BASELINE_DIST) : undefined;
  const kafka = await benchKafka();
  const store = await mkdtemp(join(tmpdir(), 'shadowtap-path-cost-'));
  const jobs: Array<[string, Job]> = [
    ['recorder path, dropping sink', { kind: 'recorder', sink: 'drop' }],
    ['recorder path, file log', { kind: 'recorder', sink: 'file' }],
    ...[22, 87].flatMap((batch): Array<[string, Job]> => [
      [`file log, batches of ${batch}`, { kind: 'sink', sink: 'file', batch }],
      [`Kafka (auto), batches of ${batch}`, { kind: 'sink', sink: 'kafka-auto', batch }],
      [`Kafka (none), batches of ${batch}`, { kind: 'sink', sink: 'kafka-none', batch }],
    ]),
  ];
  const builds = baseline ? [ownDist, baseline] : [ownDist];
  const figures = new Map<string, number[]>();
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const [name, job] of jobs) {
        for (const dist of builds) {
          const child = fork(fileURLToPath(import.meta.url), [], {
            env: { ...process.env, SHADOWTAP_BENCH_CHILD: JSON.stringify({ dist, job, records, brokers: kafka.brokers, store } satisfies ChildTask) },
            stdio: 'inherit',
          });
          const [micros] = (await once(child, 'message')) as [number];
          const key = `${name}\t${dist}`;
          figures.set(key, [...(figures.get(key) ?? []), micros]);
        }
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
    console.log(`| work | CPU µs a capture${baseline ? ' | baseline build | new/old' : ''} |`);
    console.log(`|---|---|${baseline ? '---|---|' : ''}`);
    for (const [name] of jobs) {
      const mine = median(figures.get(`${name}\t${ownDist}`)!);
      const old = baseline ? median(figures.get(`${name}\t${baseline}`)!) : undefined;
      console.log(`| ${name} | ${mine.toFixed(1)} |${old === undefined ? '' : ` ${old.toFixed(1)} | ${(mine / old).toFixed(2)} |`}`);
    }
    console.log(`\nmedians of ${rounds} rounds of ${records} captures, each figure from a fresh process${baseline ? `, alternated with ${baseline}` : ''}`);
  } finally {
    await kafka.broker?.stop();
    await rm(store, { recursive: true, force: true });
  }
}

/** One figure, in this (child) process: CPU µs a capture of `job` run through the build in `dist`. */
async function measure(task: ChildTask): Promise<number> {
  const { dist, job, records } = task;
  const load = <M>(path: string): Promise<M> => import(resolve(dist, path)) as Promise<M>;
  const { openLog } = await load<typeof import('../shared/log/open-log.js')>('shared/log/open-log.js');
  const { captureKind } = await load<typeof import('../shared/log/record-log.js')>('shared/log/record-log.js');
  const logOptions = (sink: string) =>
    sink === 'file'
      ? { store: join(task.store, randomUUID()) }
      : { brokers: task.brokers, partitions: 3, topicPrefix: `bench-path-${randomUUID()}.`, compression: sink === 'kafka-none' ? ('none' as const) : ('auto' as const) };
  const body = Buffer.from(itemsDocument);
  const requestHead = ['Host', '127.0.0.1:40000', 'User-Agent', 'Go-http-client/1.1', 'Accept-Encoding', 'gzip'];
  const responseHead = ['Content-Type', 'application/json', 'Content-Length', String(body.length), 'Date', new Date().toUTCString(), 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=60'];

  /** Makes ready `count` captures' worth of work (outside the measure), to be run by the function it returns. */
  let prepare: (count: number) => () => Promise<void>;
  let close: () => Promise<void>;
  if (job.kind === 'recorder') {
    const { CaptureRecorder } = await load<typeof import('../capture/capture-recorder.js')>('capture/capture-recorder.js');
    const { endToEndFromRaw } = await load<typeof import('../capture/http-headers.js')>('capture/http-headers.js');
    const log = job.sink === 'file' ? await openLog(captureKind, logOptions('file')) : null;
    const sink = log ?? { name: 'drop', append: async () => undefined, read: () => (async function* () {})(), commit: async () => undefined, close: async () => undefined };
    const recorder = new CaptureRecorder({ sink, logger: pino({ level: 'warn' }), agent: 'bench', service: 'bench' });
    const { counters } = recorder.metrics;
    const exchange = () => {
      const started = recorder.begin('proxy', 'GET', '/', requestHead, { host: '127.0.0.1:40000', 'user-agent': 'Go-http-client/1.1', 'accept-encoding': 'gzip' });
      started.requestHeaders = endToEndFromRaw(requestHead);
      const requestBody = recorder.bodyTap();
      const responseBody = recorder.bodyTap();
      const headers = endToEndFromRaw(responseHead);
      recorder.metrics.observeAddedLatency(0.0002);
      responseBody.add(body);
      recorder.complete(started, { requestBody, response: { status: 200, headers, body: responseBody }, upstreamError: null, firstByte: started.start + 100, end: started.start + 200 });
    };
    const settled = async (lag: number) => {
      while (counters.delivered + lag < counters.recorded) await new Promise((done) => setTimeout(done, 1));
    };
    // Exchanges complete 40 a turn of the event loop, never more than 2,000 ahead of the log.
    prepare = (count) => async () => {
      for (let i = 0; i < count; i += 40) {
        for (let j = 0; j < 40; j++) exchange();
        await new Promise((done) => setImmediate(done));
        await settled(2000);
      }
      await settled(0);
    };
    close = async () => {
      await recorder.close(5000);
      await sink.close();
    };
  } else {
    const { captureV2Defaults } = await load<typeof import('../shared/records/types.js')>('shared/records/types.js');
    const log = await openLog(captureKind, logOptions(job.sink));
    const capture = (): Capture => {
      const time = Date.now() * 1000;
      const headers = (head: string[]) => head.flatMap((name, i) => (i % 2 === 0 ? [{ name, value: head[i + 1]! }] : []));
      return {
        ...captureV2Defaults(),
        id: randomUUID(),
        captureTime: time,
        agent: 'bench',
        service: 'bench',
        request: { method: 'GET', path: '/', query: '', headers: headers(requestHead), body: Buffer.alloc(0), size: 0, truncated: false, sha256: null },
        response: { status: 200, headers: headers(responseHead.slice(0, 6)), body, size: body.length, truncated: false, sha256: 'ab'.repeat(32) },
        upstreamError: null,
        timings: { start: time, firstByte: time + 100, end: time + 200 },
        redactions: [],
        sampling: { rate: 1, mode: 'all' },
      };
    };
    const batch = job.batch;
    prepare = (count) => {
      const captures = Array.from({ length: count }, capture);
      return async () => {
        for (let i = 0; i < count; i += batch) await log.append(captures.slice(i, i + batch));
      };
    };
    close = () => log.close();
  }
  await prepare(Math.min(records, 10_000))();
  const work = prepare(records);
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  await close();
  return (used.user + used.system) / records;
}
