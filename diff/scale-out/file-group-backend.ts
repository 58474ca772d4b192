import { mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShadowtapError, usageError } from '../../shared/errors.js';
import { FileGroupLeases } from '../../shared/log/file-group-leases.js';
import { openLog } from '../../shared/log/open-log.js';
import { captureKind, resultKind, type LogEntry, type RecordKind, type RecordLog } from '../../shared/log/record-log.js';
import type { Capture, Result } from '../../shared/records/types.js';
import type { GroupBackend, GroupHooks, PartitionStore } from './group-backend.js';
import type { LogSide, PartitionSnapshot, PartitionState, PendingVerdict } from './partition-state.js';
import { verdictOf } from './verdict-record.js';

export interface FileGroupOptions {
  store: string;
  group: string;
  /** Records before this time are passed over (a partition starts at its first record at or after it). */
  fromMs?: number;
  /** A worker that has not refreshed its leases for this long is gone: its partitions are taken over. */
  sessionMs?: number;
}

/** As Kafka's consumer session of diff workers. */
export const defaultFileSessionMs = 10_000;

/** Where a group of diff workers keeps its leases, snapshots and verdicts in a store. */
export function fileGroupPaths(store: string, group: string) {
  const dir = join(store, 'diff-groups', encodeURIComponent(group));
  return {
    dir,
    /** A partition's snapshot and how much of its verdicts file that snapshot covers, one JSON file written and renamed. */
    state: (partition: number) => join(dir, `state-${partition}.json`),
    /** A partition's verdicts, JSON lines; bytes past the snapshot's `verdictBytes` belong to no commit. */
    verdicts: (partition: number) => join(dir, `verdicts-${partition}.jsonl`),
  };
}

/** What a partition's state file holds. */
export interface FileStateRecord {
  snapshot: PartitionSnapshot;
  verdictBytes: number;
}

const notFound = (error: NodeJS.ErrnoException) => {
  if (error.code === 'ENOENT') return undefined;
  throw error;
};

/** Every committed snapshot of a group in a store (none when the group never ran there). */
export async function readFileGroupState(store: string, group: string): Promise<FileStateRecord[]> {
  const paths = fileGroupPaths(store, group);
  const names = (await readdir(paths.dir).catch(notFound)) ?? [];
  const records: FileStateRecord[] = [];
  for (const name of names.filter((n) => /^state-\d+\.json$/.test(n)).sort()) {
    const text = await readFile(join(paths.dir, name), 'utf8');
    try {
      records.push(JSON.parse(text) as FileStateRecord);
    } catch (error) {
      throw new ShadowtapError('ST_LOG_IO', `${join(paths.dir, name)} is not a diff group snapshot: ${(error as Error).message}`, { cause: error });
    }
  }
  return records;
}

class LeaseLost extends Error {}

/** A partition of the store this worker holds the lease of: its last snapshot, and its verdicts file cut back to what that snapshot covers. */
class FilePartitionStore implements PartitionStore {
  constructor(
    private readonly owner: FileGroup,
    private readonly partition: number,
    readonly snapshot: PartitionSnapshot | undefined,
    private verdictBytes: number,
  ) {}

  async startOffsets() {
    return { captures: 0, results: 0 };
  }

  reread<T>(kind: RecordKind<T>, range: { start: number; end: number }) {
    return this.owner.reread(kind, this.partition, range);
  }

