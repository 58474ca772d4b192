import { existsSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShadowtapError, usageError } from '../errors.js';
import type { Codec } from '../records/codec.js';
import { blockRecords, type ContainerHeader } from './avro-container.js';
import { INDEX_ENTRY_BYTES } from './segment-index.js';
import { indexPathOf, SegmentReader, writerTypes, type WriterType } from './segment-reader.js';
import { SegmentWriter } from './segment-writer.js';
import { partitionOf } from './key-partitioner.js';
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
  /**
   * Partitions of a store this log creates (default 1); a store keeps the count it was created
   * with. Records go to the partition of their key as Kafka's default partitioner picks it.
   */
  partitions?: number;
}

const SEGMENT_SUFFIX = '.avro';
const OFFSET_DIGITS = 20;
const segmentName = (firstOffset: number) => `${String(firstOffset).padStart(OFFSET_DIGITS, '0')}${SEGMENT_SUFFIX}`;

/** Where a store records its partition count; a store without it is a single-partition one. */
const COUNT_FILE = 'partitions.json';

interface Segment {
  firstOffset: number;
  path: string;
}

/** One partition's folder: partition 0 is the log's folder itself (as single-partition stores always were), partition N its `partition-N` sub-folder. */
interface Partition {
  id: number;
  dir: string;
  deadLetterDir: string;
}

/**
 * The embedded log: Avro Object Container Files in a folder, rotated by size, in one or more
 * partitions (a sub-folder each, records placed by key as Kafka places them, offsets and group
 * commits per partition). Segments are named by the offset of their first record, as Kafka names
 * its segments, so a reader resuming from a committed offset skips whole files. One process
 * appends to a folder; any number read it, also while it grows (follow), each any subset of the
 * partitions.
 */
