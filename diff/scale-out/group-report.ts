import { Kafka, logLevel } from 'kafkajs';
import { logUnreachable, usageError } from '../../shared/errors.js';
import { reasonOf } from '../../shared/log/kafka-errors.js';
import { createCluster } from '../../shared/log/kafkajs-cluster.js';
import { buildReport, type DiffReport, type Thresholds } from '../report.js';
import { mergeSummaries, summaryFromJson, type DiffSummary } from '../summary.js';
import type { PartitionSnapshot } from './partition-state.js';
import { readSnapshots, scaleOutTopics, stateKeys } from './state-topic.js';

export interface GroupReportOptions {
  brokers: string[];
  topicPrefix: string;
  group: string;
  thresholds?: Thresholds;
}

/**
 * The report of a whole group of diff workers: the last committed snapshot of each partition,
 * its judged pairs and what the end of the logs would add (captures still unanswered), merged.
 * Summaries of disjoint partitions merge exactly, so this is the report one diff process over
 * the same records writes.
 */
export async function buildGroupReport(options: GroupReportOptions): Promise<{ report: DiffReport; partitions: number[] }> {
  const { snapshots } = await readGroupState(options);
  if (snapshots.length === 0) {
    throw usageError(`no state of diff group ${options.group} in ${scaleOutTopics(options.topicPrefix).state}: check --group and --topic-prefix, and that workers ran with diff --follow --group ${options.group}`);
  }
  let summary: DiffSummary | undefined;
  for (const snapshot of snapshots) {
    const part = mergeSummaries(summaryFromJson(snapshot.summary), summaryFromJson(snapshot.tail));
    summary = summary ? mergeSummaries(summary, part) : part;
  }
  const { settings } = snapshots[0]!;
  const report = buildReport(summary!, { thresholds: options.thresholds, fromMs: settings.fromMs, baselineTarget: settings.baselineTarget, noiseThresholds: settings.noiseThresholds });
  return { report, partitions: snapshots.map((s) => s.partition).sort((a, b) => a - b) };
}

async function readGroupState(options: GroupReportOptions): Promise<{ snapshots: PartitionSnapshot[] }> {
  const topic = scaleOutTopics(options.topicPrefix).state;
  const kafka = new Kafka({ clientId: 'shadowtap-report', brokers: options.brokers, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 3 } });
  const admin = kafka.admin();
  const cluster = createCluster(kafka);
  const unreachable = (error: unknown) => logUnreachable(`cannot read ${topic} on Kafka at ${options.brokers.join(',')}: ${reasonOf(error)}`, error);
  try {
    await admin.connect().catch((error) => {
      throw unreachable(error);
    });
    if (!(await admin.listTopics()).includes(topic)) return { snapshots: [] };
    await cluster.connect();
    await cluster.addTargetTopic(topic);
    // The group's partitions are those of the captures topic; the state topic was created with as many.
    const statePartitions = (await admin.fetchTopicOffsets(topic)).length;
    const captures = scaleOutTopics(options.topicPrefix).captures;
    const partitions = (await admin.listTopics()).includes(captures) ? (await admin.fetchTopicOffsets(captures)).map((p) => p.partition) : [];
    const latest = await readSnapshots(cluster, admin, topic, stateKeys(options.group, partitions, statePartitions), unreachable);
    return { snapshots: [...latest.values()] };
  } finally {
    await admin.disconnect().catch(() => undefined);
    await cluster.disconnect().catch(() => undefined);
  }
}
