import type { Capture, Result } from '../shared/records/types.js';
import type { JoinEvent } from './pair-join.js';

/**
 * Brings each shadow result together with its reference: the answer of stable to the same
 * request, sent by the replay at the same moment (`replay --reference`). The reference gives a
 * request-only capture (Istio or nginx mirroring) an answer to compare with, and any pair a
 * stable latency taken under the same load from the same place.
 *
 * A reference and its shadow result share the capture id; when a capture was sent several
 * times (soak copies) the one with the same scheduled time is taken. Either may come first, so
 * the first waits, in memory bounded by `maxPending`, and for at most `waitMicros` of log time
 * (send times of the results read since): then the shadow result is judged without a
 * reference, and a reference that never met its shadow result is reported as unmatched.
 * A shadow result only waits when a reference can be expected: when reading a finished
 * window, when references have been seen, or when its capture has no response of its own.
 */
export type ReferencedEvent =
  | Exclude<JoinEvent, { type: 'pair' }>
  | { type: 'pair'; capture: Capture; result: Result; role: 'shadow'; reference: Result | null }
  | { type: 'pair'; capture: Capture; result: Result; role: 'baseline' }
  | { type: 'unmatched-reference'; result: Result };

export interface ReferenceOptions {
  follow: boolean;
  maxPending: number;
  waitMicros?: number;
}

/** Longer than any send timeout: a reference later than this belongs to nothing still waiting. */
export const defaultReferenceWaitMicros = 60_000_000;

export interface Waiting {
  capture: Capture;
  result: Result;
  /** The result's partition: log time is counted per partition (a reference and its shadow result share one, partitions are read at their own pace). */
  partition: number;
}

interface WaitingReference {
  result: Result;
  partition: number;
}

const timeOf = (r: Result) => r.sentTime ?? r.scheduledTime;

/** Removes and returns the entry of `list` sent at `scheduledTime`, else the first. */
function take<T extends { result: Result }>(lists: Map<string, T[]>, captureId: string, scheduledTime: number): T | undefined {
  const list = lists.get(captureId);
  if (!list) return undefined;
  const at = Math.max(0, list.findIndex((w) => w.result.scheduledTime === scheduledTime));
  const [found] = list.splice(at, 1);
  if (list.length === 0) lists.delete(captureId);
  return found;
}

/** What a reference pairing holds between events, oldest first: enough to rebuild it after a restart. */
export interface ReferenceBuffer {
  shadows: Waiting[];
  references: WaitingReference[];
  seenReference: boolean;
  /** The latest send time read in each partition. */
  clocks: Array<[partition: number, micros: number]>;
}

/**
 * The pairing's state, fed one join event at a time: withReferences drives it over a join, and
 * a diff worker of a group drives one per partition and snapshots it (buffer()).
 */
export class ReferencePairing {
  private readonly waitMicros: number;
  private readonly shadows = new Map<string, Waiting[]>();
  private readonly references = new Map<string, WaitingReference[]>();
  private pending = 0;
  private seenReference = false;
  private readonly clocks = new Map<number, number>();

  constructor(
    private readonly options: ReferenceOptions,
    restored?: ReferenceBuffer,
  ) {
    this.waitMicros = options.waitMicros ?? defaultReferenceWaitMicros;
    if (!restored) return;
    this.seenReference = restored.seenReference;
    for (const [partition, micros] of restored.clocks) this.clocks.set(partition, micros);
    for (const waiting of restored.shadows) this.hold(this.shadows, waiting.capture.id, waiting);
    for (const reference of restored.references) this.hold(this.references, reference.result.captureId, reference);
  }

  private hold<T>(lists: Map<string, T[]>, id: string, entry: T): void {
    lists.set(id, [...(lists.get(id) ?? []), entry]);
    this.pending++;
  }

  *add(event: JoinEvent): Generator<ReferencedEvent> {
    if (event.type !== 'pair') {
      yield event;
      return;
    }
    const { capture, result, partition } = event;
    this.clocks.set(partition, Math.max(this.clocks.get(partition) ?? 0, timeOf(result)));
    if (event.role === 'baseline') yield { type: 'pair', capture, result, role: 'baseline' };
    else if (event.role === 'reference') {
      this.seenReference = true;
      const shadow = take(this.shadows, capture.id, result.scheduledTime);
      if (shadow) {
        this.pending--;
        yield { type: 'pair', capture: shadow.capture, result: shadow.result, role: 'shadow', reference: result };
      } else this.hold(this.references, capture.id, { result, partition });
    } else {
      const reference = take(this.references, capture.id, result.scheduledTime);
      if (reference) {
        this.pending--;
        yield { type: 'pair', capture, result, role: 'shadow', reference: reference.result };
      } else if (!this.options.follow || this.seenReference || capture.response === null) this.hold(this.shadows, capture.id, { capture, result, partition });
      else yield { type: 'pair', capture, result, role: 'shadow', reference: null };
    }
    if (this.pending > 0) yield* this.release(false);
  }

  /** What the end of the logs releases: shadow results judged without a reference, references never met. */
  *atEnd(): Generator<ReferencedEvent> {
    yield* this.release(true);
  }

  /** What atEnd() would release now, the state left as it is. */
  *pendingAtEnd(): Generator<ReferencedEvent> {
    for (const list of this.shadows.values()) for (const { capture, result } of list) yield { type: 'pair', capture, result, role: 'shadow', reference: null };
    for (const list of this.references.values()) for (const { result } of list) yield { type: 'unmatched-reference', result };
  }

  buffer(): ReferenceBuffer {
    return { shadows: [...this.shadows.values()].flat(), references: [...this.references.values()].flat(), seenReference: this.seenReference, clocks: [...this.clocks] };
  }

  private *release(all: boolean): Generator<ReferencedEvent> {
    for (const lists of [this.shadows, this.references] as const) {
      for (const [id, list] of lists) {
        const oldest = list[0]!;
        if (!all && this.pending <= this.options.maxPending && timeOf(oldest.result) >= (this.clocks.get(oldest.partition) ?? 0) - this.waitMicros) break;
        lists.delete(id);
        this.pending -= list.length;
        for (const entry of list) {
          if ('capture' in entry) yield { type: 'pair', capture: (entry as Waiting).capture, result: entry.result, role: 'shadow', reference: null };
          else yield { type: 'unmatched-reference', result: entry.result };
        }
      }
    }
  }
}

export async function* withReferences(events: AsyncIterable<JoinEvent>, options: ReferenceOptions): AsyncGenerator<ReferencedEvent> {
  const pairing = new ReferencePairing(options);
  for await (const event of events) yield* pairing.add(event);
  yield* pairing.atEnd();
}