export async function openFileLog<T>(kind: RecordKind<T>, options: FileLogOptions): Promise<RecordLog<T>> {
  const dir = join(options.dir, kind.name);
  const groupsDir = join(dir, 'groups');
  const partitionAt = (id: number): Partition => {
    const partitionDir = id === 0 ? dir : join(dir, `partition-${id}`);
    return { id, dir: partitionDir, deadLetterDir: join(partitionDir, 'dead-letter') };
  };
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
  if (options.partitions !== undefined) await decidedCount();
  const codec = kind.codec as Codec<unknown>;
  const readerSchemaJson = JSON.stringify(codec.type.schema());
  const writerTypeOf = writerTypes(codec);
  /** How to decode a segment's records; throws when its header holds a schema that is not this log's. */
  const writerTypeFor = (header: ContainerHeader, path: string): WriterType => {
    try {
      return writerTypeOf(header);
    } catch (error) {
      throw new ShadowtapError('ST_LOG_IO', `${path} has a damaged or foreign schema in its header, not one of ${kind.name}; move it out of the store folder`, { cause: error });
    }
  };

  async function listSegments(part: Partition): Promise<Segment[]> {
    const names = (await readdir(part.dir).catch(notFoundAs([]))).filter((name) => /^\d{20}\.avro$/.test(name)).sort();
    return names.map((name) => ({ firstOffset: Number(name.slice(0, OFFSET_DIGITS)), path: join(part.dir, name) }));
  }

  /** The partition count the store was created with; undefined while nothing decided it (an empty store). */
  async function storedCount(): Promise<number | undefined> {
    const text = await readFile(join(dir, COUNT_FILE), 'utf8').catch(notFoundAs(undefined));
    if (text === undefined) return (await listSegments(partitionAt(0))).length > 0 ? 1 : undefined;
    const count = (JSON.parse(text) as { count?: unknown }).count;
    if (!Number.isSafeInteger(count) || (count as number) < 1) throw new ShadowtapError('ST_LOG_IO', `${join(dir, COUNT_FILE)} is damaged: it gives no partition count`);
    return count as number;
  }

  /** Decides the partition count of an empty store (this log's `partitions`, else 1) and makes its folders. */
  async function decidedCount(): Promise<number> {
    const stored = await storedCount();
    if (stored !== undefined) return stored;
    const count = options.partitions ?? 1;
    for (let id = 1; id < count; id++) await mkdir(partitionAt(id).dir, { recursive: true });
    const tmp = join(dir, `${COUNT_FILE}.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify({ count }));
    await rename(tmp, join(dir, COUNT_FILE));
    return count;
  }

  const newSegment = (part: Partition, firstOffset: number) => SegmentWriter.create(join(part.dir, segmentName(firstOffset)), codec, firstOffset);

  /**
   * Reopens the last segment for appending. Whole blocks past its last index entry (a crash
   * between block and entry, or a segment older than indexes) are adopted into the index; a
   * block left half-written by a crash is cut off. A segment that is damaged, cut short or of
   * another schema version is left as it is for readers to report: new records start a fresh
   * segment after the highest offset it ever held, so no offset is used twice.
   */
  async function reopenSegment(part: Partition, segment: Segment): Promise<SegmentWriter> {
    const reader = await SegmentReader.open(segment.path, segment.firstOffset, 'r+');
    let keep = false;
    try {
      const entries = reader.indexed ? [...(await reader.indexEntries())] : [];
      const last = entries.at(-1);
      const nextOffset = last ? last.firstOffset + last.count : segment.firstOffset;
      const header = reader.header;
      const sameSchema = header?.meta['avro.schema']?.toString() === readerSchemaJson;
      if (!header || !sameSchema) {
        if (nextOffset === segment.firstOffset && (reader.indexed || !header)) {
          keep = true;
          return await SegmentWriter.restart(segment.path, reader.fileHandle, codec, segment.firstOffset);
        }
        const held = header && !reader.indexed ? await countStructurally(reader) : 0;
        return await newSegment(part, Math.max(nextOffset, segment.firstOffset + held));
      }
      const size = await reader.size();
      const end = last ? last.position + last.length : header.length;
      if (size < end) return await newSegment(part, nextOffset);
      const index = await open(indexPathOf(segment.path), reader.indexed ? 'r+' : 'w');
      await index.truncate(entries.length * INDEX_ENTRY_BYTES);
      const writer = SegmentWriter.resume(reader.fileHandle, index, entries.length, header.sync, end, nextOffset);
      keep = true;
      for (let step = await reader.structuralAt(end, size); step.kind === 'block'; step = await reader.structuralAt(writer.size, size)) {
        await writer.indexBlock(step.bytes, step.prefix.count, true);
      }
      await writer.handle.truncate(writer.size);
      return writer;
    } finally {
      if (!keep) await reader.close();
    }
  }

  async function countStructurally(reader: SegmentReader): Promise<number> {
    let records = 0;
    for (let step = await reader.next(); step.kind !== 'end'; step = await reader.next()) records += step.kind === 'block' ? step.prefix.count : (step.count ?? 0);
    return records;
  }

  const writers = new Map<number, SegmentWriter>();
  let writeCount: number | undefined;
  let appending: Promise<void> = Promise.resolve();

  async function appendNow(records: T[]): Promise<void> {
    const count = (writeCount ??= await decidedCount());
    if (count === 1) return appendTo(partitionAt(0), records);
    const byPartition = new Map<number, T[]>();
    for (const record of records) {
      const id = partitionOf(kind.key(record), count);
      const list = byPartition.get(id);
      if (list) list.push(record);
      else byPartition.set(id, [record]);
    }
    for (const [id, list] of byPartition) await appendTo(partitionAt(id), list);
  }

  async function appendTo(part: Partition, records: T[]): Promise<void> {
    let writer = writers.get(part.id);
    if (!writer) {
      const segments = await listSegments(part);
      writer = segments.length > 0 ? await reopenSegment(part, segments[segments.length - 1]!) : await newSegment(part, 0);
      writers.set(part.id, writer);
    }
    await writer.appendRecords(records, kind.codec);
    if (writer.size >= maxSegmentBytes) {
      await writer.close();
      writers.set(part.id, await newSegment(part, writer.nextOffset));
    }
  }

  /**
   * A group's commits, a file per partition so workers of one group owning different partitions
   * never overwrite each other's: `<group>.json` for partition 0 (where single-partition stores
   * always kept it), `<group>+partition-N.json` for the others ('+' is escaped in group names).
   */
  const commitFile = (group: string, partition: number) =>
    join(groupsDir, `${encodeURIComponent(group)}${partition === 0 ? '' : `+partition-${partition}`}.json`);

  /** The offset the group committed in a partition; undefined when it never committed there. */
  async function committed(group: string, partition: number): Promise<number | undefined> {
    try {
      const saved = JSON.parse(await readFile(commitFile(group, partition), 'utf8'));
      return Number(saved[String(partition)] ?? 0);
    } catch {
      return undefined;
    }
  }

  /** The offset the next record appended to a partition will get. */
  async function endOffset(part: Partition): Promise<number> {
    const last = (await listSegments(part)).at(-1);
    if (!last) return 0;
    const reader = await SegmentReader.open(last.path, last.firstOffset);
    try {
      if (!reader.indexed) return last.firstOffset + (reader.header ? await countStructurally(reader) : 0);
      const entry = (await reader.indexEntries()).at(-1);
      return entry ? entry.firstOffset + entry.count : last.firstOffset;
    } finally {
      await reader.close();
    }
  }

  /** Keeps the bytes of a damaged block in the dead-letter folder and says so in one line. */
  async function deadLetter(part: Partition, segment: Segment, position: number, firstOffset: number, count: number | undefined, bytes: Buffer, reason: string, warn?: (message: string) => void): Promise<void> {
    await mkdir(part.deadLetterDir, { recursive: true });
    const file = join(part.deadLetterDir, `${segmentName(firstOffset)}.block`);
    await writeFile(file, bytes);
    const records = count === undefined ? 'an unknown number of records' : `${count} record${count === 1 ? '' : 's'} (offsets ${firstOffset}-${firstOffset + count - 1})`;
    warn?.(`${segment.path}: the block at byte ${position} with ${records} is damaged (${reason}); its bytes are in ${file}, its records counted as dead letters`);
  }

  /** The partitions a read covers: all, or those asked for. A follow read of an empty store waits until its first writer decided the count. */
  async function partitionsToRead(readOptions: ReadOptions): Promise<Partition[] | undefined> {
    let count = await storedCount();
    if (count === undefined && readOptions.follow) {
      const changes = new FolderChanges(dir);
      try {
        while (count === undefined && !readOptions.signal?.aborted) {
          await changes.wait(pollMs, readOptions.signal);
          count = await storedCount();
        }
      } finally {
        changes.close();
      }
    }
    if (count === undefined) return readOptions.signal?.aborted ? undefined : [partitionAt(0)];
    const ids = readOptions.partitions ?? Array.from({ length: count }, (_, id) => id);
    const foreign = ids.find((id) => !Number.isSafeInteger(id) || id < 0 || id >= count);
    if (foreign !== undefined) throw usageError(`partition ${foreign} is not one of the ${count} partition${count === 1 ? '' : 's'} (0-${count - 1}) of ${dir}`);
    return [...new Set(ids)].map(partitionAt);
  }

  async function* read(readOptions: ReadOptions = {}): AsyncGenerator<LogEntry<T>> {
    const parts = await partitionsToRead(readOptions);
    if (parts) yield* mergeReads(parts.map((part) => readPartition(part, readOptions)));
  }

  async function* readPartition(part: Partition, readOptions: ReadOptions): AsyncGenerator<LogEntry<T>> {
    const { fromMs, toMs, follow, group, signal, onDeadLetter, onWarning, startAtEnd } = readOptions;
    let nextOffset = (group ? await committed(group, part.id) : undefined) ?? (startAtEnd && fromMs === undefined ? await endOffset(part) : 0);
    const changes = follow ? new FolderChanges(part.dir) : undefined;
    const pause = () => changes!.wait(pollMs, signal);
    const toldTails = new Set<string>();
    const lost = (from: number, to: number, error: Error) => {
      for (let offset = Math.max(from, nextOffset); offset < to; offset++) onDeadLetter?.({ partition: part.id, offset }, error);
      nextOffset = Math.max(nextOffset, to);
    };
    try {
      while (!signal?.aborted) {
        const segments = await listSegments(part);
        // The segment holding nextOffset: the last one starting at or before it.
        const index = Math.max(0, segments.findLastIndex((s) => s.firstOffset <= nextOffset));
        const segment = segments[index];
        if (!segment) {
          if (!follow) return;
          await pause();
          continue;
        }
        const reader = await SegmentReader.open(segment.path, segment.firstOffset);
        try {
          // Without an index nothing says how many records a damaged header hid: the file is refused.
          // (This log's writer creates the index first, so an index-less file is an old segment or a foreign one.)
          const problem = reader.headerProblem ?? (!reader.header && (await reader.size()) > 0 ? 'its header is cut short' : undefined);
          if (problem && !reader.indexed) {
            throw new ShadowtapError('ST_LOG_IO', `${segment.path} is not a shadowtap log segment (${problem}); move it out of the store folder`);
          }
          let decoding: WriterType | undefined;
          for (;;) {
            const step = await reader.next();
            if (step.kind === 'end') {
              const newer = segments[index + 1] ?? (await listSegments(part))[index + 1];
              if (step.tailBytes > 0 && (newer || !follow) && !toldTails.has(segment.path)) {
                toldTails.add(segment.path);
                onWarning?.(
                  `${segment.path}: ${step.tailBytes} bytes after its last complete block are not records (an append in progress, or cut by a crash: the next append repairs the last segment)`,
                );
              }
              if (newer) {
                // The next segment's name says where its records start, whatever this one lost.
                nextOffset = Math.max(nextOffset, newer.firstOffset);
                break;
              }
              if (!follow || signal?.aborted) return;
              await pause();
              continue;
            }
            if (step.kind === 'damaged') {
              const end = step.firstOffset + (step.count ?? 1);
              if (end <= nextOffset) continue;
              await deadLetter(part, segment, step.position, step.firstOffset, step.count, step.bytes, step.reason, onWarning);
              lost(step.firstOffset, end, new Error(`damaged block: ${step.reason}`));
              continue;
            }
            const blockEnd = step.firstOffset + step.prefix.count;
            if (blockEnd <= nextOffset) continue;
            if (!decoding) {
              try {
                decoding = writerTypeFor(reader.header!, segment.path);
              } catch (error) {
                // Indexed blocks under a header that is not this log's: counted as damaged, not guessed at.
                if (!reader.indexed) throw error;
                reader.rejectHeader((error as Error).message);
                decoding = undefined;
                await deadLetter(part, segment, step.position, step.firstOffset, step.prefix.count, step.bytes, 'the segment header is damaged', onWarning);
                lost(step.firstOffset, blockEnd, error as Error);
                continue;
              }
            }
            const check = step.verified && !decoding.check ? undefined : (decoding.check ?? kind.codec.type);
            const records = blockRecords<T>(step.bytes, step.prefix, kind.codec.type, decoding.resolver, check);
            for (let i = 0; ; i++) {
              let next: IteratorResult<T>;
              try {
                next = records.next();
              } catch (error) {
                // The rest of the block cannot be located record by record: it goes to the dead letters whole.
                const reason = `record ${i + 1} of ${step.prefix.count} cannot be decoded: ${(error as Error).message}`;
                await deadLetter(part, segment, step.position, step.firstOffset + i, step.prefix.count - i, step.bytes, reason, onWarning);
                lost(step.firstOffset + i, blockEnd, error as Error);
                break;
              }
              if (next.done) break;
              const offset = step.firstOffset + i;
              if (offset < nextOffset) continue;
              const value = next.value;
              const timestampMs = kind.timestampMs(value);
              nextOffset = offset + 1;
              if (fromMs !== undefined && timestampMs < fromMs) continue;
              if (toMs !== undefined && timestampMs >= toMs) continue;
              yield { value, position: { partition: part.id, offset }, timestampMs };
              if (signal?.aborted) return;
            }
            nextOffset = Math.max(nextOffset, blockEnd);
          }
        } finally {
          await reader.close();
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
      const next = new Map<number, number>();
      for (const { partition, offset } of positions) next.set(partition, Math.max(next.get(partition) ?? 0, offset + 1));
      for (const [partition, offset] of next) {
        const file = commitFile(group, partition);
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, JSON.stringify({ [partition]: offset }));
        await rename(tmp, file);
      }
    },
    async partitionCount(): Promise<number> {
      return (await storedCount()) ?? options.partitions ?? 1;
    },
    async close(): Promise<void> {
      await appending;
      for (const writer of writers.values()) await writer.close();
      writers.clear();
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

const notFoundAs =
  <V>(value: V) =>
  (error: NodeJS.ErrnoException): V => {
    if (error.code === 'ENOENT') return value;
    throw error;
  };

/**
 * The entries of several partition reads as each comes (a follow read of one partition waits
 * without holding the others back); each read keeps one entry fetched ahead.
 */
async function* mergeReads<E>(reads: AsyncGenerator<E>[]): AsyncGenerator<E> {
  if (reads.length === 1) return yield* reads[0]!;
  const ahead = new Map<number, Promise<{ id: number; next: IteratorResult<E> }>>();
  const pull = (id: number) => {
    const next = reads[id]!.next().then((result) => ({ id, next: result }));
    next.catch(() => undefined);
    ahead.set(id, next);
  };
  reads.forEach((_, id) => pull(id));
  try {
    while (ahead.size > 0) {
      const { id, next } = await Promise.race(ahead.values());
      if (next.done) {
        ahead.delete(id);
        continue;
      }
      pull(id);
      yield next.value;
    }
  } finally {
    await Promise.allSettled(reads.map((each) => each.return(undefined)));
  }
}
