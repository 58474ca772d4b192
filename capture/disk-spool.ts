import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blockRecords, type BlockPrefix } from '../shared/log/avro-container.js';
import { indexPathOf, SegmentReader, writerTypes, type WriterType } from '../shared/log/segment-reader.js';
import { SegmentWriter } from '../shared/log/segment-writer.js';
import type { Codec } from '../shared/records/codec.js';
import { convertLegacySpool } from './legacy-spool.js';

const SEGMENT_BYTES = 4 * 1024 * 1024;
/** Sequence numbers start high so records put back at close can take lower numbers and be read first. */
const FIRST_SEQ = 1_000_000_000;
/** `<seq>.avro`: a file-log segment (its header names the schema that wrote it) and its index beside it. */
const SEGMENT = /^(\d{16})\.avro$/;
const spoolSegmentName = (seq: number) => `${String(seq).padStart(16, '0')}.avro`;
/** Beside a segment the spool stopped reading part-way through: how many of its records were delivered. */
const DRAINED_SUFFIX = '.drained';
const drainedPathOf = (segmentPath: string) => segmentPath.replace(/\.avro$/, DRAINED_SUFFIX);

interface Segment {
  seq: number;
  /** What it adds to the spool's bytes: its records' bytes (a segment of an earlier run: its size). */
  bytes: number;
  name: string;
  /** Records at its start delivered by an earlier reading. */
  drained: number;
}

/** The block being handed out: its records not yet taken. */
interface OpenBlock<T> {
  records: Generator<T>;
  prefix: BlockPrefix;
  firstOffset: number;
  taken: number;
}

/** The oldest segment, being read. */
interface Head<T> {
  segment: Segment;
  reader: SegmentReader;
  decoding: WriterType | undefined;
  block: OpenBlock<T> | null;
  /** Offset of the next record to take, and the offset up to which records were delivered. */
  position: number;
  delivered: number;
  /** Spool bytes already given back for this segment. */
  released: number;
  /** Records handed out by peek and not yet acknowledged: the next peek hands them out again. */
  unacked: { records: T[]; ack(): Promise<void> } | null;
  done: boolean;
}

export interface SpoolEvents {
  /** Records lost to a disk error or a corrupt segment. */
  onLoss(count: number, error: Error): void;
  /** Records accepted by write() reached the disk (they no longer die with the process). */
  onWritten?(): void;
}

/**
 * Overflow of the record queue on disk, bounded in its records' bytes, read back oldest first.
 * Each file is a file-log segment that is drained instead of kept: its header carries the schema
 * that wrote it, so records spooled before an upgrade that changes the schema are read with it
 * after the upgrade, and its index lets a torn or damaged block be counted, never lost silently.
 * Segments left by an earlier run are read first, so records spooled before a restart are
 * delivered after it.
 */
