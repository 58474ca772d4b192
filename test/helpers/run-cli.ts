import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../shared/package-root.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `shadowtap` CLI as a user would, in its own process. */
/** `nodeArgs` go to node itself, before the script (e.g. --max-old-space-size). */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; nodeArgs?: string[]; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(packageRoot(), 'dist', 'cli', 'main.js'), ...args], {
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
