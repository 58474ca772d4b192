/** How much memory a Kafka read may hold, whatever the size of the window or the speed of the caller. */
export interface KafkaReadLimits {
  /**
   * Records waiting for the caller, by encoded bytes and by count. A bounded read queues them as
   * the record batches fetched (decoded when taken); a follow read (kafkajs's consumer) queues
   * them decoded, where a record weighs several times its bytes, so small ones are bounded by
   * the count. While full, the read stops fetching.
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

/**
 * Small on purpose: whatever waits long enough to outlive a young-generation collection (fetch
 * responses, and in a follow read decoded entries) fills the old generation, which V8 lets grow
 * instead of collecting. A 200,000-capture window read at the same rate peaked at 142 MiB RSS
 * with these, 248 MiB with 10,000 entries, 16 MiB and 512 KiB fetches (entries queued decoded).
 */
export const kafkaReadLimits: KafkaReadLimits = {
  queueBytes: 1024 * 1024,
  queueEntries: 1000,
  partitionFetchBytes: 64 * 1024,
  groupFetchBytes: 4 * 1024 * 1024,
};
