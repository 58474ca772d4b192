import type { Percentiles } from './latency-histogram.js';
import type { ReplaySummary } from './replay-stats.js';
import type { SoakSummary } from './soak.js';

const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .filter(([, n]) => n > 0)
    .map(([key, n]) => `${key} ${n}`)
    .join(', ') || 'none';

const percentiles = (p: Percentiles) => (p.count === 0 ? 'n/a' : `p50 ${p.p50} ms  p90 ${p.p90} ms  p99 ${p.p99} ms  max ${p.max} ms`);

/** The end-of-run summary a person reads in the terminal. */
export function formatReplaySummary(summary: ReplaySummary, title = 'replay'): string {
  const lines = [
    `${title} finished in ${(summary.durationMs / 1000).toFixed(1)} s`,
    `  captures read    ${summary.read}${summary.deadLetters > 0 ? `  (dead letters ${summary.deadLetters})` : ''}`,
    `  sent             ${summary.sent}  (${summary.achievedRate}/s)`,
    `  responses        ${summary.responses}  (${counts(summary.statusClasses)})`,
    `  errors           ${counts(summary.errors)}`,
    `  skipped          ${counts(summary.skipped)}`,
    `  dropped          ${summary.dropped}`,
    `  lateness         ${percentiles(summary.latenessMs)}`,
    `  shadow latency   ${percentiles(summary.shadowLatencyMs)}`,
  ];
  if (summary.circuitOpens > 0) lines.push(`  circuit opened   ${summary.circuitOpens} time(s)`);
  if (summary.commitFailures > 0) lines.push(`  commit failures  ${summary.commitFailures} (those captures may be replayed again)`);
  if (summary.baseline) {
    const { sent, errors, dropped } = summary.baseline;
    lines.push(`  baseline         sent ${sent}, errors ${errors}${dropped > 0 ? `, dropped ${dropped} (its concurrency cap was full)` : ''}`);
  }
  if (summary.reference) {
    const { sent, errors, skipped } = summary.reference;
    lines.push(`  reference        sent ${sent}, errors ${errors}${skipped > 0 ? `, not sent ${skipped} (unsafe methods never reach a stable instance)` : ''}`);
  }
  if (summary.lag) lines.push(`  lag              last ${summary.lag.lastMs} ms, max ${summary.lag.maxMs} ms`);
  return `${lines.join('\n')}\n`;
}

export function formatSoakSummary(summary: SoakSummary): string {
  const header = `  ${'bucket start'.padEnd(24)} ${'captures'.padStart(8)} ${'recorded/s'.padStart(10)} ${'target/s'.padStart(9)} ${'achieved/s'.padStart(10)} ${'errors'.padStart(6)} ${'p99 ms'.padStart(8)}`;
  const rows = summary.buckets.map(
    (b) =>
      `  ${new Date(b.startMs).toISOString().padEnd(24)} ${String(b.captures).padStart(8)} ${String(b.recordedRate).padStart(10)} ${String(b.targetRate).padStart(9)} ${String(b.achievedRate).padStart(10)} ${String(b.errors).padStart(6)} ${String(b.latencyP99Ms).padStart(8)}`,
  );
  const title = `soak (compress ${summary.compress}, loop ${summary.loop}, amplify ${summary.amplify}, pass ${(summary.passMs / 1000).toFixed(1)} s)`;
  return `${formatReplaySummary(summary, title)}${header}\n${rows.join('\n')}\n`;
}
