import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Codec } from '../shared/records/codec.js';

const SEGMENT_BYTES = 4 * 1024 * 1024;
/** Sequence numbers start high so records put back at close can take lower numbers and be read first. */
const FIRST_SEQ = 1_000_000_000;
/**
 * `<seq>.v<schema version>.spool`: records are decoded with the schema they were written with, so a
 * record spooled before an upgrade that changed the schema is still read right after it. Segments
 * named without a version were written before versions were recorded, when only v1 existed.
 */
const NAME = /^(\d{16})(?:\.v(\d+))?\.spool$/;
const fileName = (seq: number, version: number) => `${String(seq).padStart(16, '0')}.v${version}.spool`;

interface Segment {
  seq: number;
  bytes: number;
  /** Schema version of its records. */
  version: number;
  name: string;
}

export interface SpoolEvents {
  /** Records lost to a disk error or a corrupt segment. */
  onLoss(count: number, error: Error): void;
  /** Records accepted by write() reached the disk (they no longer die with the process). */
  onWritten?(): void;
}

/**
 * Overflow of the record queue on disk: segment files of length-prefixed Avro records, bounded in
 * total bytes, read back oldest first. Segments left by an earlier run are read first, so records
 * spooled before a restart are delivered after it.
 */
export class DiskSpool<T> {
  private readonly sealed: Segment[] = [];
  private active: { seq: number; bytes: number; name: string; handle: FileHandle } | null = null;
  private nextSeq = FIRST_SEQ;
  private pending: Buffer[] = [];
  private pendingRecords = 0;
  /** Records of the write under way. */
  private writingRecords = 0;
  private writing: Promise<void> | null = null;
  /** The oldest sealed segment being read: its bytes and how far it has been delivered. */
  private head: { segment: Segment; data: Buffer; offset: number } | null = null;
  private readonly opened: Promise<void>;
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
    this.opened = this.load().then(
      () => {
        this.loaded = true;
      },
      (error: Error) => {
        this.loaded = true;
        this.broken = true;
        this.pending = [];
        this.totalBytes = 0;
        this.events.onLoss(this.pendingRecords, new Error(`spool folder ${dir} is unusable: ${error.message}`));
        this.pendingRecords = 0;
      },
    );
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Records accepted by write() and not yet on disk. */
  get unwrittenRecords(): number {
    return this.pendingRecords + this.writingRecords;
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
    const frame = frameOf(this.codec.encode(record));
    if (this.totalBytes + frame.length > this.maxBytes) return false;
    this.totalBytes += frame.length;
    this.pending.push(frame);
    this.pendingRecords++;
    this.writing ??= this.pump();
    return true;
  }

  /** Up to `max` of the oldest records; `ack` removes them once the log has taken them. */
  async peek(max: number): Promise<{ records: T[]; ack(): Promise<void> }> {
    await this.opened;
    await this.settle();
    if (!this.head) {
      if (this.sealed.length === 0 && this.active && this.active.bytes > 0) await this.seal();
      const next = this.sealed[0];
      if (!next) return { records: [], ack: async () => {} };
      let data: Buffer;
      try {
        data = await readFile(join(this.dir, next.name));
      } catch (error) {
        this.events.onLoss(1, new Error(`unreadable spool segment ${next.name}: ${(error as Error).message}`));
        this.sealed.shift();
        this.totalBytes -= next.bytes;
        return this.peek(max);
      }
      this.head = { segment: next, data, offset: 0 };
    }
    const head = this.head;
    const records: T[] = [];
    let offset = head.offset;
    try {
      while (records.length < max && offset + 4 <= head.data.length) {
        const length = head.data.readUInt32BE(offset);
        if (offset + 4 + length > head.data.length) throw new Error('segment ends inside a record');
        records.push(this.codec.decode(head.data.subarray(offset + 4, offset + 4 + length), head.segment.version));
        offset += 4 + length;
      }
    } catch (error) {
      if (records.length === 0) {
        this.events.onLoss(1, new Error(`corrupt spool segment ${head.segment.name}: ${(error as Error).message}`));
        await this.dropHead(head.data.length - head.offset);
        return this.peek(max);
      }
    }
    const end = offset;
    return {
      records,
      ack: async () => {
        const delivered = end - head.offset;
        head.offset = end;
        this.totalBytes -= delivered;
        if (end >= head.data.length) await this.dropHead(0);
      },
    };
  }

