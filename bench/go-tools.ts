import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Peers the replay benchmarks compare with, built from the Go module proxy with `go install`. */
export const goTools = {
  /** GoReplay's file replay; it links libpcap, so building it needs the libpcap headers. */
  goreplay: { name: 'GoReplay v1.3.2', module: 'github.com/buger/goreplay@v1.3.2', binary: 'goreplay' },
  vegeta: { name: 'vegeta v12.12.0', module: 'github.com/tsenart/vegeta/v12@v12.12.0', binary: 'vegeta' },
} as const;

/** Where installed tools are kept between runs: SHADOWTAP_BENCH_CACHE, else ~/.cache/shadowtap-bench. */
export const benchCache = process.env.SHADOWTAP_BENCH_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'shadowtap-bench');

/**
 * The tool's binary, installed into the cache folder the first time (saying so); undefined, with
 * a line saying why and what to do, where Go is missing or the build fails.
 */
export async function goTool(tool: (typeof goTools)[keyof typeof goTools]): Promise<string | undefined> {
  const bin = join(benchCache, 'go-bin');
  const path = join(bin, tool.binary);
  if (await access(path).then(() => true, () => false)) return path;
  try {
    await run('go', ['version']);
  } catch {
    console.log(`${tool.name}: skipped, Go is not installed (it is installed with go install ${tool.module})`);
    return undefined;
  }
  console.log(`installing ${tool.name} into ${bin}: go install ${tool.module} (from the Go module proxy; minutes the first time)`);
  try {
    await run('go', ['install', tool.module], { env: { ...process.env, GOBIN: bin }, maxBuffer: 16 * 1024 * 1024 });
    return path;
  } catch (error) {
    const output = `${(error as { stderr?: string }).stderr ?? ''}${(error as Error).message}`;
    const hint = /pcap\.h/.test(output) ? ' it needs the libpcap headers: apt-get install libpcap-dev' : ` ${output.trim().split('\n').slice(-1)[0]}`;
    console.log(`${tool.name}: skipped, go install failed:${hint}`);
    return undefined;
  }
}
