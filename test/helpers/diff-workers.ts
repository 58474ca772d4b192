import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../shared/package-root.js';
import type { Capture, Result } from '../../shared/records/types.js';
import { baseMs, capture, json, result } from './diff-pairs.js';

/**
 * Where the scale-out tests' records start, relative to diff-pairs' base time: 15 minutes ago
 * (Kafka's 7-day retention would delete older records mid-test), on a minute bound + 100 ms, so
 * with a record every 200 ms and results 5.5 ms after their capture no pair straddles a minute
 * (the slices of `diff --slice 1m`).
 */
export function recentStartMs(): number {
  return Math.floor((Date.now() - 15 * 60_000) / 60_000) * 60_000 + 100 - baseMs;
}

/**
 * Pairs of every kind, over several routes and minutes: matches, body mismatches, shadow
 * errors, captures never answered, results without capture, results written twice, reference
 * results (replay --reference: written just before the shadow's, one in five, of which some
 * answer request-only captures), and latencies timed alike so percentiles are compared too.
 * `unanswered: false` leaves out the captures never answered, `references: false` the references (in
 * live mirroring with references, a shadow result waits for its reference up to a minute of log
 * time: the last minute of a test's records would be judged by reports only, not yet as verdicts).
 */
export function scaleOutRecords(startMs: number, from: number, count: number, options: { unanswered?: boolean; references?: boolean } = {}): { captures: Capture[]; results: Result[] } {
  const captures: Capture[] = [];
  const results: Result[] = [];
  for (let i = from; i < from + count; i++) {
    const id = `req-${i}`;
    const route = i % 3 === 0 ? `/orders/${i}` : `/users/${i}`;
    const atMs = startMs + i * 200;
    const stable = json({ id: i, name: 'n', total: i % 7 });
    const requestOnly = i % 25 === 1 && options.references !== false;
    captures.push(capture(id, route, requestOnly ? null : stable, atMs, 'GET', 1000 + (i % 97) * 150));
    if (i % 50 === 7 && options.unanswered !== false) continue; // never answered: missing
    if (i % 5 === 1 && options.references !== false) results.push(result(id, stable, atMs + 5, { role: 'reference', target: 'http://stable-reference', latencyMicros: 800 + (i % 61) * 190, replayMode: 'follow' }));
    const shadowBody = i % 11 === 0 ? { id: i, name: 'n', total: (i % 7) + 1 } : { id: i, name: 'n', total: i % 7 };
    const sent = result(id, i % 37 === 0 ? null : json(shadowBody), atMs + 5, { latencyMicros: 900 + (i % 89) * 170, replayMode: 'follow' });
    results.push(sent);
    if (i % 40 === 3) results.push(sent); // written twice: counted once
    if (i % 100 === 9) results.push(result(`ghost-${i}`, json({}), atMs + 5)); // no capture: unpaired
  }
  return { captures, results };
}

export interface WorkerProcess {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** A `shadowtap diff --follow --group` process, committing often, its stderr kept. */
export function startDiffWorker(group: string, logArgs: string[], extra: string[] = []): WorkerProcess {
  const child = spawn(
    process.execPath,
    [join(packageRoot(), 'dist', 'cli', 'main.js'), 'diff', '--follow', '--group', group, ...logArgs, '--commit-interval', '300', '--summary-interval', '3600', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

/** A report with its generation time blanked: two reports of the same pairs are then deep-equal. */
export const withoutTime = <R extends { generatedAt: string }>(report: R): R => ({ ...report, generatedAt: '' });

/** `sum by (route, verdict) (shadowtap_diff_pairs_total)` over a real scrape of each worker's --metrics-listen endpoint. */
export async function scrapedPairsByRoute(workers: WorkerProcess[]): Promise<Map<string, Record<string, number>>> {
  const sums = new Map<string, Record<string, number>>();
  for (const worker of workers) {
    const url = /diff metrics on (\S+)/.exec(worker.stderr())?.[1];
    if (!url) throw new Error(`a worker did not say where its metrics are: ${worker.stderr()}`);
    const response = await fetch(url);
    if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
    for (const match of (await response.text()).matchAll(/^shadowtap_diff_pairs_total\{route="([^"]*)",verdict="([^"]*)"\} (\d+)$/gm)) {
      const counts = sums.get(match[1]!) ?? {};
      counts[match[2]!] = (counts[match[2]!] ?? 0) + Number(match[3]);
      sums.set(match[1]!, counts);
    }
  }
  return sums;
}

/** A report's counts by route and verdict, the verdicts it has none of left out (as a counter never incremented is absent). */
export function routeCounts(report: { routes: Array<{ route: string; counts: Record<string, number> }> }): Map<string, Record<string, number>> {
  return new Map(report.routes.map((r) => [r.route, Object.fromEntries(Object.entries(r.counts).filter(([, n]) => n > 0))]));
}