  /** Puts records back in front of everything spooled, so a later run delivers them first. */
  async putBack(records: T[]): Promise<number> {
    await this.opened;
    await this.settle();
    const frames = records.map((r) => frameOf(this.codec.encode(r)));
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    if (frames.length === 0 || this.totalBytes + bytes > this.maxBytes) return 0;
    if (this.active) await this.seal();
    await this.releaseHead();
    const seq = Math.min(this.nextSeq, ...this.sealed.map((s) => s.seq)) - 1;
    const name = fileName(seq, this.codec.version);
    await writeFile(join(this.dir, name), Buffer.concat(frames));
    this.sealed.unshift({ seq, bytes, version: this.codec.version, name });
    this.totalBytes += bytes;
    return frames.length;
  }

  /** Writes everything pending, seals the active segment and drops what was already delivered from the head. */
  async close(): Promise<void> {
    await this.opened;
    await this.settle();
    if (this.active) await this.seal();
    await this.releaseHead();
  }

  /** Stops reading the head segment, leaving on disk only its records not yet delivered. */
  private async releaseHead(): Promise<void> {
    const head = this.head;
    if (!head) return;
    this.head = null;
    if (head.offset === 0) return;
    const path = join(this.dir, head.segment.name);
    const rest = head.data.subarray(head.offset);
    await writeFile(`${path}.tmp`, rest);
    await rename(`${path}.tmp`, path);
    this.sealed[0].bytes = rest.length;
  }

  private async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const found = (await readdir(this.dir))
      .map((name) => NAME.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ seq: Number(m[1]), version: m[2] === undefined ? 1 : Number(m[2]), name: m[0] }))
      .sort((a, b) => a.seq - b.seq);
    for (const { seq, version, name } of found) {
      const { size } = await stat(join(this.dir, name));
      if (size === 0) {
        await unlink(join(this.dir, name));
        continue;
      }
      this.sealed.push({ seq, bytes: size, version, name });
      this.totalBytes += size;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
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
        const count = this.pendingRecords;
        const chunk = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingRecords = 0;
        this.writingRecords = count;
        try {
          if (this.active && this.active.bytes >= SEGMENT_BYTES) await this.seal();
          if (!this.active) {
            const seq = this.nextSeq++;
            const name = fileName(seq, this.codec.version);
            this.active = { seq, bytes: 0, name, handle: await open(join(this.dir, name), 'a') };
          }
          await this.active.handle.write(chunk);
          this.active.bytes += chunk.length;
          this.writingRecords = 0;
          this.events.onWritten?.();
        } catch (error) {
          this.writingRecords = 0;
          this.totalBytes -= chunk.length;
          this.events.onLoss(count, error as Error);
        }
      }
    } finally {
      this.writing = null;
    }
  }

  private async seal(): Promise<void> {
    const active = this.active!;
    this.active = null;
    await active.handle.close();
    this.sealed.push({ seq: active.seq, bytes: active.bytes, version: this.codec.version, name: active.name });
  }

  private async dropHead(lostBytes: number): Promise<void> {
    const head = this.head!;
    this.head = null;
    this.sealed.shift();
    this.totalBytes -= lostBytes;
    await unlink(join(this.dir, head.segment.name)).catch(() => {});
  }
}

function frameOf(bytes: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(4 + bytes.length);
  frame.writeUInt32BE(bytes.length, 0);
  bytes.copy(frame, 4);
  return frame;
}
