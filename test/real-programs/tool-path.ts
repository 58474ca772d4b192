import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../shared/package-root.js';
import type { PairRecord } from '../../diff/pair-record.js';
import { runCli } from '../helpers/run-cli.js';
import { waitFor } from '../helpers/wait-for.js';
import { openFileLog } from '../../shared/log/file-log.js';
import { captureKind, resultKind, type RecordKind } from '../../shared/log/record-log.js';
import type { Capture, Result } from '../../shared/records/types.js';
import { readAll } from '../helpers/local-server.js';
import type { RealCase } from './real-case.js';
import { send } from './send-request.js';

/** What the tool said about a case: captures in the order they were sent, and its verdicts. */
export interface ToolRun {
  captures: Capture[];
  results: Result[];
  pairs: PairRecord[];
  diffExitCode: number | null;
}

function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

async function records<T>(kind: RecordKind<T>, dir: string): Promise<T[]> {
  const log = await openFileLog(kind, { dir });
  try {
    return await readAll(log);
  } finally {
    await log.close();
  }
}

async function cli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const run = await runCli(args);
  if (run.code !== 0 && run.code !== 1) throw new Error(`shadowtap ${args[0]} exited ${run.code}: ${run.stderr.trim()}`);
  return run;
}

/**
 * The user's path with default settings: `shadowtap capture` in front of a fresh stable, the
 * case's traffic through it, `shadowtap replay` of the whole log to a fresh shadow, then
 * `shadowtap diff --format jsonl`: the JSON report's per-pair form (the JSON report itself keeps
 * only samples), one verdict per request id.
 */
export async function runTool(realCase: RealCase): Promise<ToolRun> {
  const dir = await mkdtemp(join(tmpdir(), 'verdict-case-'));
  const storeDir = join(dir, 'store');
  const store = ['--store', storeDir];
  const [stable, shadow] = await Promise.all([realCase.start('stable'), realCase.start('shadow')]);
  try {
    const agent = spawn(
      process.execPath,
      [join(packageRoot(), 'dist', 'cli', 'main.js'), 'capture', '--listen', '127.0.0.1:0', '--upstream', stable.url, ...store, '--spool-dir', join(dir, 'spool')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    agent.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)));
    let proxyUrl = '';
    try {
      await waitFor(() => {
        if (agent.exitCode !== null) throw new Error(`shadowtap capture exited early: ${stderr.trim()}`);
        const line = stderr.split('\n').find((l) => l.includes('capture agent listening'));
        if (line) proxyUrl = (JSON.parse(line) as { url: string }).url;
        return proxyUrl !== '';
      }, 'shadowtap capture to listen', 20_000);
      for (const request of realCase.requests) await send(proxyUrl, realCase, request);
    } finally {
      agent.kill('SIGTERM');
    }
    const code = await exited;
    if (code !== 0) throw new Error(`shadowtap capture exited ${code}: ${stderr.trim()}`);

    // One request at a time, in capture order, as the truth was taken: with the default 64 in flight a
    // window's requests reach the shadow in any order, and a request that changes its state (json-server
    // 1.0.0-beta.3 deletes the item on HEAD /posts/2) then changes earlier answers: a difference of order, not of version.
    await cli(['replay', '--target', shadow.url, ...store, '--no-progress', '--concurrency', '1']);
    const pairsFile = join(dir, 'pairs.jsonl');
    const diff = await cli(['diff', ...store, '--format', 'jsonl', '--out', pairsFile]);
    return {
      // Sent one after the other, so capture times give the order of the case's requests.
      captures: (await records(captureKind, storeDir)).sort((a, b) => a.captureTime - b.captureTime),
      results: await records(resultKind, storeDir),
      pairs: jsonLines<PairRecord>(await readFile(pairsFile, 'utf8')),
      diffExitCode: diff.code,
    };
  } finally {
    await Promise.all([stable.close(), shadow.close()]);
    await rm(dir, { recursive: true, force: true });
  }
}
