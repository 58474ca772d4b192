import avro from 'avsc';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ShadowtapError, usageError } from '../errors.js';
import {
  blockLength,
  blockRecords,
  decodeBlockPrefix,
  decodeHeader,
  encodeBlock,
  encodeHeader,
  type ContainerHeader,
} from './avro-container.js';
import type { LogEntry, Position, ReadOptions, RecordKind, RecordLog } from './record-log.js';

export interface FileLogOptions {
  /** The store folder; each record kind gets a sub-folder (captures/, results/). */
  dir: string;
  /** A segment is closed and a new one started past this size. */
  maxSegmentBytes?: number;
  /** How often a follow read looks for new records when no change notice wakes it earlier. */
  pollMs?: number;
  /** The log must exist already: a reader given a store nothing was written to has a mistaken --store. */
  existing?: boolean;
}

const SEGMENT_SUFFIX = '.avro';
const OFFSET_DIGITS = 20;
const segmentName = (firstOffset: number) => `${String(firstOffset).padStart(OFFSET_DIGITS, '0')}${SEGMENT_SUFFIX}`;

interface Segment {
  firstOffset: number;
  path: string;
}

interface Writer {
  handle: FileHandle;
  sync: Buffer;
  size: number;
  nextOffset: number;
}

/**
 * The embedded log: Avro Object Container Files in a folder, one partition, rotated by size.
 * Segments are named by the offset of their first record, as Kafka names its segments, so a
 * reader resuming from a committed offset skips whole files. One process appends to a folder;
 * any number read it, also while it grows (follow).
 */
