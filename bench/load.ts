import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';

export interface LoadFigures {
  name: string;
  requestsPerSecond: number;
  /** Requests completed in the run. */
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** CPU this process (every thread) spent per request during the run, in µs: load generator, servers and agent together. */
  cpuMicrosPerRequest: number;
}

/** Drives `url` with autocannon (closed loop, or a fixed rate with overallRate) and returns its figures. */
export async function load(
  name: string,
  url: string,
  options: { seconds: number; connections?: number; overallRate?: number; path?: string; headers?: Record<string, string> },
): Promise<LoadFigures> {
  const cpuBefore = process.cpuUsage();
  // autocannon's own histogram keeps whole milliseconds, too coarse for a p99 of a few ms: the
  // exact response times of 2xx answers are kept here in microseconds.
  const latencies = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const run = autocannon(
      { url: url + (options.path ?? ''), connections: options.connections ?? 32, duration: options.seconds, overallRate: options.overallRate, pipelining: 1, headers: options.headers },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    run.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode >= 200 && statusCode < 300) latencies.recordValue(Math.max(1, Math.round(responseTimeMs * 1000)));
    });
  });
  const cpu = process.cpuUsage(cpuBefore);
  const ms = (micros: number) => Math.round(micros / 10) / 100;
  return {
    name,
    requestsPerSecond: result.requests.average,
    requests: result.requests.total,
    p50Ms: ms(latencies.getValueAtPercentile(50)),
    p99Ms: ms(latencies.getValueAtPercentile(99)),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    cpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(1, result.requests.total),
  };
}

/** The mean of several runs of the same setup, e.g. a baseline measured before and after the others so drift cancels out. */
export function meanOf(name: string, runs: LoadFigures[]): LoadFigures {
  const mean = (pick: (f: LoadFigures) => number) => runs.reduce((sum, f) => sum + pick(f), 0) / runs.length;
  return {
    name,
    requestsPerSecond: mean((f) => f.requestsPerSecond),
    requests: mean((f) => f.requests),
    p50Ms: mean((f) => f.p50Ms),
    p99Ms: mean((f) => f.p99Ms),
    errors: mean((f) => f.errors),
    non2xx: mean((f) => f.non2xx),
    cpuMicrosPerRequest: mean((f) => f.cpuMicrosPerRequest),
  };
}

export function printTable(rows: LoadFigures[], baseline: LoadFigures): void {
  console.log('| run | req/s | p50 ms | p99 ms | errors | non-2xx | CPU µs/req | throughput vs baseline | p99 vs baseline |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${row.requestsPerSecond.toFixed(0)} | ${row.p50Ms.toFixed(2)} | ${row.p99Ms.toFixed(2)} | ${row.errors} | ${row.non2xx} | ${row.cpuMicrosPerRequest.toFixed(1)} | ${(row.requestsPerSecond / baseline.requestsPerSecond).toFixed(3)} | ${(row.p99Ms / Math.max(baseline.p99Ms, 1e-9)).toFixed(3)} |`,
    );
  }
}
