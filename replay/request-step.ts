import { nowMicros } from '../shared/records/types.js';
import { prepareRequest } from './redacted-request.js';
import type { ReplayConfig } from './replay-options.js';
import { skipped, withCaptureId, type Wrapper } from './replay-job.js';
import type { ReplaySink } from './replay-sink.js';
import { buildRequest } from './request-builder.js';
import type { ShadowRedaction } from './shadow-redaction.js';

/**
 * Builds what the target is sent: the recorded request with its sealed originals restored
 * (redacted-request.ts), rebuilt with the markers, the capture id and the configured rewrites.
 * A redaction policy the replay cannot apply to the answer stops it here, before anything is sent.
 */
export function requestStep(config: Pick<ReplayConfig, 'secrets' | 'rules'>, redaction: ShadowRedaction, sink: ReplaySink): Wrapper {
  // Not async: nothing here waits. Its throws (a key not held, a policy not applicable) reach the source's await as before.
  return (next) => (job) => {
    const capture = job.entry.value;
    const prepared = prepareRequest(capture, config.secrets);
    if ('skip' in prepared) {
      sink.record(skipped({ ...job.base, scheduledTime: nowMicros() }, prepared.skip), job.entry);
      return Promise.resolve(undefined);
    }
    redaction.assertUsable(capture.redactionMode);
    job.request = withCaptureId(buildRequest(prepared.request, config.rules), capture.id);
    job.sent = { ...prepared, capture };
    return next(job);
  };
}
