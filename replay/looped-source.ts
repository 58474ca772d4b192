import type { LogEntry } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import type { CaptureSource } from './replay-options.js';

export interface LoopedWindow {
  /** The window read, [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  loop: number;
  /** The pattern inside it: from its first capture, this long; each pass is shifted by spanMs. */
  startMs: number;
  spanMs: number;
}

/**
 * Reads the window [fromMs, toMs) `loop` times, shifting each pass's timestamps by the pattern's
 * length, so the recorded pacer replays the passes back to back as one long recording. Nothing
 * is committed: a soak replays a fixed window, not a position in the log.
 */
export function loopedSource(source: CaptureSource, window: LoopedWindow): CaptureSource {
  const { spanMs } = window;
  return {
    name: source.name,
    commit: () => Promise.resolve(),
    async *read(options = {}): AsyncGenerator<LogEntry<Capture>> {
      for (let pass = 0; pass < window.loop && !options.signal?.aborted; pass++) {
        const entries = source.read({ fromMs: window.fromMs, toMs: window.toMs, signal: options.signal, onDeadLetter: options.onDeadLetter, onWarning: options.onWarning });
        for await (const entry of entries) yield { ...entry, timestampMs: entry.timestampMs + pass * spanMs };
      }
    },
  };
}

/** Which pass of the loop a shifted timestamp belongs to. */
export function passOf(timestampMs: number, window: LoopedWindow): number {
  return Math.floor((timestampMs - window.startMs) / window.spanMs);
}
