/**
 * The partition of a keyed record, chosen as Kafka's default partitioner chooses it (the Java
 * client's, and kafkajs's `Partitioners.DefaultPartitioner`): murmur2 of the key's UTF-8 bytes,
 * made positive, modulo the partition count. The file log uses it too, so a capture and its
 * results (keyed by the same request id) share a partition number on either log.
 */
export function partitionOf(key: string, partitions: number): number {
  return partitionOfBytes(Buffer.from(key, 'utf8'), partitions);
}

/** partitionOf for a key already in UTF-8 bytes. */
export function partitionOfBytes(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/** Kafka's murmur2 (seed 0x9747b28c), in 32-bit integer arithmetic. */
function murmur2(data: Buffer): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const whole = length - (length % 4);
  for (let i = 0; i < whole; i += 4) {
    let k = data.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length % 4;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}
