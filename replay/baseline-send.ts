import type { ConcurrencyLimit } from './concurrency-limit.js';
import type { Deliver } from './deliver-step.js';
import type { PeerConfig } from './replay-options.js';
import { changesOf, sentResult } from './replay-job.js';
import type { ReplaySink } from './replay-sink.js';
import type { ReplayStats } from './replay-stats.js';
import { buildRequest } from './request-builder.js';
import type { ShadowRedaction } from './shadow-redaction.js';
import type { ShadowSender } from './shadow-sender.js';
import { skipReason } from './side-effect-guard.js';

/** A/A sends waiting for the baseline's cap, in multiples of it, before further ones are skipped. */
const backlogRounds = 4;

export interface BaselineSendOptions {
  peer: PeerConfig;
  sender: ShadowSender;
  /** The baseline's own cap: it never delays or drops a target send. */
  limit: ConcurrencyLimit;
  redaction: ShadowRedaction;
  stats: ReplayStats;
  sink: ReplaySink;
  hardStop: AbortSignal;
  fail: (error: unknown) => void;
}

/**
 * The A/A baseline (a second stable instance), a wrapper of the target's delivery: each safe
 * request the target is sent goes there too, as stable got it, once, with no circuit breaker
 * (both are about the shadow). It waits for a slot of its own without holding up the target;
 * past a backlog of a few rounds of its cap it is skipped instead. Its Result is due before the
 * capture commits.
 */
export function withBaseline(options: BaselineSendOptions): (deliver: Deliver) => Deliver {
  const { peer, sender, limit, redaction, stats, sink, hardStop } = options;
  let waiting = 0;
  const sendBaseline: Deliver = async (job) => {
    const { entry } = job;
    if (skipReason(entry.value.request, peer.allowedMethods)) return;
    if (waiting >= backlogRounds * limit.max) {
      stats.baselineDropped();
      return;
    }
    sink.expect(entry.position);
    waiting++;
    const started = await limit.acquire({ signal: hardStop });
    waiting--;
    if (!started) return;
    try {
      const sent = job.sent!;
      const request = buildRequest(sent.request, peer.rules);
      const outcome = await sender.send(request);
      if (hardStop.aborted) return;
      const base = { ...job.base, target: peer.target.origin, role: 'baseline', requestChanges: changesOf(request, sent) };
      const result = await redaction.redactResult(sentResult(base, outcome, 1, outcome.sentTime), entry.value, sent.request);
      if (hardStop.aborted) return;
      stats.baselineResult(result);
      sink.add(result);
    } finally {
      limit.release();
    }
  };
  return (deliver) => (job) => {
    const done = deliver(job);
    sendBaseline(job).catch(options.fail);
    return done;
  };
}
