import { usageError } from '../shared/errors.js';
import type { LogEntry } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import type { ReplayConfig, ReplayOptions } from './replay-options.js';
import type { ReplayObserver } from './replay-observer.js';
import { ReplaySink } from './replay-sink.js';
import type { Step } from './replay-job.js';

export interface SourceStepOptions extends Pick<ReplayOptions, 'source' | 'fromMs' | 'toMs' | 'follow' | 'solo' | 'signal' | 'onWarning'> {
  config: ReplayConfig;
  sink: ReplaySink;
  observers: ReplayObserver[];
  /** True once a send in flight failed: reading stops. */
  failed: () => boolean;
  /** Each entry as it is read (the progress fraction). */
  onRead: (entry: LogEntry<Capture>) => void;
}

/**
 * The head of the chain: reads the captures (a window, the whole log, or tailing it), hands
 * each copy of each to the next step in read order, and waits while the Results not yet written
 * pile up, so memory stays bounded when the log is slower to write than the shadow answers.
 */
export async function pumpSource(options: SourceStepOptions, next: Step): Promise<void> {
  const { source, config, sink, signal, observers } = options;
  const copies = source.copies?.bind(source) ?? ((entry: LogEntry<Capture>) => [entry.value.id]);
  const backlogLimit = ReplaySink.backlogLimit(config.concurrency);
  const entries = source.read({
    fromMs: options.fromMs,
    toMs: options.toMs,
    follow: options.follow,
    solo: options.solo,
    group: config.commit ? config.group : undefined,
    // Live mirroring with a new group starts at the end of the log unless --from says where.
    startAtEnd: options.follow === true,
    signal,
    onDeadLetter: () => observers.forEach((o) => o.deadLetter()),
    onWarning: options.onWarning,
  });
  for await (const entry of entries) {
    if (signal?.aborted || sink.failure || options.failed()) break;
    observers.forEach((o) => o.captureRead());
    options.onRead(entry);
    requireAnswerOrReference(entry.value, config);
    const ids = copies(entry);
    sink.track(entry.position, ids.length);
    for (const id of ids) {
      if (signal?.aborted) break;
      const { partition, offset } = entry.position;
      await next({
        entry,
        base: {
          id,
          captureId: entry.value.id,
          source: { log: source.name, partition, offset },
          target: config.target.origin,
          scheduledTime: 0,
          role: 'shadow',
          replayMode: config.replayMode,
          requestChanges: [],
        },
      });
    }
    await sink.belowBacklog(backlogLimit);
  }
}

/** A request-only capture (capture --mirror-target) has no answer to compare: it needs a reference, or the user's word that none is wanted. */
function requireAnswerOrReference(capture: Capture, config: ReplayConfig): void {
  if (config.reference || config.referenceOptional || capture.response !== null || capture.upstreamError !== null) return;
  throw usageError(
    'these captures hold requests only (capture --mirror-target), so the diff has no answer to compare the shadow\'s with: pass --reference http://stable:8080 (a stable instance, sent each request at the same moment), or --no-reference to replay for load and error checks only',
  );
}
