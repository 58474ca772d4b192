import type { Position } from '../shared/log/record-log.js';

interface Pending {
  offset: number;
  remaining: number;
}

/**
 * Requests finish out of order, but a commit says "everything up to here is done". Per
 * partition this keeps the captures read and not yet committed, in read order, and hands out
 * the end of the prefix whose Results are all written. Holds only what is in flight.
 */
export class CommitTracker {
  private readonly partitions = new Map<number, { queue: Pending[]; head: number; byOffset: Map<number, Pending> }>();

  /** A capture was read; `results` Results must be written before it counts as done. */
  track(position: Position, results: number): void {
    let partition = this.partitions.get(position.partition);
    if (!partition) {
      partition = { queue: [], head: 0, byOffset: new Map() };
      this.partitions.set(position.partition, partition);
    }
    const pending = { offset: position.offset, remaining: results };
    partition.queue.push(pending);
    partition.byOffset.set(position.offset, pending);
  }

  /** One more Result is due for the capture at `position` (an A/A baseline send); call it before its other Results are written. */
  expectMore(position: Position): void {
    const pending = this.partitions.get(position.partition)?.byOffset.get(position.offset);
    if (pending) pending.remaining++;
  }

  /** One Result of the capture at `position` was written. */
  written(position: Position): void {
    const pending = this.partitions.get(position.partition)?.byOffset.get(position.offset);
    if (pending) pending.remaining--;
  }

  /** The last position of each partition's done prefix that advanced since the previous call. */
  takeCommittable(): Position[] {
    const positions: Position[] = [];
    for (const [partition, state] of this.partitions) {
      let last: number | undefined;
      while (state.head < state.queue.length && state.queue[state.head]!.remaining <= 0) {
        last = state.queue[state.head]!.offset;
        state.byOffset.delete(last);
        state.head++;
      }
      if (state.head > 1024 && state.head * 2 > state.queue.length) {
        state.queue = state.queue.slice(state.head);
        state.head = 0;
      }
      if (last !== undefined) positions.push({ partition, offset: last });
    }
    return positions;
  }
}
