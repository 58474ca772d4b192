import type { ReplayProgress } from './progress.js';

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A plain line this often when the output is not a terminal (CI logs, files). */
const plainEveryMs = 5000;
const barWidth = 20;

/**
 * Shows replay progress: on a terminal one line redrawn in place (about 4 times a second, as
 * often as the worker reports); elsewhere a log line every few seconds.
 */
export class ProgressReporter {
  private previous: { sent: number; elapsedMs: number } = { sent: 0, elapsedMs: 0 };
  private rate = 0;
  private lastPlainAt = -Infinity;
  private drawn = false;

  constructor(
    private readonly output: ProgressOutput,
    private readonly label: string,
  ) {}

  update(progress: ReplayProgress): void {
    const dt = progress.elapsedMs - this.previous.elapsedMs;
    if (dt > 0) {
      this.rate = ((progress.sent - this.previous.sent) * 1000) / dt;
      this.previous = { sent: progress.sent, elapsedMs: progress.elapsedMs };
    }
    const line = formatProgress(this.label, progress, this.rate);
    if (this.output.isTTY) {
      const width = this.output.columns ?? 120;
      this.output.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
      this.drawn = true;
    } else if (progress.elapsedMs - this.lastPlainAt >= plainEveryMs) {
      this.output.write(`${line}\n`);
      this.lastPlainAt = progress.elapsedMs;
    }
  }

  /** Leaves the terminal line for what is printed next. */
  finish(): void {
    if (this.drawn) this.output.write('\n');
    this.drawn = false;
  }
}

export function formatProgress(label: string, p: ReplayProgress, ratePerSec: number): string {
  const parts = [label];
  if (p.fraction !== null) {
    const filled = Math.round(p.fraction * barWidth);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${Math.floor(p.fraction * 100)}%`);
  }
  parts.push(`sent ${p.sent}`, `${Math.round(ratePerSec)}/s`, `errors ${p.errors}`, `skipped ${p.skipped}`);
  if (p.dropped > 0) parts.push(`dropped ${p.dropped}`);
  parts.push(`in flight ${p.inFlight}`);
  if (p.lagMs !== null) parts.push(`lag ${formatDuration(p.lagMs)}`);
  if (p.circuitOpen) parts.push('CIRCUIT OPEN');
  if (p.fraction !== null && p.fraction > 0 && p.fraction < 1) {
    parts.push(`ETA ${formatDuration((p.elapsedMs * (1 - p.fraction)) / p.fraction)}`);
  }
  return parts.join('  ');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
