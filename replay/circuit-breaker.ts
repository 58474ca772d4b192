import { setTimeout as sleep } from 'node:timers/promises';

export interface CircuitBreakerOptions {
  /** Consecutive connection failures (refused, reset) that open the circuit. */
  failureThreshold: number;
  /** While open, one probe request is let through this often. */
  probeIntervalMs: number;
}

/** How a send was let through: normally, or as the single probe of an open circuit. */
export type Admission = 'normal' | 'probe';

/** What a finished attempt tells the breaker. */
export type AttemptVerdict = 'answered' | 'connection-failure' | 'other-failure';

/**
 * Stops hammering a shadow that is down: after K consecutive connection failures sending
 * pauses, and one probe per interval checks whether the shadow is back.
 */
export class CircuitBreaker {
  private state: 'closed' | 'open' | 'probing' = 'closed';
  private consecutiveFailures = 0;
  private nextProbeAt = 0;
  private wake: () => void = () => undefined;
  private changed = this.newChange();
  /** Times the circuit opened, for the summary. */
  opens = 0;

  constructor(
    private readonly options: CircuitBreakerOptions,
    private readonly onChange: (open: boolean) => void = () => undefined,
  ) {}

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /** Admission without waiting: null while open and no probe is due. */
  tryAdmit(): Admission | null {
    if (this.state === 'closed') return 'normal';
    if (this.state === 'open' && performance.now() >= this.nextProbeAt) {
      this.state = 'probing';
      return 'probe';
    }
    return null;
  }

  /** Waits until a send may start; null when the signal aborts first. */
  async admit(signal?: AbortSignal): Promise<Admission | null> {
    for (;;) {
      if (signal?.aborted) return null;
      const admission = this.tryAdmit();
      if (admission) return admission;
      // Wait for a state change, the next probe time or the abort; then cancel the other waits.
      const done = new AbortController();
      const waitSignal = signal ? AbortSignal.any([signal, done.signal]) : done.signal;
      const probeDelay = this.state === 'open' ? Math.max(0, this.nextProbeAt - performance.now()) : 2 ** 31 - 1;
      await Promise.race([this.changed, sleep(probeDelay, undefined, { signal: waitSignal }).catch(() => undefined)]);
      done.abort();
    }
  }

  /** A probe admission that was not used (the send was dropped): the next caller may probe. */
  releaseProbe(): void {
    if (this.state === 'probing') this.state = 'open';
  }

  record(admission: Admission, verdict: AttemptVerdict): void {
    if (verdict === 'answered') {
      this.consecutiveFailures = 0;
      if (this.state !== 'closed') this.transition('closed');
      return;
    }
    if (admission === 'probe') {
      this.reopen();
      return;
    }
    if (verdict !== 'connection-failure') return;
    this.consecutiveFailures++;
    if (this.state === 'closed' && this.consecutiveFailures >= this.options.failureThreshold) {
      this.opens++;
      this.reopen();
    }
  }

  private reopen(): void {
    this.nextProbeAt = performance.now() + this.options.probeIntervalMs;
    this.transition('open');
  }

  private transition(state: 'closed' | 'open'): void {
    const wasOpen = this.isOpen;
    this.state = state;
    if (wasOpen !== this.isOpen) this.onChange(this.isOpen);
    this.wake();
    this.changed = this.newChange();
  }

  private newChange(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }
}
