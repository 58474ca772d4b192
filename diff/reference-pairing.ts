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

interface Waiting {
  capture: Capture;
  result: Result;
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

export async function* withReferences(events: AsyncIterable<JoinEvent>, options: ReferenceOptions): AsyncGenerator<ReferencedEvent> {
  const waitMicros = options.waitMicros ?? defaultReferenceWaitMicros;
  const shadows = new Map<string, Waiting[]>();
  const references = new Map<string, Array<{ result: Result }>>();
  let pending = 0;
  let seenReference = false;
  let clock = 0;

  function* release(all: boolean): Generator<ReferencedEvent> {
    for (const lists of [shadows, references] as const) {
      for (const [id, list] of lists) {
        if (!all && pending <= options.maxPending && timeOf(list[0]!.result) >= clock - waitMicros) break;
        lists.delete(id);
        pending -= list.length;
        for (const entry of list) {
          if ('capture' in entry) yield { type: 'pair', capture: (entry as Waiting).capture, result: entry.result, role: 'shadow', reference: null };
          else yield { type: 'unmatched-reference', result: entry.result };
        }
      }
    }
  }

  for await (const event of events) {
    if (event.type !== 'pair') {
      yield event;
      continue;
    }
    const { capture, result } = event;
    clock = Math.max(clock, timeOf(result));
    if (event.role === 'baseline') yield { type: 'pair', capture, result, role: 'baseline' };
    else if (event.role === 'reference') {
      seenReference = true;
      const shadow = take(shadows, capture.id, result.scheduledTime);
      if (shadow) {
        pending--;
        yield { type: 'pair', capture: shadow.capture, result: shadow.result, role: 'shadow', reference: result };
      } else {
        references.set(capture.id, [...(references.get(capture.id) ?? []), { result }]);
        pending++;
      }
    } else {
      const reference = take(references, capture.id, result.scheduledTime);
      if (reference) {
        pending--;
        yield { type: 'pair', capture, result, role: 'shadow', reference: reference.result };
      } else if (!options.follow || seenReference || capture.response === null) {
        shadows.set(capture.id, [...(shadows.get(capture.id) ?? []), { capture, result }]);
        pending++;
      } else yield { type: 'pair', capture, result, role: 'shadow', reference: null };
    }
    if (pending > 0) yield* release(false);
  }
  yield* release(true);
}
