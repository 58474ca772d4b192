import avro from 'avsc';
import { access, open, type FileHandle } from 'node:fs/promises';
import type { Codec } from '../records/codec.js';
import {
  blockLength,
  decodeBlockPrefix,
  decodeHeader,
  endsWithSync,
  plausiblePrefix,
  SYNC_BYTES,
  type BlockPrefix,
  type ContainerHeader,
} from './avro-container.js';
import { blockCrc, decodeIndexEntries, INDEX_ENTRY_BYTES, INDEX_SUFFIX, type IndexEntry } from './segment-index.js';

/** A header is a schema and a few keys; past this size the bytes are not one. */
const maxHeaderBytes = 1024 * 1024;

export type SegmentStep =
  /** A whole block; `verified` when its bytes match the CRC its writer indexed. */
  | { kind: 'block'; firstOffset: number; prefix: BlockPrefix; bytes: Buffer; verified: boolean; position: number }
  /** Bytes that cannot be read as records: `count` records lost (undefined when no index says how many). */
  | { kind: 'damaged'; firstOffset: number; count: number | undefined; bytes: Buffer; position: number; reason: string }
  /**
   * Nothing more for now; `tailBytes` follow the last readable block (an append in progress, or cut
   * by a crash), `tornCount` the records of that block when its count could be read.
   */
  | { kind: 'end'; tailBytes: number; tornCount?: number };

export const indexPathOf = (segmentPath: string) => segmentPath.replace(/\.avro$/, INDEX_SUFFIX);

/**
 * Walks the blocks of one segment file, which may still be growing. A segment with an index is
 * read by its entries (each block checked by its CRC, a damaged one skipped whole with its exact
 * record count); one without (written before indexes existed) by its structure, re-synchronising
 * on the sync marker after damage. Every read is bounded by the file: a damaged length never
 * makes it allocate or loop past what is there.
 */
