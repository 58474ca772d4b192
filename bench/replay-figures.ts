import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { runReplay } from '../replay/replay-worker.js';
import { openFileLog } from '../shared/log/file-log.js';
import { openLog, type LogOptions } from '../shared/log/open-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { benchKafka, fill, itemsDocument, seconds } from './fixtures.js';
import { startPeer } from './replay-peers.js';

/**
 * The replay worker's figures, each against a baseline in the same run:
 *   1. maximum replay rate from Kafka vs a closed-loop undici client on the same server (two shadows: a 12-byte and a 1 KB JSON answer);
 *   2. --rate 1000 and --rate 5000: achieved rate and lateness p99;
 *   2b. (busy-rate) --rate 500 and 5000 with another process busy on one core: delivered, achieved rate, lateness p99; quiet runs as baseline;
 *   3. --pace recorded --speed 1: send gaps vs recorded gaps, p99 of the error;
 *   4. live mirroring at 2,000 requests/s: capture-to-shadow lag p99;
 *   5. memory after 1,000,000 replayed records vs after 100,000.
 *   node --expose-gc dist/bench/replay-figures.js [max|rate|busy-rate|recorded|lag|memory...]   (BENCH_SECONDS=N for 2 and 4; default 30)
 * The shadow, the capture agent and the load generator run on threads of their own (replay-peers.ts, autocannon workers),
 * so this process's event loop holds the replay worker alone, as in a deployment.
 */
const only = new Set(process.argv.slice(2));
const wanted = (name: string) => only.size === 0 || only.has(name);
const duration = seconds(30);

const shadow = await startPeer({ role: 'shadow' });
const targetUrl = shadow.ready;
const work = await mkdtemp(join(tmpdir(), 'shadowtap-replay-bench-'));
const kafka = wanted('max') ? await benchKafka() : undefined;

/** Requests a second of `connections` undici callers each sending the next request as soon as the last is answered. */
async function closedLoopRate(url: string, connections: number, runSeconds: number): Promise<number> {
  const pool = new Pool(url, { connections });
  const until = performance.now() + runSeconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        await (await pool.request({ method: 'GET', path: '/items/1' })).body.dump();
        done++;
      }
    }),
  );
  await pool.close();
  return done / runSeconds;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;
};
const p99 = (values: number[]) => quantile(values, 0.99);

