import type { HttpRequest, Result } from '../shared/records/types.js';
import type { PeerConfig } from './replay-options.js';
import { changesOf, sentResult, skipped, withCaptureId, type ReplayJob } from './replay-job.js';
import type { ReplaySink } from './replay-sink.js';
import type { ReplayStats } from './replay-stats.js';
import { buildRequest, type OutgoingRequest } from './request-builder.js';
import type { Send } from './retry-step.js';
import type { ShadowRedaction } from './shadow-redaction.js';
import type { ShadowSender } from './shadow-sender.js';
import { skipReason } from './side-effect-guard.js';

export interface ReferenceSendOptions {
  peer: PeerConfig;
  sender: ShadowSender;
  redaction: ShadowRedaction;
  stats: ReplayStats;
  sink: ReplaySink;
  hardStop: AbortSignal;
}

/**
 * The reference (a stable instance, Diffy-style), a wrapper of the target's send: at the same
 * moment as the target's first attempt, in the target's concurrency slot, so a pair is in flight
 * together. One attempt; an unsafe method is not sent (a skipped Result). Its Result is written
 * just before the target's, so a diff reading in order meets it first.
 */
export function withReference(options: ReferenceSendOptions): (send: Send) => Send {
  const { peer, sender, redaction, stats, sink, hardStop } = options;
  let pairsSent = 0;
  const sendReference = async (job: ReplayJob, request: OutgoingRequest | string): Promise<Result> => {
    const sent = job.sent!;
    const base = { ...job.base, target: peer.target.origin, role: 'reference', requestChanges: changesOf(typeof request === 'string' ? undefined : request, sent) };
    if (typeof request === 'string') return skipped(base, request);
    const outcome = await sender.send(request);
    return redaction.redactResult(sentResult(base, outcome, 1, outcome.sentTime), sent.capture, sent.request);
  };
  return (send) => (job, attempt) => {
    if (attempt !== 1) return send(job, attempt);
    // Whichever side is sent first is answered first on a shared host: take turns, so neither is always second.
    const referenceFirst = (pairsSent++ & 1) === 0;
    // Built before either leaves, so the two sends are as close together as they can be.
    const request = referenceRequest(peer, job.sent!.request, job.sent!.capture.id);
    const answer = referenceFirst ? sendReference(job, request) : undefined;
    const sending = send(job, attempt);
    const answered = answer ?? sendReference(job, request);
    job.settlePeers = async () => {
      const result = await answered;
      if (hardStop.aborted) return;
      sink.expect(job.entry.position);
      stats.referenceResult(result);
      sink.add(result);
    };
    return sending;
  };
}

/** The reference is sent what the shadow is, capture id included, so their answers compare like with like; or why it is not sent. */
function referenceRequest(peer: PeerConfig, request: HttpRequest, captureId: string): OutgoingRequest | string {
  return skipReason(request, peer.allowedMethods) ?? withCaptureId(buildRequest(request, peer.rules), captureId);
}