export async function openFileLog<T>(kind: RecordKind<T>, options: FileLogOptions): Promise<RecordLog<T>> {
  const dir = join(options.dir, kind.name);
  const groupsDir = join(dir, 'groups');
  const deadLetterDir = join(dir, 'dead-letter');
  const maxSegmentBytes = options.maxSegmentBytes ?? 64 * 1024 * 1024;
  const pollMs = options.pollMs ?? 50;
  if (options.existing && !existsSync(dir)) {
    const writers = kind.name === 'captures' ? '`shadowtap capture` or `shadowtap import`' : '`shadowtap replay`';
    throw usageError(`no ${kind.name} log in ${options.dir}: nothing was recorded there yet. Write one with ${writers}, or point --store at the store they wrote`);
  }
  try {
    await mkdir(groupsDir, { recursive: true });
  } catch (error) {
    throw new ShadowtapError('ST_LOG_IO', `cannot create the store folder ${dir}: ${(error as Error).message}. Check --store.`, {
      cause: error,
    });
  }
  const readerSchema = kind.codec.type.schema() as object;
  const readerSchemaJson = JSON.stringify(readerSchema);
  const resolvers = new Map<string, avro.Resolver | undefined>();
  const resolverFor = (header: ContainerHeader, path: string): avro.Resolver | undefined => {
    const writerSchemaJson = header.meta['avro.schema']?.toString() ?? '';
    if (!resolvers.has(writerSchemaJson)) {
      let resolver: avro.Resolver | undefined;
      try {
        resolver = writerSchemaJson === readerSchemaJson ? undefined : kind.codec.type.createResolver(avro.Type.forSchema(JSON.parse(writerSchemaJson)));
      } catch (error) {
        // A damaged header or a schema of something else: the file cannot be read as this log's records.
        throw new ShadowtapError('ST_LOG_IO', `${path} has a damaged or foreign schema in its header, not one of ${kind.name}; move it out of the store folder`, { cause: error });
      }
      resolvers.set(writerSchemaJson, resolver);
    }
    return resolvers.get(writerSchemaJson);
  };

  async function listSegments(): Promise<Segment[]> {
    const names = (await readdir(dir)).filter((name) => name.endsWith(SEGMENT_SUFFIX)).sort();
    return names.map((name) => ({ firstOffset: Number(name.slice(0, OFFSET_DIGITS)), path: join(dir, name) }));
  }

  async function newSegment(firstOffset: number): Promise<Writer> {
    const handle = await open(join(dir, segmentName(firstOffset)), 'wx');
    const header = encodeHeader(readerSchema, { 'shadowtap.schema': kind.codec.name, 'shadowtap.schema-version': String(kind.codec.version) });
    await handle.write(header.bytes);
    return { handle, sync: header.sync, size: header.bytes.length, nextOffset: firstOffset };
  }

  /** Reopens the last segment for appending, cutting off a block left half-written by a crash. */
  async function reopenSegment(segment: Segment): Promise<Writer> {
    const handle = await open(segment.path, 'r+');
    const reader = await SegmentReader.open(handle, segment.path);
    if (!reader || reader.writerSchemaJson !== readerSchemaJson) {
      // Another schema version (or an empty file): new records start a fresh segment.
      const end = reader ? await reader.countToEnd() : { records: 0, bytes: 0 };
      await handle.close();
      return newSegment(segment.firstOffset + end.records);
    }
    const end = await reader.countToEnd();
    await handle.truncate(end.bytes);
    return { handle, sync: reader.header.sync, size: end.bytes, nextOffset: segment.firstOffset + end.records };
  }

  let writer: Writer | undefined;
  let appending: Promise<void> = Promise.resolve();

  async function appendNow(records: T[]): Promise<void> {
    if (!writer) {
      const segments = await listSegments();
      writer = segments.length > 0 ? await reopenSegment(segments[segments.length - 1]!) : await newSegment(0);
    }
    const block = encodeBlock(records.map((record) => kind.codec.encode(record)), writer.sync);
    await writer.handle.write(block, 0, block.length, writer.size);
    writer.size += block.length;
    writer.nextOffset += records.length;
    if (writer.size >= maxSegmentBytes) {
      await writer.handle.close();
      writer = await newSegment(writer.nextOffset);
    }
  }

  async function committed(group: string): Promise<number> {
    try {
      const saved = JSON.parse(await readFile(join(groupsDir, `${encodeURIComponent(group)}.json`), 'utf8'));
      return Number(saved['0'] ?? 0);
    } catch {
      return 0;
    }
  }

  async function* read(readOptions: ReadOptions = {}): AsyncGenerator<LogEntry<T>> {
    const { fromMs, toMs, follow, group, signal, onDeadLetter } = readOptions;
    let nextOffset = group ? await committed(group) : 0;
    const changes = follow ? new FolderChanges(dir) : undefined;
    const pause = () => changes!.wait(pollMs, signal);
    try {
      while (!signal?.aborted) {
        const segments = await listSegments();
        // The segment holding nextOffset: the last one starting at or before it.
        const index = Math.max(0, segments.findLastIndex((s) => s.firstOffset <= nextOffset));
        const segment = segments[index];
        if (!segment) {
          if (!follow) return;
          await pause();
          continue;
        }
        const handle = await open(segment.path, 'r');
        try {
          let reader = await SegmentReader.open(handle, segment.path);
          while (!reader) {
            if (!follow || signal?.aborted) return;
            await pause();
            reader = await SegmentReader.open(handle, segment.path);
          }
          const resolver = resolverFor(reader.header, segment.path);
          let offset = segment.firstOffset;
          for (;;) {
            const block = await reader.nextBlock();
            if (!block) {
              // A segment is complete once a newer one exists: the writer rotates only between blocks.
              if (index < (await listSegments()).length - 1) break;
              if (!follow || signal?.aborted) return;
              await pause();
              continue;
            }
            const blockStart = offset;
            offset += block.prefix.count;
            if (offset <= nextOffset) continue;
            const records = blockRecords<T>(block.bytes, block.prefix, reader.header.sync, kind.codec.type, resolver);
            for (let i = 0; ; i++) {
              let step: IteratorResult<T>;
              try {
                step = records.next();
              } catch (error) {
                // The rest of the block cannot be located record by record: it goes to the dead letters whole.
                await mkdir(deadLetterDir, { recursive: true });
                await writeFile(join(deadLetterDir, `${segmentName(blockStart)}.block`), block.bytes);
                onDeadLetter?.({ partition: 0, offset: blockStart + i }, error as Error);
                nextOffset = offset;
                break;
              }
              if (step.done) break;
              if (blockStart + i < nextOffset) continue;
              const value = step.value;
              const timestampMs = kind.timestampMs(value);
              nextOffset = blockStart + i + 1;
              if (fromMs !== undefined && timestampMs < fromMs) continue;
              if (toMs !== undefined && timestampMs >= toMs) continue;
              yield { value, position: { partition: 0, offset: blockStart + i }, timestampMs };
              if (signal?.aborted) return;
            }
          }
          nextOffset = Math.max(nextOffset, offset);
        } finally {
          await handle.close();
        }
      }
    } finally {
      changes?.close();
    }
  }

  return {
    name: dir,
    append(records: T[]): Promise<void> {
      if (records.length === 0) return appending;
      const done = appending.then(() => appendNow(records));
      appending = done.catch(() => undefined);
      return done.catch((error) => {
        throw new ShadowtapError('ST_LOG_IO', `cannot write to ${dir}: ${(error as Error).message}`, { cause: error, retriable: true });
      });
    },
    read,
    async commit(group: string, positions: Position[]): Promise<void> {
      if (positions.length === 0) return;
      const next = Math.max(...positions.map((p) => p.offset)) + 1;
      const file = join(groupsDir, `${encodeURIComponent(group)}.json`);
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify({ 0: next }));
      await rename(tmp, file);
    },
    async close(): Promise<void> {
      await appending;
      await writer?.handle.close();
      writer = undefined;
    },
  };
}