export class SegmentReader {
  header: ContainerHeader | undefined;
  /** Why the header cannot be read, when it cannot. */
  headerProblem: string | undefined;
  private entries: IndexEntry[] = [];
  private indexBytes = 0;
  private entryCursor = 0;
  /** Structural reading: the byte where the next block starts; the offset of its first record. */
  private position = 0;
  private offset: number;
  /** Past the index's last entry, blocks are read by their structure (see readTailByStructure). */
  private pastIndex = false;
  private tailByStructure = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly indexed: boolean,
    readonly firstOffset: number,
  ) {
    this.offset = firstOffset;
  }

  static async open(path: string, firstOffset: number, flags: 'r' | 'r+' = 'r'): Promise<SegmentReader> {
    // The writer creates the index before the segment: a segment without one predates indexes.
    const indexed = await access(indexPathOf(path)).then(
      () => true,
      () => false,
    );
    const reader = new SegmentReader(path, await open(path, flags), indexed, firstOffset);
    await reader.loadHeader();
    return reader;
  }

  get fileHandle(): FileHandle {
    return this.handle;
  }

  /** Loads the header once it is whole; sets headerProblem when the bytes are not one. */
  async loadHeader(): Promise<void> {
    if (this.header || this.headerProblem) return;
    const buf = Buffer.alloc(Math.min(maxHeaderBytes, (await this.handle.stat()).size));
    const { bytesRead } = await this.handle.read(buf, 0, buf.length, 0);
    try {
      this.header = decodeHeader(buf.subarray(0, bytesRead));
      if (!this.header && bytesRead >= maxHeaderBytes) this.headerProblem = 'no container header in its first MiB';
    } catch (error) {
      this.headerProblem = (error as Error).message;
    }
    if (this.header) this.position = this.header.length;
  }

  /** Marks the header unusable (a schema that is not this log's), so indexed blocks are counted as damaged. */
  rejectHeader(reason: string): void {
    this.header = undefined;
    this.headerProblem = reason;
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  /** The index entries written so far; the index is read again only from where the last read ended. */
  async indexEntries(): Promise<IndexEntry[]> {
    const index = await open(indexPathOf(this.path), 'r').catch(() => undefined);
    if (!index) return this.entries;
    try {
      const more = (await index.stat()).size - this.indexBytes;
      if (more >= INDEX_ENTRY_BYTES) {
        const buf = Buffer.alloc(more - (more % INDEX_ENTRY_BYTES));
        const { bytesRead } = await index.read(buf, 0, buf.length, this.indexBytes);
        const fresh = decodeIndexEntries(buf.subarray(0, bytesRead));
        this.entries.push(...fresh);
        this.indexBytes += fresh.length * INDEX_ENTRY_BYTES;
      }
    } finally {
      await index.close();
    }
    return this.entries;
  }

  async next(): Promise<SegmentStep> {
    await this.loadHeader();
    return this.indexed && !this.pastIndex ? this.nextIndexed() : this.nextStructural();
  }

  /**
   * For a segment no writer appends to any more (a spool segment left by a crashed agent): whole
   * blocks after the last index entry, written by a crash between block and entry, are read by
   * their structure (unverified) instead of being counted as a tail.
   */
  readTailByStructure(): void {
    this.tailByStructure = true;
  }

  private async nextIndexed(): Promise<SegmentStep> {
    const entries = this.entryCursor < this.entries.length ? this.entries : await this.indexEntries();
    const entry = entries[this.entryCursor];
    if (!entry) {
      const last = entries.at(-1);
      const end = last ? last.position + last.length : (this.header?.length ?? 0);
      if (this.tailByStructure && this.header) {
        this.pastIndex = true;
        this.position = end;
        this.offset = last ? last.firstOffset + last.count : this.firstOffset;
        return this.nextStructural();
      }
      return { kind: 'end', tailBytes: Math.max(0, (await this.size()) - end) };
    }
    this.entryCursor++;
    const bytes = Buffer.alloc(entry.length);
    const { bytesRead } = await this.handle.read(bytes, 0, entry.length, entry.position);
    const damaged = (reason: string): SegmentStep => ({
      kind: 'damaged',
      firstOffset: entry.firstOffset,
      count: entry.count,
      bytes: bytes.subarray(0, bytesRead),
      position: entry.position,
      reason,
    });
    if (!this.header) return damaged(`the segment header is damaged (${this.headerProblem ?? 'cut short'})`);
    if (bytesRead < entry.length) return damaged(`cut short: ${bytesRead} of its ${entry.length} bytes are in the file`);
    if (blockCrc(bytes) !== entry.crc) return damaged('its bytes do not match their checksum');
    const prefix = decodeBlockPrefix(bytes);
    if (!prefix || prefix.count !== entry.count || blockLength(prefix) !== entry.length) return damaged('its header disagrees with the index');
    return { kind: 'block', firstOffset: entry.firstOffset, prefix, bytes, verified: !entry.adopted, position: entry.position };
  }

  private async nextStructural(): Promise<SegmentStep> {
    const size = await this.size();
    if (!this.header) return { kind: 'end', tailBytes: size };
    const step = await this.structuralAt(this.position, size);
    if (step.kind === 'block') {
      this.position += step.bytes.length;
      step.firstOffset = this.offset;
      this.offset += step.prefix.count;
    } else if (step.kind === 'damaged') {
      this.position += step.bytes.length;
      step.firstOffset = this.offset;
      this.offset += step.count ?? 0;
    }
    return step;
  }

  /**
   * The block at `position` read by its own structure: whole, with a plausible count and length
   * and this segment's sync marker at its end. Damaged bytes run to the next sync marker.
   */
  async structuralAt(position: number, size: number): Promise<SegmentStep> {
    const header = this.header!;
    const head = Buffer.alloc(Math.min(20, Math.max(0, size - position)));
    await this.handle.read(head, 0, head.length, position);
    const prefix = decodeBlockPrefix(head);
    if (!prefix) return { kind: 'end', tailBytes: size - position };
    const plausible = plausiblePrefix(prefix);
    if (plausible && blockLength(prefix) > size - position) return { kind: 'end', tailBytes: size - position, tornCount: prefix.count };
    if (plausible) {
      const bytes = Buffer.alloc(blockLength(prefix));
      await this.handle.read(bytes, 0, bytes.length, position);
      if (endsWithSync(bytes, header.sync)) return { kind: 'block', firstOffset: 0, prefix, bytes, verified: false, position };
    }
    // Re-synchronise: the damage runs to the end of the next sync marker.
    const rest = Buffer.alloc(size - position);
    await this.handle.read(rest, 0, rest.length, position);
    const at = rest.indexOf(header.sync, 1);
    if (at < 0) return { kind: 'end', tailBytes: size - position };
    return {
      kind: 'damaged',
      firstOffset: 0,
      count: plausible ? prefix.count : undefined,
      bytes: rest.subarray(0, at + SYNC_BYTES),
      position,
      reason: plausible ? 'its sync marker is damaged' : 'its count or length is damaged',
    };
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** How a segment's records are decoded: a resolver from an older schema, and that schema to check damaged bytes against. */
export interface WriterType {
  resolver?: avro.Resolver;
  check?: avro.Type;
}

/**
 * How to decode the records of a segment by the schema its header carries, into `codec`'s current
 * shape; one resolver per schema met. Throws when the header's schema is damaged or cannot be
 * resolved to the codec's.
 */
export function writerTypes(codec: Codec<unknown>): (header: ContainerHeader) => WriterType {
  const readerSchemaJson = JSON.stringify(codec.type.schema());
  const known = new Map<string, WriterType>();
  return (header) => {
    const writerSchemaJson = header.meta['avro.schema']?.toString() ?? '';
    let decoding = known.get(writerSchemaJson);
    if (!decoding) {
      if (writerSchemaJson === readerSchemaJson) decoding = {};
      else {
        // Another version's records, checked within bounds before they are decoded.
        const check = avro.Type.forSchema(JSON.parse(writerSchemaJson));
        decoding = { resolver: codec.type.createResolver(check), check };
      }
      known.set(writerSchemaJson, decoding);
    }
    return decoding;
  };
}
