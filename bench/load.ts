import autocannon from 'autocannon';

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
  options: { seconds: number; connections?: number; overallRate?: number; path?: string },
): Promise<LoadFigures> {
  const cpuBefore = process.cpuUsage();
  const result = await autocannon({
    url: url + (options.path ?? ''),
    connections: options.connections ?? 32,
    duration: options.seconds,
    overallRate: options.overallRate,
    pipelining: 1,
  });
  const cpu = process.cpuUsage(cpuBefore);
  return {
    name,
    requestsPerSecond: result.requests.average,
    requests: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
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
      `| ${row.name} | ${row.requestsPerSecond.toFixed(0)} | ${row.p50Ms} | ${row.p99Ms} | ${row.errors} | ${row.non2xx} | ${row.cpuMicrosPerRequest.toFixed(1)} | ${(row.requestsPerSecond / baseline.requestsPerSecond).toFixed(3)} | ${(row.p99Ms / Math.max(baseline.p99Ms, 1e-9)).toFixed(3)} |`,
    );
  }
}
