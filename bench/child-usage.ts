import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { readFileSync, writeFileSync } from 'node:fs';

/**
 * What a benchmarked program cost, from outside: wall-clock start and exit, CPU of every thread,
 * peak RSS. A node program is started with this module preloaded (`--import`), which writes its
 * own process.resourceUsage() on exit; any other program runs under `sh`, whose `times` gives the
 * CPU of its finished child (peak RSS is then unknown).
 */
export interface ChildUsage {
  /** ms since the epoch */
  startMs: number;
  exitMs: number;
  exitCode: number | null;
  cpuMs: number;
  maxRssMiB: number | null;
  stderr: string;
}

const reportEnv = 'SHADOWTAP_BENCH_USAGE_FILE';

export interface MeasuredOptions {
  /** A node program: preload the reporter (CPU and peak RSS of the process itself). */
  node?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Polled every 200 ms: once true, the program is sent SIGTERM (for a program that does not end by itself). */
  until?: () => boolean;
}

export async function runMeasured(command: string, args: string[], options: MeasuredOptions = {}): Promise<ChildUsage> {
  const report = join(tmpdir(), `shadowtap-bench-usage-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  const [file, argv] = options.node
    ? [process.execPath, ['--import', new URL(import.meta.url).href, command, ...args]]
    : ['sh', ['-c', '"$@"; status=$?; times >&2; exit $status', 'sh', command, ...args]];
  const startMs = Date.now();
  const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env, [reportEnv]: report } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const poll = options.until && setInterval(() => {
    if (!options.until!()) return;
    clearInterval(poll);
    // Under sh, the program is the shell's one child; sh then prints its times.
    const pid = options.node ? child.pid : childOf(child.pid!);
    if (pid !== undefined) process.kill(pid, 'SIGTERM');
  }, 200);
  const exitCode = await exited;
  clearInterval(poll);
  const exitMs = Date.now();
  if (options.node) {
    const usage = JSON.parse(await readFile(report, 'utf8').catch(() => '{}')) as { cpuMs?: number; maxRssKiB?: number };
    await rm(report, { force: true });
    return { startMs, exitMs, exitCode, cpuMs: usage.cpuMs ?? NaN, maxRssMiB: usage.maxRssKiB === undefined ? null : usage.maxRssKiB / 1024, stderr };
  }
  // `times` prints the shell's user and system time, then its children's: "0m1.234s 0m0.567s".
  const lines = stderr.trim().split('\n');
  const children = lines[lines.length - 1] ?? '';
  const cpuMs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, [, m, s]) => sum + (Number(m) * 60 + Number(s)) * 1000, 0);
  return { startMs, exitMs, exitCode, cpuMs: cpuMs || NaN, maxRssMiB: null, stderr: lines.slice(0, -2).join('\n') };
}

function childOf(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    return children[0] ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}

// Preloaded into a measured node program: its main thread writes the whole process's usage at exit.
const reportFile = process.env[reportEnv];
if (reportFile && isMainThread) {
  process.once('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(reportFile, JSON.stringify({ cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000, maxRssKiB: usage.maxRSS }));
  });
}
