import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Round robin over the members that subscribe to each topic. kafkajs's own round robin hands the
 * leader's topics to every member of the group: two replays that share a group name (the
 * default one) but read different topics then get each other's partitions, and a read that is
 * handed none of its own ends at once, having missed everything.
 */
export const subscribedRoundRobin: PartitionAssigner = ({ cluster }) => ({
  name: 'ShadowtapSubscribedRoundRobin',
  version: 0,
  async assign({ members }) {
    const subscribers = new Map<string, string[]>();
    for (const { memberId, memberMetadata } of members) {
      for (const topic of AssignerProtocol.MemberMetadata.decode(memberMetadata)?.topics ?? []) {
        subscribers.set(topic, [...(subscribers.get(topic) ?? []), memberId]);
      }
    }
    // The leader's metadata covers its own topics; the other members' are added here.
    await cluster.addMultipleTargetTopics([...subscribers.keys()]);
    const assignment = new Map(members.map(({ memberId }) => [memberId, {} as Record<string, number[]>]));
    for (const [topic, memberIds] of subscribers) {
      memberIds.sort();
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map(({ partitionId }) => partitionId)
        .sort((a, b) => a - b);
      partitions.forEach((partition, i) => {
        const topics = assignment.get(memberIds[i % memberIds.length]!)!;
        (topics[topic] ??= []).push(partition);
      });
    }
    return [...assignment].map(([memberId, topics]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: topics, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: this.name, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
