import { Kafka, logLevel } from 'kafkajs';
import { logUnreachable, usageError } from '../../shared/errors.js';
import { reasonOf } from '../../shared/log/kafka-errors.js';
import { createCluster } from '../../shared/log/kafkajs-cluster.js';
import { buildReport, type DiffReport, type Thresholds } from '../report.js';
import { mergeSummaries, newSummary, type DiffSummary } from '../summary.js';
import { readFileGroupState } from './file-group-backend.js';
import { slicesFromJson, type PartitionSnapshot } from './partition-state.js';
import { readSnapshots, scaleOutTopics, stateKeys } from './state-topic.js';

/** Where a group's state is: Kafka's state topic, or a file-log store. */
export type GroupSource = { brokers: string[]; topicPrefix: string } | { store: string };

export interface GroupReportOptions {
  source: GroupSource;
  group: string;
  thresholds?: Thresholds;
  /** A window of capture time, on the bounds of the slices the workers kept (their --slice). */
  fromMs?: number;
  toMs?: number;
}

/** What a window of a duration reads as in a message. */
const sliceText = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/**
 * The report of a whole group of diff workers: the last committed snapshot of each partition,
 * its judged pairs and what the end of the logs would add (captures still unanswered), merged
 * over the slices of capture time in the window. Summaries of disjoint sets of pairs merge
 * exactly, so this is the report one diff process over the same records writes. `pendingPairs`:
 * pairs of the report not judged as verdicts yet (captures unanswered, shadow results waiting for
 * their reference).
 */
export async function buildGroupReport(options: GroupReportOptions): Promise<{ report: DiffReport; partitions: number[]; pendingPairs: number }> {
  const snapshots = await readGroupState(options);
  if (snapshots.length === 0) {
    const where = 'store' in options.source ? `store ${options.source.store}` : scaleOutTopics(options.source.topicPrefix).state;
    throw usageError(`no state of diff group ${options.group} in ${where}: check --group and the log flags, and that workers ran with diff --follow --group ${options.group}`);
  }
  const { settings } = snapshots[0]!;
  for (const [flag, ms] of [['--from', options.fromMs], ['--to', options.toMs]] as const) {
    if (ms !== undefined && ms % settings.sliceMs !== 0) {
      throw usageError(`${flag} ${new Date(ms).toISOString()} is not on a slice bound: diff group ${options.group} keeps its summaries per ${sliceText(settings.sliceMs)} of capture time; give a multiple of ${sliceText(settings.sliceMs)}`);
    }
  }
  const inWindow = (startMs: number) => (options.fromMs === undefined || startMs >= options.fromMs) && (options.toMs === undefined || startMs < options.toMs);
  let summary: DiffSummary | undefined;
  let pendingPairs = 0;
  for (const snapshot of snapshots) {
    for (const slices of [snapshot.slices, snapshot.tail]) {
      for (const [startMs, part] of slicesFromJson(slices)) {
        if (!inWindow(startMs)) continue;
        summary = summary ? mergeSummaries(summary, part) : part;
        if (slices === snapshot.tail) for (const route of part.routes.values()) pendingPairs += Object.values(route.counts).reduce((a, b) => a + b, 0);
      }
    }
  }
  const report = buildReport(summary ?? newSummary(), {
    thresholds: options.thresholds,
    fromMs: options.fromMs ?? settings.fromMs,
    toMs: options.toMs,
    baselineTarget: settings.baselineTarget,
    noiseThresholds: settings.noiseThresholds,
  });
  return { report, partitions: snapshots.map((s) => s.partition).sort((a, b) => a - b), pendingPairs };
}

async function readGroupState(options: GroupReportOptions): Promise<PartitionSnapshot[]> {
  const { source } = options;
  if ('store' in source) return (await readFileGroupState(source.store, options.group)).map((record) => record.snapshot);
  const topic = scaleOutTopics(source.topicPrefix).state;
  const kafka = new Kafka({ clientId: 'shadowtap-report', brokers: source.brokers, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 3 } });
  const admin = kafka.admin();
  const cluster = createCluster(kafka);
  const unreachable = (error: unknown) => logUnreachable(`cannot read ${topic} on Kafka at ${source.brokers.join(',')}: ${reasonOf(error)}`, error);
  try {
    await admin.connect().catch((error) => {
      throw unreachable(error);
    });
    if (!(await admin.listTopics()).includes(topic)) return [];
    await cluster.connect();
    await cluster.addTargetTopic(topic);
    // The group's partitions are those of the captures topic; the state topic was created with as many.
    const statePartitions = (await admin.fetchTopicOffsets(topic)).length;
    const captures = scaleOutTopics(source.topicPrefix).captures;
    const partitions = (await admin.listTopics()).includes(captures) ? (await admin.fetchTopicOffsets(captures)).map((p) => p.partition) : [];
    const latest = await readSnapshots(cluster, admin, topic, stateKeys(options.group, partitions, statePartitions), unreachable);
    return [...latest.values()];
  } finally {
    await admin.disconnect().catch(() => undefined);
    await cluster.disconnect().catch(() => undefined);
  }
}
