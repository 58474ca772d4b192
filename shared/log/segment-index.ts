import { crc32c } from './crc32c.js';

/**
 * Each segment of the file log has an index beside it (`<first offset>.index`, as Kafka's
 * segments do) with one fixed-size entry per block: where it starts, its first offset, how many
 * records it holds, its length and a CRC32C of its bytes. The segment stays a plain Avro
 * container any tool reads; the index is what lets a reader of a damaged segment say exactly
 * which blocks and how many records were lost, and skip them without trusting a damaged byte.
 */
export const INDEX_SUFFIX = '.index';
export const INDEX_ENTRY_BYTES = 32;

export interface IndexEntry {
  /** Byte position of the block in the segment. */
  position: number;
  firstOffset: number;
  count: number;
  /** Bytes of the whole block, its sync marker included. */
  length: number;
  /** CRC32C of the block's bytes. */
  crc: number;
  /**
   * The block was not written by this log's writer but found complete at the end of a segment
   * when it was reopened (a crash between block and index, or a foreign appender): its records
   * are checked against the schema before they are decoded.
   */
  adopted: boolean;
}

export const blockCrc = (block: Buffer): number => crc32c(block) >>> 0;

export function encodeIndexEntry(entry: IndexEntry): Buffer {
  const buf = Buffer.alloc(INDEX_ENTRY_BYTES);
  buf.writeUInt8(entry.adopted ? 1 : 0, 0);
  buf.writeUIntBE(entry.position, 2, 6);
  buf.writeUIntBE(entry.firstOffset, 10, 6);
  buf.writeUInt32BE(entry.count, 16);
  buf.writeUInt32BE(entry.length, 20);
  buf.writeUInt32BE(entry.crc, 24);
  buf.writeUInt32BE(crc32c(buf.subarray(0, 28)) >>> 0, 28);
  return buf;
}

/** The entries of an index, in order, up to the first torn (half-written) or damaged one. */
export function decodeIndexEntries(buf: Buffer): IndexEntry[] {
  const entries: IndexEntry[] = [];
  for (let at = 0; at + INDEX_ENTRY_BYTES <= buf.length; at += INDEX_ENTRY_BYTES) {
    const entry = buf.subarray(at, at + INDEX_ENTRY_BYTES);
    if ((crc32c(entry.subarray(0, 28)) >>> 0) !== entry.readUInt32BE(28)) break;
    entries.push({
      position: entry.readUIntBE(2, 6),
      firstOffset: entry.readUIntBE(10, 6),
      count: entry.readUInt32BE(16),
      length: entry.readUInt32BE(20),
      crc: entry.readUInt32BE(24),
      adopted: (entry.readUInt8(0) & 1) === 1,
    });
  }
  return entries;
}