export class DiskSpool<T> {
  private readonly sealed: Segment[] = [];
  private active: { segment: Segment; writer: SegmentWriter } | null = null;
  private nextSeq = FIRST_SEQ;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Records of the write under way. */
  private writingRecords = 0;
  private writing: Promise<void> | null = null;
  private head: Head<T> | null = null;
  private readonly opened: Promise<void>;
  private readonly writerTypeOf: ReturnType<typeof writerTypes>;
  private totalBytes = 0;
  private loaded = false;
  /** Set when the spool folder cannot be used; the spool then takes nothing. */
  private broken = false;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly codec: Codec<T>,
    private readonly events: SpoolEvents,
  ) {
    this.writerTypeOf = writerTypes(codec as Codec<unknown>);
    this.opened = this.load().then(
      () => {
        this.loaded = true;
      },
      (error: Error) => {
        this.loaded = true;
        this.broken = true;
        this.events.onLoss(this.pending.length, new Error(`spool folder ${dir} is unusable: ${error.message}`));
        this.pending = [];
        this.pendingBytes = 0;
        this.totalBytes = 0;
      },
    );
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Records accepted by write() and not yet on disk. */
  get unwrittenRecords(): number {
    return this.pending.length + this.writingRecords;
  }

  /** Until segments of an earlier run are counted the spool is not known to be empty, so new records queue behind them. */
  get isEmpty(): boolean {
    return this.loaded && this.totalBytes === 0;
  }

  ready(): Promise<void> {
    return this.opened;
  }

  /** Appends a record unless that would pass the bound; the write itself happens in the background. */
  write(record: T): boolean {
    if (this.broken) return false;
    const bytes = this.codec.encode(record);
    if (this.totalBytes + bytes.length > this.maxBytes) return false;
    this.totalBytes += bytes.length;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.writing ??= this.pump();
    return true;
  }

  /** Up to `max` of the oldest records; `ack` removes them once the log has taken them. */
  async peek(max: number): Promise<{ records: T[]; ack(): Promise<void> }> {
    await this.opened;
    await this.settle();
    for (;;) {
      if (this.head?.unacked) return this.head.unacked;
      if (!this.head) {
        if (this.sealed.length === 0 && this.active) await this.seal();
        const next = this.sealed[0];
        if (!next) return { records: [], ack: async () => {} };
        this.head = await this.openHead(next);
        if (!this.head) continue;
      }
      const head = this.head;
      const taken = await this.take(head, max);
      if (taken.records.length === 0 && head.done) {
        await this.dropHead();
        continue;
      }
      const end = head.position;
      head.unacked = {
        records: taken.records,
        ack: async () => {
          head.unacked = null;
          head.delivered = end;
          head.released += taken.bytes;
          this.totalBytes -= taken.bytes;
          if (head.done && this.head === head) await this.dropHead();
        },
      };
      return head.unacked;
    }
  }

  /** Puts records back in front of everything spooled, so a later run delivers them first. */
  async putBack(records: T[]): Promise<number> {
    await this.opened;
    await this.settle();
    const encoded = records.map((r) => this.codec.encode(r));
    const bytes = encoded.reduce((n, b) => n + b.length, 0);
    if (encoded.length === 0 || this.totalBytes + bytes > this.maxBytes) return 0;
    if (this.active) await this.seal();
    await this.releaseHead();
    const seq = Math.min(this.nextSeq, ...this.sealed.map((s) => s.seq)) - 1;
    const segment: Segment = { seq, bytes, name: spoolSegmentName(seq), drained: 0 };
    const writer = await SegmentWriter.create(join(this.dir, segment.name), this.codec as Codec<unknown>, 0);
    try {
      await writer.append(encoded);
    } finally {
      await writer.close();
    }
    this.sealed.unshift(segment);
    this.totalBytes += bytes;
    return encoded.length;
  }

  /** Writes everything pending, seals the active segment and notes what was already delivered from the head. */
  async close(): Promise<void> {
    await this.opened;
    await this.settle();
    if (this.active) await this.seal();
    await this.releaseHead();
  }

  /** Takes up to `max` records from the head; `bytes`: the spool bytes of the blocks it finished. */
  private async take(head: Head<T>, max: number): Promise<{ records: T[]; bytes: number }> {
    const records: T[] = [];
    let bytes = 0;
    const name = head.segment.name;
    while (records.length < max && !head.done) {
      const block = head.block;
      if (block) {
        let next: IteratorResult<T>;
        try {
          next = block.records.next();
        } catch (error) {
          // The rest of the block cannot be located record by record.
          this.events.onLoss(block.prefix.count - block.taken, new Error(`spool segment ${name}: a record cannot be decoded: ${(error as Error).message}`));
          next = { done: true, value: undefined };
        }
        if (next.done) {
          head.block = null;
          head.position = block.firstOffset + block.prefix.count;
          bytes += block.prefix.dataLength;
          continue;
        }
        head.position = block.firstOffset + ++block.taken;
        // Delivered by an earlier reading that stopped inside this segment.
        if (head.position > head.segment.drained) records.push(next.value);
        continue;
      }
      const step = await head.reader.next();
      if (step.kind === 'end') {
        head.done = true;
        if (step.tailBytes > 0) {
          const count = step.tornCount ?? 1;
          this.events.onLoss(count, new Error(`spool segment ${name} ends in a torn block (${step.tailBytes} bytes, cut by a crash): ${count === 1 ? 'its record is' : `its ${count} records are`} lost`));
        }
        continue;
      }
      const end = step.firstOffset + (step.kind === 'block' ? step.prefix.count : (step.count ?? 1));
      if (end <= head.segment.drained) continue;
      if (step.kind === 'damaged') {
        this.events.onLoss(step.count ?? 1, new Error(`spool segment ${name}: the block at byte ${step.position} is damaged (${step.reason})`));
        head.position = end;
        continue;
      }
      try {
        head.decoding ??= this.writerTypeOf(head.reader.header!);
      } catch (error) {
        this.events.onLoss(step.prefix.count, new Error(`spool segment ${name} has a damaged or foreign schema in its header: ${(error as Error).message}`));
        head.position = end;
        continue;
      }
      const check = step.verified && !head.decoding.check ? undefined : (head.decoding.check ?? this.codec.type);
      head.block = { records: blockRecords<T>(step.bytes, step.prefix, this.codec.type, head.decoding.resolver, check), prefix: step.prefix, firstOffset: step.firstOffset, taken: 0 };
    }
    return { records, bytes };
  }

  private async openHead(segment: Segment): Promise<Head<T> | null> {
    let reader: SegmentReader;
    try {
      reader = await SegmentReader.open(join(this.dir, segment.name), 0);
    } catch (error) {
      this.events.onLoss(1, new Error(`unreadable spool segment ${segment.name}: ${(error as Error).message}`));
      await this.dropOldest(0);
      return null;
    }
    if (!reader.header) {
      const problem = reader.headerProblem ?? 'its header is cut short';
      // The writer creates the index first, so without one nothing says how many records the segment held.
      const count = reader.indexed ? (await reader.indexEntries()).reduce((n, e) => n + e.count, 0) - segment.drained : 1;
      if (count > 0) this.events.onLoss(count, new Error(`spool segment ${segment.name} cannot be read: ${problem}`));
      await reader.close();
      await this.dropOldest(0);
      return null;
    }
    // No writer appends to it any more: a whole block left unindexed by a crash is read, not lost.
    reader.readTailByStructure();
    return { segment, reader, decoding: undefined, block: null, position: 0, delivered: segment.drained, released: 0, unacked: null, done: false };
  }

  /** Stops reading the head segment, noting beside it how many of its records were delivered. */
  private async releaseHead(): Promise<void> {
    const head = this.head;
    if (!head) return;
    this.head = null;
    await head.reader.close();
    const { segment } = head;
    segment.bytes -= head.released;
    if (head.delivered <= segment.drained) return;
    const path = drainedPathOf(join(this.dir, segment.name));
    await writeFile(`${path}.tmp`, String(head.delivered));
    await rename(`${path}.tmp`, path);
    segment.drained = head.delivered;
  }

  private async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await convertLegacySpool(this.dir, this.codec as Codec<unknown>, this.events, spoolSegmentName);
    const names = await readdir(this.dir);
    const found = names
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ seq: Number(m[1]), name: m[0] }))
      .sort((a, b) => a.seq - b.seq);
    for (const { seq, name } of found) {
      const path = join(this.dir, name);
      const { size } = await stat(path);
      if (size === 0) {
        await removeSegment(path);
        continue;
      }
      const drained = Number(await readFile(drainedPathOf(path), 'utf8').catch(() => '0')) || 0;
      this.sealed.push({ seq, bytes: size, name, drained });
      this.totalBytes += size;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
    // Left by a crash while a drained segment was being removed: they would stand in the way of a new segment of that number.
    const segments = new Set(found.map((f) => f.name));
    for (const name of names) {
      const side = /^(\d{16})(?:\.index|\.drained)$/.exec(name);
      if (side && !segments.has(spoolSegmentName(Number(side[1])))) await unlink(join(this.dir, name)).catch(() => {});
    }
  }

  private async settle(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async pump(): Promise<void> {
    await this.opened;
    try {
      if (this.broken) return;
      while (this.pending.length > 0) {
        const records = this.pending;
        const bytes = this.pendingBytes;
        this.pending = [];
        this.pendingBytes = 0;
        this.writingRecords = records.length;
        try {
          if (this.active && this.active.segment.bytes >= SEGMENT_BYTES) await this.seal();
          if (!this.active) {
            const seq = this.nextSeq++;
            const segment: Segment = { seq, bytes: 0, name: spoolSegmentName(seq), drained: 0 };
            this.active = { segment, writer: await SegmentWriter.create(join(this.dir, segment.name), this.codec as Codec<unknown>, 0) };
          }
          await this.active.writer.append(records);
          this.active.segment.bytes += bytes;
          this.writingRecords = 0;
          this.events.onWritten?.();
        } catch (error) {
          this.writingRecords = 0;
          this.totalBytes -= bytes;
          this.events.onLoss(records.length, error as Error);
          // A block or entry half written stays out of the index; the next append writes over it.
        }
      }
    } finally {
      this.writing = null;
    }
  }

  private async seal(): Promise<void> {
    const { segment, writer } = this.active!;
    this.active = null;
    await writer.close();
    if (segment.bytes > 0) this.sealed.push(segment);
    else await removeSegment(join(this.dir, segment.name));
  }

  private async dropHead(): Promise<void> {
    const head = this.head!;
    this.head = null;
    await head.reader.close().catch(() => {});
    await this.dropOldest(head.released);
  }

  /** Removes the oldest segment, `released` of its bytes already given back. */
  private async dropOldest(released: number): Promise<void> {
    const segment = this.sealed.shift()!;
    this.totalBytes -= Math.max(0, segment.bytes - released);
    await removeSegment(join(this.dir, segment.name));
  }
}

/** The segment first, then what stands beside it: a crash in between leaves only files that load() clears. */
async function removeSegment(path: string): Promise<void> {
  for (const file of [path, indexPathOf(path), drainedPathOf(path)]) await unlink(file).catch(() => {});
}