  async commit(snapshot: PartitionSnapshot, verdicts: PendingVerdict[]): Promise<void> {
    const paths = this.owner.paths;
    const lines = Buffer.from(verdicts.map(({ record, timeMs }) => `${JSON.stringify(verdictOf(record, timeMs))}\n`).join(''));
    const handle = await open(paths.verdicts(this.partition), 'r+');
    try {
      await handle.write(lines, 0, lines.length, this.verdictBytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (!(await this.owner.leases.holds(this.partition))) throw new LeaseLost(`partition ${this.partition}: its lease went to another worker`);
    // The snapshot names the verdicts it covers: a crash before the rename leaves the old snapshot, and the verdicts written past it are cut off by the next owner.
    const record: FileStateRecord = { snapshot, verdictBytes: this.verdictBytes + lines.length };
    const tmp = `${paths.state(this.partition)}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(record));
    await rename(tmp, paths.state(this.partition));
    this.verdictBytes = record.verdictBytes;
  }

  async close(): Promise<void> {
    await this.owner.leases.handOver(this.partition);
  }
}

/**
 * Diff workers of a group over one file-log store: several local processes split its
 * partitions with lease files (FileGroupLeases), and each partition commits its snapshot, the
 * verdicts judged since the last one and the offsets it covers as one state file written and
 * renamed.
 */
export async function openFileGroup(options: FileGroupOptions): Promise<GroupBackend> {
  const captures = await openLog<Capture>(captureKind, { store: options.store, existing: true });
  try {
    const results = await openLog<Result>(resultKind, { store: options.store });
    const counts = { captures: await captures.partitionCount!(), results: await results.partitionCount!() };
    if (counts.captures !== counts.results) {
      await results.close();
      throw usageError(
        `diff workers of a group need as many partitions of results as of captures (a capture and its results share a partition number); ${options.store} has ${counts.captures} and ${counts.results}: replay into a store whose results are new, or with --store-partitions ${counts.captures}`,
      );
    }
    return new FileGroup(captures, results, counts.captures, options);
  } catch (error) {
    await captures.close();
    throw error;
  }
}

class FileGroup implements GroupBackend<FilePartitionStore> {
  readonly paths: ReturnType<typeof fileGroupPaths>;
  leases!: FileGroupLeases;
  private readonly sessionMs: number;
  private readonly readers = new Map<number, { controller: AbortController; done: Promise<void> }>();
  private hooks: GroupHooks | undefined;
  private beating: NodeJS.Timeout | undefined;
  private beat: Promise<void> = Promise.resolve();
  /** The partitions last handed to the worker loop (none yet: the first beat always tells). */
  private holding: string | undefined;
  private stopped = false;
  /** The file log's consumer group through which a partition is read from an offset: its own name, so a replay group of the same name keeps its offsets. */
  private readonly readGroup: string;

  constructor(
    private readonly captures: RecordLog<Capture>,
    private readonly results: RecordLog<Result>,
    readonly partitionCount: number,
    private readonly options: FileGroupOptions,
  ) {
    this.paths = fileGroupPaths(options.store, options.group);
    this.readGroup = `shadowtap-diff.${options.group}`;
    this.sessionMs = options.sessionMs ?? defaultFileSessionMs;
  }

  failure(action: string) {
    return (error: unknown) => (error instanceof ShadowtapError ? error : new ShadowtapError('ST_LOG_IO', `cannot ${action} in ${this.options.store}: ${(error as Error).message}`, { cause: error }));
  }

  isFenced(error: unknown): boolean {
    return error instanceof LeaseLost;
  }

  isTransient(): boolean {
    return false;
  }

  async open(partition: number): Promise<FilePartitionStore> {
    const saved = (await readFile(this.paths.state(partition), 'utf8').catch(notFound)) as string | undefined;
    const record = saved === undefined ? undefined : (JSON.parse(saved) as FileStateRecord);
    const verdictBytes = record?.verdictBytes ?? 0;
    // Verdicts past the snapshot were written by a commit that never happened.
    const handle = await open(this.paths.verdicts(partition), 'a');
    try {
      await handle.truncate(verdictBytes);
    } finally {
      await handle.close();
    }
    return new FilePartitionStore(this, partition, record?.snapshot, verdictBytes);
  }

  /** The log of one side; a read of it from an offset goes through the group's committed offset there. */
  private logOf(side: LogSide): RecordLog<Capture | Result> {
    return side === 'captures' ? this.captures : this.results;
  }

  private async seek(side: LogSide, partition: number, offset: number): Promise<void> {
    await this.logOf(side).commit(this.readGroup, [{ partition, offset: offset - 1 }]);
  }

  async reread<T>(kind: RecordKind<T>, partition: number, range: { start: number; end: number }): Promise<Map<number, LogEntry<T>>> {
    const found = new Map<number, LogEntry<T>>();
    await this.seek(kind.name, partition, range.start);
    for await (const entry of this.logOf(kind.name).read({ group: this.readGroup, partitions: [partition] })) {
      if (entry.position.offset >= range.end) break;
      found.set(entry.position.offset, entry as LogEntry<T>);
    }
    return found;
  }

  resume(partition: number, state: PartitionState): void {
    this.readers.get(partition)?.controller.abort();
    if (this.stopped) return;
    const controller = new AbortController();
    const hooks = this.hooks!;
    const feed = async (side: LogSide) => {
      await this.seek(side, partition, state.next[side]);
      const { signal } = controller;
      const onDeadLetter = ({ offset }: { offset: number }) => {
        if (!signal.aborted && hooks.state(partition) === state && offset >= state.next[side]) state.skip(side, offset);
      };
      for await (const entry of this.logOf(side).read({ group: this.readGroup, partitions: [partition], follow: true, signal, fromMs: this.options.fromMs, onDeadLetter })) {
        if (signal.aborted || hooks.state(partition) !== state) return;
        // A read started from an older seek of the same partition repeats what the state has.
        if (entry.position.offset < state.next[side]) continue;
        if (side === 'captures') state.addCapture(entry as LogEntry<Capture>);
        else state.addResult(entry as LogEntry<Result>);
      }
    };
    const done = Promise.all([feed('captures'), feed('results')]).then(
      () => undefined,
      (error) => {
        if (!controller.signal.aborted) hooks.fail(error);
      },
    );
    this.readers.set(partition, { controller, done });
  }

  async start(hooks: GroupHooks): Promise<void> {
    this.hooks = hooks;
    await mkdir(this.paths.dir, { recursive: true });
    this.leases = await FileGroupLeases.join(this.paths.dir, this.partitionCount, this.sessionMs);
    const beat = async () => {
      const held = await this.leases.beat();
      for (const [partition, reader] of this.readers) if (!held.includes(partition)) reader.controller.abort();
      if (held.join() === this.holding) return;
      this.holding = held.join();
      // Not awaited: restoring a partition takes longer than a beat, and leases must be refreshed meanwhile.
      void hooks.assign(held).catch(hooks.fail);
    };
    this.beat = beat();
    await this.beat;
    this.beating = setInterval(() => {
      this.beat = this.beat.then(beat).catch(hooks.fail);
    }, this.sessionMs / 5);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.beating);
    await this.beat;
    for (const { controller } of this.readers.values()) controller.abort();
    await Promise.all([...this.readers.values()].map((r) => r.done));
    this.readers.clear();
  }

  async close(): Promise<void> {
    await this.leases?.leave();
    await this.captures.close();
    await this.results.close();
  }
}
