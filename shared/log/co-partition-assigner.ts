import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Hands each member the same partition numbers of every topic the group reads (Kafka Streams'
 * co-partitioning): captures and results are keyed by the capture id, so partition p of both
 * holds both halves of the same pairs, and the worker given p can join them alone. Partition
 * numbers are dealt round robin over the members sorted by id; topics must have equal
 * partition counts (checked before a worker joins: see checkCoPartitioned).
 */
export const coPartitionAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'ShadowtapCoPartition',
  version: 0,
  async assign({ members, topics }) {
    await cluster.addMultipleTargetTopics(topics);
    const counts = topics.map((topic) => cluster.findTopicPartitionMetadata(topic).length);
    // Past the smallest count a partition has no partner; the start-up check refuses such topics.
    const partitions = Math.min(...counts);
    const memberIds = members.map(({ memberId }) => memberId).sort();
    const assignment = new Map(memberIds.map((id) => [id, {} as Record<string, number[]>]));
    for (let partition = 0; partition < partitions; partition++) {
      const owned = assignment.get(memberIds[partition % memberIds.length]!)!;
      for (const topic of topics) (owned[topic] ??= []).push(partition);
    }
    return [...assignment].map(([memberId, owned]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: owned, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: this.name, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});

/** The one line that refuses topics a co-partitioned group cannot read, or undefined when their partition counts agree. */
export function coPartitionProblem(counts: ReadonlyArray<{ topic: string; partitions: number }>): string | undefined {
  if (new Set(counts.map((c) => c.partitions)).size <= 1) return undefined;
  const listed = [...counts].sort((a, b) => a.topic.localeCompare(b.topic)).map((c) => `${c.topic} has ${c.partitions}`).join(', ');
  return `diff workers of a group need the same partition count on every topic they read (a capture and its results share a partition number); ${listed}: recreate the topics with one --partitions`;
}
