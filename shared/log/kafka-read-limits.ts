/** How much memory a Kafka read may hold, whatever the size of the window or the speed of the caller. */
export interface KafkaReadLimits {
  /**
   * Decoded entries waiting for the caller, by encoded bytes and by count (a decoded entry weighs
   * several times its encoded bytes, so small records are bounded by the count). While full, the
   * read stops fetching.
   */
  queueBytes: number;
  queueEntries: number;
  /**
   * What one fetch of one partition may return. A partition has two fetches in hand at most (one
   * being handed over while the next is on the wire); Kafka returns a larger record batch whole.
   */
  partitionFetchBytes: number;
  /** A group member's fetch of all its partitions together (kafkajs's consumer, `--follow`). */
  groupFetchBytes: number;
}

export const kafkaReadLimits: KafkaReadLimits = {
  queueBytes: 16 * 1024 * 1024,
  queueEntries: 10_000,
  partitionFetchBytes: 512 * 1024,
  groupFetchBytes: 16 * 1024 * 1024,
};
