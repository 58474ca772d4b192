import { configError } from '../shared/errors.js';
import type { Capture, HttpRequest, HttpResponse, Result } from '../shared/records/types.js';
import { hashKeyId, parseRedactionMode, type ResolvedRedaction } from '../shared/redaction/redaction-options.js';
import { Redactor } from '../shared/redaction/redactor.js';

/**
 * The capture's redaction policy applied to the answers the replay gets (the shadow's, and the
 * A/A baseline's), before any Result is written: the same rules as the replay's redaction flags,
 * which are capture's own, and the mode each capture records (so hashes compare like for like).
 */
export class ShadowRedaction {
  private readonly byMode = new Map<string, Redactor>();

  constructor(private readonly options: ResolvedRedaction) {}

  /** Throws, before anything is sent, when the answers to a capture of this mode cannot be redacted alike (hash mode without its key). */
  assertUsable(captureMode: string | null): void {
    this.redactorFor(captureMode);
  }

  /** The redactor for a capture's recorded mode (the flags' mode when it records none). */
  private redactorFor(captureMode: string | null): Redactor | undefined {
    if (!this.options.enabled) return undefined;
    const recorded = captureMode ?? this.options.mode;
    let redactor = this.byMode.get(recorded);
    if (!redactor) {
      const { mode, keyId } = parseRedactionMode(recorded);
      if (mode === 'hash' && !this.options.hashKey) {
        throw configError("the captures were redacted in hash mode: set SHADOWTAP_REDACT_KEY to the capture agents' key, so the answers replayed are hashed alike");
      }
      if (mode === 'hash' && keyId !== null && keyId !== hashKeyId(this.options.hashKey!)) {
        throw configError(
          `the captures were hashed with key id ${keyId}, and SHADOWTAP_REDACT_KEY has key id ${hashKeyId(this.options.hashKey!)}: ` +
            "set it to the capture agents' key, or every hashed secret would differ from stable's",
        );
      }
      redactor = new Redactor({ ...this.options, mode, sealingKey: null });
      this.byMode.set(recorded, redactor);
    }
    return redactor;
  }

  /**
   * The answer redacted (a copy), given the request as it was sent so its secrets are removed
   * wherever the answer echoes them; and what was redacted (`response.…` entries, never values).
   */
  async redact(response: HttpResponse, sent: HttpRequest, captureMode: string | null): Promise<{ response: HttpResponse; redactions: string[] }> {
    const redactor = this.redactorFor(captureMode);
    if (!redactor) return { response, redactions: [] };
    // The Redactor drops the hash of a body it changed, as it does for capture.
    return redactor.redactResponse(response, sent);
  }

  /** A Result's answer redacted by its capture's policy before it is written, given the request as it was sent. */
  async redactResult(result: Result, capture: Capture, sent: HttpRequest): Promise<Result> {
    if (result.response) ({ response: result.response, redactions: result.redactions } = await this.redact(result.response, sent, capture.redactionMode));
    return result;
  }
}
