import autocannon from 'autocannon';

export interface LoadFigures {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

/** Drives `url` with autocannon (closed loop, or a fixed rate with overallRate) and returns its figures. */
export async function load(
  name: string,
  url: string,
  options: { seconds: number; connections?: number; overallRate?: number; path?: string } ,
): Promise<LoadFigures> {
  const result = await autocannon({
    url: url + (options.path ?? ''),
    connections: options.connections ?? 32,
    duration: options.seconds,
    overallRate: options.overallRate,
    pipelining: 1,
  });
  return {
    name,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export function printTable(rows: LoadFigures[], baseline: LoadFigures): void {
  console.log('| run | req/s | p50 ms | p99 ms | errors | non-2xx | throughput vs baseline | p99 vs baseline |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${row.requestsPerSecond.toFixed(0)} | ${row.p50Ms} | ${row.p99Ms} | ${row.errors} | ${row.non2xx} | ${(row.requestsPerSecond / baseline.requestsPerSecond).toFixed(3)} | ${(row.p99Ms / Math.max(baseline.p99Ms, 1e-9)).toFixed(3)} |`,
    );
  }
}