try {
  if (wanted('max') && kafka) {
    // Twice: against the shadow of the other figures (a 12-byte answer, the cheapest server, so the
    // strictest ratio) and against one answering the capture benchmarks' ~1 KB JSON document.
    const jsonShadow = await startPeer({ role: 'shadow', body: itemsDocument });
    try {
      for (const [answer, url] of [['12-byte answer', targetUrl], ['1 KB JSON answer', jsonShadow.ready]] as const) {
        const baseline = await closedLoopRate(url, 64, 10);
        const log: LogOptions = { brokers: kafka.brokers, topicPrefix: `bench-${Date.now()}.`, partitions: 3 };
        const captures = await openLog(captureKind, log);
        const results = await openLog(resultKind, log);
        await fill(captures, Math.round(baseline * 10), Date.now() * 1000, () => 10);
        const summary = await runReplay({ source: captures, results, target: url, concurrency: 64, reference: false });
        await captures.close();
        await results.close();
        console.log(
          `1. max rate, shadow with a ${answer}: closed-loop undici ${baseline.toFixed(0)} req/s; replay from Kafka (results to Kafka) ${summary.achievedRate.toFixed(0)} req/s over ${summary.sent} records; ratio ${(summary.achievedRate / baseline).toFixed(3)}`,
        );
      }
    } finally {
      await jsonShadow.close();
    }
  }

  if (wanted('rate')) {
    for (const rate of [1000, 5000]) {
      const captures = await openFileLog(captureKind, { dir: join(work, `rate-${rate}`) });
      const results = await openFileLog(resultKind, { dir: join(work, `rate-${rate}`) });
      await fill(captures, rate * duration, Date.now() * 1000, () => 10);
      const summary = await runReplay({ source: captures, results, target: targetUrl, rate, concurrency: 256, reference: false });
      await captures.close();
      await results.close();
      console.log(
        `2. --rate ${rate} for ${duration} s: achieved ${summary.achievedRate.toFixed(1)} req/s (${((summary.achievedRate / rate - 1) * 100).toFixed(2)}%), dropped ${summary.dropped}, lateness p50 ${summary.latenessMs.p50} ms p99 ${summary.latenessMs.p99} ms max ${summary.latenessMs.max} ms`,
      );
    }
  }

  if (wanted('busy-rate')) {
    // The case: another process busy on one core. Quiet runs of the same rates are the baseline.
    for (const rate of [500, 5000]) {
      for (const busy of [false, true]) {
        const hog = busy ? spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }) : undefined;
        const dir = join(work, `busy-${rate}-${busy}`);
        const captures = await openFileLog(captureKind, { dir });
        const results = await openFileLog(resultKind, { dir });
        const total = rate * duration;
        await fill(captures, total, Date.now() * 1000, () => 10);
        // The send times themselves: achievedRate counts sends over their scheduled span, which a worker behind its schedule cannot change.
        let firstSent = Infinity;
        let lastSent = -Infinity;
        const summary = await runReplay({
          source: captures,
          results,
          target: targetUrl,
          rate,
          concurrency: 256,
          reference: false,
          onResult: ({ sentTime }) => {
            if (sentTime === null) return;
            firstSent = Math.min(firstSent, sentTime);
            lastSent = Math.max(lastSent, sentTime);
          },
        });
        hog?.kill('SIGKILL');
        const sentRate = (summary.sent - 1) / ((lastSent - firstSent) / 1e6);
        await captures.close();
        await results.close();
        console.log(
          `2b. --rate ${rate} for ${duration} s, ${busy ? 'another process busy on one core' : 'quiet (baseline)'}: delivered ${summary.sent}/${total} (${((summary.sent / total) * 100).toFixed(2)} %), dropped ${summary.dropped}, achieved ${summary.achievedRate.toFixed(1)} req/s (${((summary.achievedRate / rate - 1) * 100).toFixed(2)} %), sent over their own span ${sentRate.toFixed(1)} req/s (${((sentRate / rate - 1) * 100).toFixed(2)} %), lateness p50 ${summary.latenessMs.p50} ms p99 ${summary.latenessMs.p99} ms max ${summary.latenessMs.max} ms`,
        );
      }
    }
  }

  if (wanted('recorded')) {
    const captures = await openFileLog(captureKind, { dir: join(work, 'recorded') });
    const results = await openFileLog(resultKind, { dir: join(work, 'recorded') });
    const gaps = Array.from({ length: 3000 }, () => Math.round(Math.random() * 10_000));
    await fill(captures, gaps.length, Date.now() * 1000, (i) => gaps[i]!);
    const sent = new Map<string, number>();
    const recorded = new Map<string, number>();
    await runReplay({
      source: captures,
      results,
      target: targetUrl,
      reference: false,
      pace: 'recorded',
      speed: 1,
      onResult: (result, entry) => {
        sent.set(result.id, result.sentTime ?? NaN);
        recorded.set(result.id, entry.value.captureTime);
      },
    });
    await captures.close();
    await results.close();
    const errors: number[] = [];
    for (let i = 1; i < gaps.length; i++) {
      const a = `bench-${i - 1}`;
      const b = `bench-${i}`;
      errors.push(Math.abs(sent.get(b)! - sent.get(a)! - (recorded.get(b)! - recorded.get(a)!)) / 1000);
    }
    console.log(`3. --pace recorded --speed 1 over ${gaps.length} requests (gaps 0..10 ms): |send gap − recorded gap| p99 ${p99(errors).toFixed(3)} ms, max ${Math.max(...errors).toFixed(3)} ms`);
  }

  if (wanted('lag')) {
    const dir = join(work, 'lag');
    // Opened as the CLI opens it (default follow polling), since that is what users get.
    const captures = await openFileLog(captureKind, { dir });
    const results = await openFileLog(resultKind, { dir });
    const capture = await startPeer({ role: 'capture', dir, batchRecords: 200 });
    const stop = new AbortController();
    const lags: number[] = [];
    const replaying = runReplay({
      source: captures,
      results,
      target: targetUrl,
      reference: false,
      follow: true,
      signal: stop.signal,
      concurrency: 256,
      onResult: (result, entry) => lags.push(((result.sentTime ?? NaN) - entry.value.captureTime) / 1000),
    });
    // autocannon on a thread of its own too (workers: 1).
    const figures = await autocannon({ url: capture.ready, connections: 20, duration: Math.min(duration, 20), overallRate: 2000, workers: 1 });
    const captured = await capture.close();
    const deadline = Date.now() + 10_000;
    while (lags.length < captured.delivered! && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    await replaying;
    await captures.close();
    await results.close();
    console.log(
      `4. live mirroring at ${figures.requests.average.toFixed(0)} req/s through capture: ${lags.length} replayed, capture-to-shadow lag p50 ${quantile(lags, 0.5).toFixed(1)} ms, p99 ${p99(lags).toFixed(1)} ms; log append (${captured.appends} appends) p50 ${captured.appendP50Ms!.toFixed(2)} ms p99 ${captured.appendP99Ms!.toFixed(2)} ms`,
    );
  }

  if (wanted('memory')) {
    const captures = await openFileLog(captureKind, { dir: join(work, 'memory') });
    const results = await openFileLog(resultKind, { dir: join(work, 'memory') });
    await fill(captures, 1_000_000, Date.now() * 1000, () => 1);
    const gc = (globalThis as { gc?: () => void }).gc;
    let count = 0;
    let at100k = 0;
    let atEnd = 0;
    const heap = () => {
      gc?.();
      return process.memoryUsage().heapUsed;
    };
    // Both taken while the run is going (the last Result is the end), so what a run holds until it drains counts.
    const summary = await runReplay({
      source: captures,
      results,
      target: targetUrl,
      reference: false,
      concurrency: 64,
      onResult: () => {
        count++;
        if (count === 100_000) at100k = heap();
        if (count === 1_000_000) atEnd = heap();
      },
    });
    await captures.close();
    await results.close();
    console.log(`5. memory: heap after 100k ${(at100k / 2 ** 20).toFixed(1)} MiB, after ${summary.read} ${(atEnd / 2 ** 20).toFixed(1)} MiB; ratio ${(atEnd / at100k).toFixed(3)}${gc ? '' : ' (run with --expose-gc for a stable figure)'}`);
  }
} finally {
  await shadow.close();
  await kafka?.broker?.stop();
  await rm(work, { recursive: true, force: true });
}
