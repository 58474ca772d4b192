import { captureKind, resultKind, type LogEntry } from '../../shared/log/record-log.js';
import { reasonOf } from '../../shared/log/kafka-errors.js';
import type { Result } from '../../shared/records/types.js';
import { compileRules, type RuleOptions } from '../compare-pair.js';
import { diffDefaults } from '../diff-defaults.js';
import type { NoiseThresholds } from '../field-calibration.js';
import type { PairRecord } from '../pair-record.js';
import { parseRoutePattern } from '../route-template.js';
import { originOf } from '../run-diff.js';
import type { GroupBackend, PartitionStore } from './group-backend.js';
import { PartitionState, rereadRanges, type PairingContext, type PartitionSnapshot } from './partition-state.js';

export interface DiffWorkerOptions extends RuleOptions {
  /** The group of the workers; also names their state. */
  group: string;
  /** Where a partition with no state yet starts: its first record at or after this time, else the beginning. */
  fromMs?: number;
  routes?: readonly string[];
  samplesPerRoute?: number;
  bucketMs?: number;
  /** Partial summaries are kept per slice of capture time this long (what `shadowtap report --from/--to` can cut on). */
  sliceMs?: number;
  /** Most captures (and, apart, most early results) held while pairing, shared out evenly over the partitions. */
  joinWindow?: number;
  baselineTarget?: string;
  noiseThresholds?: NoiseThresholds;
  /** How often each partition's state, verdicts and offsets are committed together. */
  commitIntervalMs?: number;
  signal: AbortSignal;
  /** Told the verdicts of each commit, once: metrics count only what is committed. */
  onCommitted?(records: PairRecord[]): void;
  /** Told the partition numbers this worker owns after each change, once their state is restored. */
  onAssigned?(partitions: number[]): void;
  onWarning?(message: string): void;
}

export const defaultCommitIntervalMs = 1000;
/** Slices of partial summaries: a day's run keeps 24 in each snapshot. */
export const defaultSliceMs = 60 * 60_000;

interface Owned {
  state: PartitionState;
  store: PartitionStore;
}

/** What every partition of the worker judges with. */
function pairingContext(options: DiffWorkerOptions, partitionCount: number): PairingContext {
  // Shared out over the partitions, so a worker owning them all holds what one diff would.
  const joinWindow = Math.ceil((options.joinWindow ?? diffDefaults.joinWindow) / partitionCount);
  const baselineOrigin = options.baselineTarget === undefined ? undefined : originOf(options.baselineTarget);
  return {
    rules: compileRules(options),
    patterns: (options.routes ?? []).map(parseRoutePattern),
    join: { joinWindow, follow: true, ...(baselineOrigin !== undefined && { isBaseline: (result: Result) => originOf(result.target) === baselineOrigin }) },
    // replay --reference writes a reference just before its shadow result, under the same key: both come in one partition, in that order.
    references: { follow: true, maxPending: joinWindow },
    limits: {
      ...(options.samplesPerRoute !== undefined && { samplesPerRoute: options.samplesPerRoute }),
      ...(options.bucketMs !== undefined && { bucketMs: options.bucketMs }),
    },
    settings: {
      sliceMs: options.sliceMs ?? defaultSliceMs,
      ...(options.fromMs !== undefined && { fromMs: options.fromMs }),
      ...(options.baselineTarget !== undefined && { baselineTarget: options.baselineTarget }),
      ...(options.noiseThresholds !== undefined && { noiseThresholds: options.noiseThresholds }),
    },
  };
}

/** How many records a snapshot names that a reread did not find (retention deleted them). */
function lostRecords(snapshot: PartitionSnapshot, captures: Map<number, unknown>, results: Map<number, unknown>): number {
  const held = snapshot.references;
  const named = {
    captures: new Set([...snapshot.join.captures.map(([offset]) => offset), ...held.shadows.map(([capture]) => capture)]),
    results: new Set([...snapshot.join.results, ...held.shadows.map(([, result]) => result), ...held.references]),
  };
  return [...named.captures].filter((o) => !captures.has(o)).length + [...named.results].filter((o) => !results.has(o)).length;
}

/**
 * One diff worker of a group, over any backend. It owns some partition numbers of both logs (a
 * capture and its results share one); for each it keeps a join, a reference pairing and partial
 * summaries (PartitionState). Every commitIntervalMs, each partition that read anything commits
 * its snapshot, the verdicts judged since the last commit and the offsets it covers, all
 * together. A worker given a partition first fences the previous owner, then restores the last
 * snapshot and goes on from its offsets: nothing is counted twice or lost, whatever stopped the
 * previous owner.
 */
