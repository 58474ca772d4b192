import { createWriteStream, type WriteStream } from 'node:fs';
import { usageError } from '../../shared/errors.js';
import { serveMetrics } from '../../shared/metrics-server.js';
import { DiffMetrics } from '../../diff/diff-metrics.js';
import type { NoiseThresholds } from '../../diff/field-calibration.js';
import type { PairRecord } from '../../diff/pair-record.js';
import { RollingSummary } from '../../diff/rolling-summary.js';
import { runDiffWorker } from '../../diff/scale-out/diff-worker.js';
import { openFileGroup } from '../../diff/scale-out/file-group-backend.js';
import type { GroupBackend } from '../../diff/scale-out/group-backend.js';
import { openKafkaGroup } from '../../diff/scale-out/kafka-group-backend.js';
import { logOptionsFrom } from '../common.js';
import type { DiffFlags } from './diff.js';

/** The flags of `shadowtap diff` a worker of a group uses (cli/commands/diff.ts parses them). */
export type DiffGroupFlags = Omit<DiffFlags, 'group' | 'format'> & { group: string; format: string; schemaRegistry?: string };

/**
 * `shadowtap diff --follow --group G`: one diff worker of a group, on Kafka (a consumer group)
 * or on a file-log store (lease files). It writes no report itself: its verdicts and partial
 * summaries go to the group's state (Kafka topics, or files in the store), from which
 * `shadowtap report --group G` builds the group's report.
 */
export async function diffGroupCommand(flags: DiffGroupFlags, accepted: string | undefined, noiseThresholds: NoiseThresholds): Promise<number> {
  const log = logOptionsFrom(flags);
  if (!flags.follow) throw usageError(`--group needs --follow: workers of a group run until stopped; build the report with shadowtap report --group ${flags.group}`);
  if (flags.to !== undefined) throw usageError(`--group runs until stopped and takes no --to; give the window to shadowtap report --group ${flags.group}`);
  if (flags.format !== 'jsonl' && flags.format !== 'text') {
    throw usageError(`--group workers write no ${flags.format} report: build it with shadowtap report --group ${flags.group} --format ${flags.format}`);
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const rolling = new RollingSummary();
  const metrics = flags.metricsListen ? new DiffMetrics(rolling) : undefined;
  const server = metrics && flags.metricsListen ? await serveMetrics(metrics.registry, flags.metricsListen) : undefined;
  if (server) process.stderr.write(`shadowtap: diff metrics on ${server.url}\n`);
  const timer = setInterval(() => process.stderr.write(`${rolling.line()}\n`), flags.summaryInterval * 1000).unref();
  let lines: WriteStream | undefined;
  let started = false;
  const writeLine =
    flags.format === 'jsonl' ? (flags.out ? ((lines = createWriteStream(flags.out)), (r: PairRecord) => void lines!.write(`${JSON.stringify(r)}\n`)) : (r: PairRecord) => void process.stdout.write(`${JSON.stringify(r)}\n`)) : undefined;
  try {
    const backend: GroupBackend = log.brokers?.length
      ? await openKafkaGroup({
          brokers: log.brokers,
          topicPrefix: log.topicPrefix!,
          partitions: log.partitions!,
          clientId: 'shadowtap-diff',
          group: flags.group,
          schemaRegistry: flags.schemaRegistry,
          fromMs: flags.from,
        })
      : await openFileGroup({ store: log.store!, group: flags.group, fromMs: flags.from });
    if (backend.partitionCount === 1) process.stderr.write(`shadowtap: diff group ${flags.group}: the log has one partition, so one worker does all the work (create it with more partitions to split it)\n`);
    await runDiffWorker(backend, {
      group: flags.group,
      fromMs: flags.from,
      ignore: flags.ignore,
      arrayKeys: flags.arrayKey,
      routes: flags.route,
      numberTolerance: flags.numberTolerance,
      accepted,
      samplesPerRoute: flags.samplesPerRoute,
      joinWindow: flags.joinWindow,
      bucketMs: flags.bucketSeconds * 1000,
      ...(flags.slice !== undefined && { sliceMs: flags.slice }),
      baselineTarget: flags.baselineTarget?.href,
      noiseThresholds,
      ...(flags.commitInterval !== undefined && { commitIntervalMs: flags.commitInterval }),
      signal: controller.signal,
      onCommitted(records) {
        for (const record of records) {
          if (metrics) metrics.observe(record);
          else rolling.add(record.route, record.verdict);
          writeLine?.(record);
        }
      },
      onAssigned: (partitions) => {
        started = true;
        process.stderr.write(`shadowtap: diff group ${flags.group}: this worker owns partitions ${partitions.join(', ') || '(none)'}\n`);
      },
      onWarning: (message) => process.stderr.write(`shadowtap: ${message}\n`),
    });
  } finally {
    clearInterval(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (started) process.stderr.write(`${rolling.line()}\n`);
    await server?.close();
    if (lines) await new Promise<void>((resolve) => lines!.end(() => resolve()));
  }
  process.stderr.write(`shadowtap: diff worker stopped; its partitions are committed. Build the group's report with: shadowtap report --group ${flags.group}\n`);
  return 0;
}
