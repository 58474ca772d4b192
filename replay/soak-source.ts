import type { LogEntry } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import type { CaptureSource } from './replay-options.js';

/** What a soak plays (soak.ts plans it from the window's captures). */
export interface SoakPattern {
  /** The window read, [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  /** The pattern inside it: from its first capture, this long; pass n plays it shifted by n × spanMs. */
  startMs: number;
  spanMs: number;
  /** 24 plays the pattern in a 24th of its time. */
  compress: number;
  loop: number;
  /** Each capture is sent this many times. */
  amplify: number;
}

/** An entry of a soak: its timestamp is in compressed time; where it was in the recording too. */
export interface SoakEntry extends LogEntry<Capture> {
  /** The capture's recorded time, ms since the epoch. */
  recordedMs: number;
  pass: number;
}

/**
 * A source wrapper that turns a window of the log into a soak: the window is read `loop` times,
 * each pass's timestamps shifted by the pattern's length and compressed, so recorded pacing plays
 * the passes back to back as one long recording; each capture is sent `amplify` times (Result
 * ids `<id>~<n>`). A soak replays a fixed window, not a position in the log: nothing is committed.
 */
export function soakSource(source: CaptureSource, pattern: SoakPattern, onEntry?: (entry: SoakEntry) => void): CaptureSource {
  const { startMs, spanMs, compress, loop, amplify } = pattern;
  return {
    name: source.name,
    plan: { replayMode: 'soak', originMs: startMs },
    commit: () => Promise.resolve(),
    copies: (entry) => Array.from({ length: amplify }, (_, a) => copyId(entry.value.id, (entry as SoakEntry).pass * amplify + a)),
    async *read(options = {}): AsyncGenerator<LogEntry<Capture>> {
      for (let pass = 0; pass < loop && !options.signal?.aborted; pass++) {
        const entries = source.read({ fromMs: pattern.fromMs, toMs: pattern.toMs, signal: options.signal, onDeadLetter: options.onDeadLetter, onWarning: options.onWarning });
        for await (const entry of entries) {
          const soaked: SoakEntry = { ...entry, timestampMs: startMs + (entry.timestampMs + pass * spanMs - startMs) / compress, recordedMs: entry.timestampMs, pass };
          onEntry?.(soaked);
          yield soaked;
        }
      }
    },
  };
}

/** Result id of copy n of a capture: the capture's own id for the first, `<id>~<n>` after. */
export function copyId(captureId: string, n: number): string {
  return n === 0 ? captureId : `${captureId}~${n}`;
}