export async function runDiffWorker(backend: GroupBackend, options: DiffWorkerOptions): Promise<void> {
  const { group, signal } = options;
  const context = pairingContext(options, backend.partitionCount);
  const owned = new Map<number, Owned>();
  let assignment = new Set<number>();

  /** Takes a partition over, again after a transient failure (a topic another worker just created). */
  const take = async (partition: number): Promise<Owned> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await takeOnce(partition);
      } catch (error) {
        if (attempt >= 5 || signal.aborted || !backend.isTransient(error)) throw error;
        options.onWarning?.(`partition ${partition}: ${reasonOf(error)}; taking it over again`);
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  };

  /** Takes a partition over: fences its previous owner, restores its last snapshot, or starts it. */
  const takeOnce = async (partition: number): Promise<Owned> => {
    const store = await backend.open(partition);
    try {
      const snapshot = store.snapshot;
      if (!snapshot) {
        const state = new PartitionState(partition, context);
        Object.assign(state.next, await store.startOffsets());
        return { store, state };
      }
      const ranges = rereadRanges(snapshot);
      const captures = ranges.captures ? await store.reread(captureKind, ranges.captures) : new Map<number, LogEntry<never>>();
      const results = ranges.results ? await store.reread(resultKind, ranges.results) : new Map<number, LogEntry<never>>();
      const lost = lostRecords(snapshot, captures, results);
      if (lost > 0) options.onWarning?.(`partition ${partition}: ${lost} buffered records are no longer in the log (retention): they are left out of the pairing`);
      return { store, state: new PartitionState(partition, context, { snapshot, captures, results }) };
    } catch (error) {
      await store.close();
      throw error;
    }
  };

  const commitOne = async (entry: Owned): Promise<void> => {
    if (!entry.state.dirty) return;
    const { snapshot, verdicts } = entry.state.snapshot();
    await entry.store.commit(snapshot, verdicts);
    options.onCommitted?.(verdicts.map((v) => v.record));
  };

  // Ownership changes and commits run one at a time; reading goes on beside them.
  let serial: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const next = serial.then(work);
    serial = next.catch(() => undefined);
    return next;
  };

  let fatal: Error | undefined;
  let stopWaiting: () => void = () => undefined;
  const fail = (error: unknown) => {
    fatal ??= backend.failure(`run diff group ${group}`)(error);
    stopWaiting();
  };

  /** Drops a partition this worker cannot commit for any more; if it still owns it, takes it again from its last snapshot. */
  const reload = async (partition: number, error: unknown) => {
    const entry = owned.get(partition);
    owned.delete(partition);
    await entry?.store.close();
    if (backend.isFenced(error) || !assignment.has(partition)) return;
    options.onWarning?.(`partition ${partition}: commit failed (${reasonOf(error)}); going on from its last snapshot`);
    const taken = await take(partition);
    owned.set(partition, taken);
    backend.resume(partition, taken.state);
  };

  const commitAll = () =>
    inTurn(async () => {
      for (const [partition, entry] of owned) {
        try {
          await commitOne(entry);
        } catch (error) {
          await reload(partition, error);
        }
      }
    });

  const assign = (partitions: number[]) => {
    assignment = new Set(partitions);
    return inTurn(async () => {
      for (const [partition, entry] of owned) {
        if (assignment.has(partition)) continue;
        owned.delete(partition);
        await entry.store.close();
      }
      for (const partition of partitions) {
        // Kept partitions go on from where this worker is (the backend may have to be told so again).
        const entry = owned.get(partition) ?? (await take(partition));
        owned.set(partition, entry);
        backend.resume(partition, entry.state);
      }
      options.onAssigned?.([...owned.keys()].sort((a, b) => a - b));
    });
  };

  const timer = setInterval(() => void commitAll().catch(fail), options.commitIntervalMs ?? defaultCommitIntervalMs);
  try {
    await backend.start({ assign, state: (partition) => owned.get(partition)?.state, fail });
    await new Promise<void>((resolve) => {
      stopWaiting = resolve;
      if (signal.aborted || fatal) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } catch (error) {
    fail(error);
  } finally {
    clearInterval(timer);
    // The last reads are committed before the partitions are handed back.
    await backend.stop().catch(() => undefined);
    if (!fatal) await commitAll().catch(fail);
    await inTurn(async () => {
      for (const entry of owned.values()) await entry.store.close();
      owned.clear();
    });
    await backend.close().catch(() => undefined);
  }
  if (fatal) throw fatal;
}
