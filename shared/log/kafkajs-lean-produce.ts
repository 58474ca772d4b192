import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { encodeProduceRequest, type ProduceMessage, type ProduceRequestFields } from './kafka-record-batch.js';

/**
 * Swaps parts of kafkajs 2.2's produce path for leaner equivalents in the thread that loads this
 * module (the producer thread), before kafkajs itself is loaded there:
 * - the produce request's encoder (versions 3 to 7), for `encodeProduceRequest`: the same
 *   bytes at a fraction of the CPU, which on a 2-core host is taken from the proxied requests;
 * - the grouping of messages by partition, which copies the partition's array for every message;
 * - gzip at level 1 instead of zlib's default 6: half the CPU a record (1.7 vs 3.5 µs for 1 KB
 *   JSON captures) for a few percent more bytes; any Kafka client reads it the same. And in one
 *   synchronous call: this thread has no one else to serve, while zlib's asynchronous form costs
 *   a stream, a thread-pool hop and their callbacks per batch (about as much CPU as the gzip).
 * Everything else (connections, metadata, idempotent sequence numbers, retries) stays kafkajs's.
 * Only for the exact kafkajs version pinned in package.json, and only when this module runs before
 * kafkajs loads in the thread; otherwise nothing is changed, kafkajs works as shipped, and one
 * warning says why.
 */
const require = createRequire(import.meta.url);

/** The one kafkajs release whose private produce path this replaces (package.json pins it exactly). */
export const supportedKafkajsVersion = '2.2.4';
/** Produce request versions whose encoding encodeProduceRequest reproduces byte for byte. */
const leanVersions = { min: 3, max: 7 };

type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: ProduceMessage }) => number;
type BuildRequest = (fields: ProduceRequestFields) => { request: Record<string, unknown>; response: unknown };
type Codec = { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> };

/** Whether the lean path is in place in this thread, and why not when it is not. */
export const leanProduce: { installed: boolean; reason: string | null } = install();
export const leanProduceInstalled = leanProduce.installed;
if (!leanProduce.installed) {
  // Once per producer thread: kafkajs still works as shipped, only slower.
  process.emitWarning(`shadowtap: kafkajs's own produce path is used (${leanProduce.reason})`, { code: 'SHADOWTAP_LEAN_PRODUCE' });
}

function install(): { installed: boolean; reason: string | null } {
  try {
    const version = (require('kafkajs/package.json') as { version: string }).version;
    if (version !== supportedKafkajsVersion) return { installed: false, reason: `kafkajs ${version} is not ${supportedKafkajsVersion}` };
    // The producer keeps the grouping function it found when it loaded: replacing it later does nothing.
    if (require.cache[require.resolve('kafkajs/src/producer/index.js')]) {
      return { installed: false, reason: 'kafkajs was loaded in this thread before the lean produce path' };
    }
    const produce = require('kafkajs/src/protocol/requests/produce/index.js') as { protocol: (v: { version: number }) => BuildRequest };
    const groupPath = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
    require(groupPath);
    const groupModule = require.cache[groupPath];
    if (typeof produce.protocol !== 'function' || !groupModule) return { installed: false, reason: "kafkajs's produce modules are not where 2.2.4 has them" };
    groupModule.exports = groupMessagesPerPartition;

    // Public API from here on: kafkajs's codec registry, with gzip at level 1.
    const { CompressionCodecs, CompressionTypes } = require('kafkajs') as {
      CompressionCodecs: Record<number, () => Codec>;
      CompressionTypes: Record<string, number>;
    };
    const gzipType = CompressionTypes.GZIP!;
    const shipped = CompressionCodecs[gzipType]!();
    const fastGzip: Codec = {
      compress: async (encoder) => zlib.gzipSync(encoder.buffer, { level: zlib.constants.Z_BEST_SPEED }),
      decompress: (buffer) => shipped.decompress(buffer),
    };
    CompressionCodecs[gzipType] = () => fastGzip;

    const original = produce.protocol;
    produce.protocol = ({ version }) => {
      const build = original({ version });
      if (Number(version) < leanVersions.min || Number(version) > leanVersions.max) return build;
      return (fields) => {
        const built = build(fields);
        const encode = async () => {
          const bytes = await encodeProduceRequest(fields, (records) => {
            const codec = CompressionCodecs[fields.compression ?? 0];
            if (!codec) throw new Error(`kafkajs has no codec for compression type ${fields.compression}`);
            return codec().compress({ buffer: records });
          });
          // kafkajs's request framing accepts anything shaped like its Encoder.
          return { buf: bytes, buffer: bytes };
        };
        return { ...built, request: { ...built.request, encode } };
      };
    };
    return { installed: true, reason: null };
  } catch (error) {
    return { installed: false, reason: (error as Error).message };
  }
}

/** kafkajs's groupMessagesPerPartition, linear instead of quadratic. */
function groupMessagesPerPartition(args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: ProduceMessage[];
  partitioner: Partitioner;
}): Record<number, ProduceMessage[]> {
  const { topic, partitionMetadata, messages, partitioner } = args;
  const groups: Record<number, ProduceMessage[]> = {};
  if (partitionMetadata.length === 0) return groups;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (groups[partition] ??= []).push(message);
  }
  return groups;
}
