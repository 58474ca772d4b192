import type { ResolvedRedaction } from '../capture/capture-options.js';
import { Redactor } from '../capture/redactor.js';
import { configError } from '../shared/errors.js';
import { captureV2Defaults, type HttpResponse } from '../shared/records/types.js';

/**
 * The capture's redaction policy applied to the answers the replay gets (the shadow's, and the
 * A/A baseline's), before any Result is written: the same rules as the replay's redaction flags,
 * which are capture's own, and the mode each capture records (so hashes compare like for like).
 */
export class ShadowRedaction {
  private readonly byMode = new Map<string, Redactor>();

  constructor(private readonly options: ResolvedRedaction) {}

  /**
   * The redactor for a capture's recorded mode (the flags' mode when it records none). Called
   * before a send, so a policy the replay cannot apply stops it before anything is sent.
   */
  redactorFor(captureMode: string | null): Redactor | undefined {
    if (!this.options.enabled) return undefined;
    const mode = responseMode(captureMode ?? this.options.mode);
    let redactor = this.byMode.get(mode);
    if (!redactor) {
      if (mode === 'hash' && !this.options.hashKey) {
        throw configError('the captures were redacted in hash mode: set SHADOWTAP_REDACT_KEY to the capture agents\' key, so the answers replayed are hashed alike');
      }
      redactor = new Redactor({ ...this.options, mode });
      this.byMode.set(mode, redactor);
    }
    return redactor;
  }

  /** Redacts the answer in place; returns what was redacted (`response.…` entries, never values). */
  async redact(response: HttpResponse, captureMode: string | null): Promise<string[]> {
    const redactor = this.redactorFor(captureMode);
    if (!redactor) return [];
    const empty = { method: 'GET', path: '/', query: '', headers: [], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null };
    const capture = {
      id: '',
      captureTime: 0,
      agent: '',
      service: '',
      request: empty,
      response,
      upstreamError: null,
      timings: { start: 0, firstByte: null, end: null },
      redactions: [],
      sampling: { rate: 1, mode: '' },
      ...captureV2Defaults(),
    };
    const redacted = await redactor.redact(capture);
    return redacted.redactions;
  }
}

/** Sealing covers request parts only (what the replay must send); answers are masked. */
function responseMode(mode: string): ResolvedRedaction['mode'] {
  return mode === 'seal' ? 'mask' : (mode as ResolvedRedaction['mode']);
}