/**
 * Wakes a follow read as soon as something in the folder changes (inotify and its kin), so a
 * record is read within a few ms of its append instead of up to a poll interval later; the poll
 * interval stays as the fallback where change notices do not arrive (network file systems).
 */
class FolderChanges {
  private watcher: FSWatcher | undefined;
  private changed = false;
  private wake: (() => void) | undefined;

  constructor(dir: string) {
    try {
      this.watcher = watch(dir, { persistent: false }, () => {
        this.changed = true;
        this.wake?.();
      });
      this.watcher.on('error', () => this.close());
    } catch {
      // No change notices here: polling alone.
    }
  }

  /** Resolves at the next change (at once when one came since the last wait), after `ms`, or on abort. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.changed || signal?.aborted) {
      this.changed = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        this.changed = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

/** Walks the blocks of one segment file, which may still be growing. */
class SegmentReader {
  private position: number;

  private constructor(
    private readonly handle: FileHandle,
    readonly header: ContainerHeader,
  ) {
    this.position = header.length;
  }

  get writerSchemaJson(): string {
    return this.header.meta['avro.schema']!.toString();
  }

  /** Undefined while the file does not hold a whole header yet. */
  static async open(handle: FileHandle, path: string): Promise<SegmentReader | undefined> {
    for (let size = 4096; ; size *= 4) {
      const buf = Buffer.alloc(size);
      const { bytesRead } = await handle.read(buf, 0, size, 0);
      let header: ContainerHeader | undefined;
      try {
        header = decodeHeader(buf.subarray(0, bytesRead));
      } catch (error) {
        throw new ShadowtapError('ST_LOG_IO', `${path} is not a shadowtap log segment (${(error as Error).message}); move it out of the store folder`, { cause: error });
      }
      if (header) return new SegmentReader(handle, header);
      if (bytesRead < size) return undefined;
    }
  }

  /** The next whole block, or undefined at the end of what has been written so far. */
  async nextBlock(): Promise<{ prefix: NonNullable<ReturnType<typeof decodeBlockPrefix>>; bytes: Buffer } | undefined> {
    const head = Buffer.alloc(20);
    const { bytesRead } = await this.handle.read(head, 0, head.length, this.position);
    const prefix = decodeBlockPrefix(head.subarray(0, bytesRead));
    if (!prefix) return undefined;
    const length = blockLength(prefix);
    const bytes = Buffer.allocUnsafe(length);
    const got = await this.handle.read(bytes, 0, length, this.position);
    if (got.bytesRead < length) return undefined;
    this.position += length;
    return { prefix, bytes };
  }

  /** Records and bytes up to the end of the last whole block. */
  async countToEnd(): Promise<{ records: number; bytes: number }> {
    let records = 0;
    for (let block = await this.nextBlock(); block; block = await this.nextBlock()) records += block.prefix.count;
    return { records, bytes: this.position };
  }
}
