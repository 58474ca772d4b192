import { open, type FileHandle } from 'node:fs/promises';
import avro from 'avsc';
import type { Codec } from '../records/codec.js';
import { encodeBlock, encodeHeader, SYNC_BYTES } from './avro-container.js';
import { blockCrc, encodeIndexEntry, INDEX_ENTRY_BYTES } from './segment-index.js';
import { indexPathOf } from './segment-reader.js';

const longType = avro.Type.forSchema('long');
/** Room before a block's records for its two leading longs (count and byte size, at most 10 bytes each). */
const PREFIX_ROOM = 20;

/**
 * Appends blocks to one segment, the format the file log and the capture spool share: an Avro
 * object container whose header carries the writer's schema and its version (so records are read
 * with the schema they were written with, whatever version reads them), and an index entry per
 * block (its CRC and record count: a torn or damaged block is found and counted, never guessed).
 */
export class SegmentWriter {
  private constructor(
    readonly handle: FileHandle,
    private readonly index: FileHandle,
    private indexSize: number,
    readonly sync: Buffer,
    /** Bytes of the segment: where the next block goes. */
    public size: number,
    /** Offset the next record gets. */
    public nextOffset: number,
  ) {}

  /** A new segment at `path` (which must not exist) whose first record gets `firstOffset`. */
  static async create(path: string, codec: Codec<unknown>, firstOffset: number): Promise<SegmentWriter> {
    // The index first: a reader takes a segment without one for a segment older than indexes.
    const index = await open(indexPathOf(path), 'wx');
    const handle = await open(path, 'wx');
    return SegmentWriter.start(handle, index, codec, firstOffset);
  }

  /** Starts the segment open in `handle` over again, empty: its header was cut or is another version's. */
  static async restart(path: string, handle: FileHandle, codec: Codec<unknown>, firstOffset: number): Promise<SegmentWriter> {
    await handle.truncate(0);
    return SegmentWriter.start(handle, await open(indexPathOf(path), 'w'), codec, firstOffset);
  }

  /** Continues a segment whose blocks end at `size`, with `entries` index entries written. */
  static resume(handle: FileHandle, index: FileHandle, entries: number, sync: Buffer, size: number, nextOffset: number): SegmentWriter {
    return new SegmentWriter(handle, index, entries * INDEX_ENTRY_BYTES, sync, size, nextOffset);
  }

  private static async start(handle: FileHandle, index: FileHandle, codec: Codec<unknown>, firstOffset: number): Promise<SegmentWriter> {
    const header = encodeHeader(codec.type.schema() as object, { 'shadowtap.schema': codec.name, 'shadowtap.schema-version': String(codec.version) });
    await handle.write(header.bytes, 0, header.bytes.length, 0);
    return new SegmentWriter(handle, index, 0, header.sync, header.bytes.length, firstOffset);
  }

  /** Appends encoded records as one block; returns the bytes it took. */
  async append(records: Buffer[]): Promise<number> {
    const block = encodeBlock(records, this.sync);
    // The block before its index entry: a reader never meets an entry whose bytes are still coming.
    await this.handle.write(block, 0, block.length, this.size);
    await this.indexBlock(block, records.length, false);
    return block.length;
  }

  /** Bytes per record of the last block appendRecords wrote: the next block's buffer starts about that large. */
  private bytesPerRecord = 2048;

  /**
   * Encodes records straight into one block and appends it: the same bytes as append() of each
   * record's encoding, without a buffer per record and the two copies that join them.
   */
  async appendRecords<T>(records: readonly T[], codec: Codec<T>): Promise<number> {
    let buffer = Buffer.allocUnsafe(PREFIX_ROOM + Math.ceil(records.length * this.bytesPerRecord * 1.25) + SYNC_BYTES);
    let end = PREFIX_ROOM;
    for (const record of records) {
      let next = codec.encodeInto(record, buffer, end);
      if (next < 0) {
        const larger = Buffer.allocUnsafe(Math.max(2 * buffer.length, buffer.length - next + SYNC_BYTES));
        buffer.copy(larger, 0, 0, end);
        buffer = larger;
        next = codec.encodeInto(record, buffer, end);
      }
      end = next;
    }
    const dataLength = end - PREFIX_ROOM;
    this.bytesPerRecord = Math.max(64, Math.ceil(dataLength / Math.max(1, records.length)));
    if (end + SYNC_BYTES > buffer.length) {
      const larger = Buffer.allocUnsafe(end + SYNC_BYTES);
      buffer.copy(larger, 0, 0, end);
      buffer = larger;
    }
    this.sync.copy(buffer, end);
    // The count and the size end where the records begin.
    const prefix = Buffer.allocUnsafe(PREFIX_ROOM);
    const prefixLength = longType.encode(dataLength, prefix, longType.encode(records.length, prefix, 0));
    const start = PREFIX_ROOM - prefixLength;
    prefix.copy(buffer, start, 0, prefixLength);
    const block = buffer.subarray(start, end + SYNC_BYTES);
    await this.handle.write(block, 0, block.length, this.size);
    await this.indexBlock(block, records.length, false);
    return block.length;
  }

  /**
   * Indexes a block found whole at the segment's end (`adopted`: written by a crashed writer
   * between block and entry, or a foreign one, so its records are checked before decoding).
   */
  async indexBlock(block: Buffer, count: number, adopted: boolean): Promise<void> {
    const entry = encodeIndexEntry({ position: this.size, firstOffset: this.nextOffset, count, length: block.length, crc: blockCrc(block), adopted });
    await this.index.write(entry, 0, entry.length, this.indexSize);
    this.indexSize += entry.length;
    this.size += block.length;
    this.nextOffset += count;
  }

  async close(): Promise<void> {
    await this.handle.close();
    await this.index.close();
  }
}
