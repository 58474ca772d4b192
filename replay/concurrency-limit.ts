/** Caps requests in flight. Unlike p-limit it can give up at a deadline, which the open model needs to drop a late send. */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];

  constructor(readonly max: number) {}

  get inFlight(): number {
    return this.active;
  }

  tryAcquire(): boolean {
    if (this.active >= this.max) return false;
    this.active++;
    return true;
  }

  /** Resolves true once a slot is taken, false when `deadlineMs` (performance.now() time) passes or the signal aborts first. */
  acquire(options: { signal?: AbortSignal; deadlineMs?: number } = {}): Promise<boolean> {
    if (this.tryAcquire()) return Promise.resolve(true);
    const { signal, deadlineMs } = options;
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (acquired: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const at = this.waiters.indexOf(grant);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve(acquired);
      };
      const grant = () => {
        this.active++;
        finish(true);
      };
      const onAbort = () => finish(false);
      this.waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (deadlineMs !== undefined) timer = setTimeout(onAbort, Math.max(0, deadlineMs - performance.now()));
    });
  }

  release(): void {
    this.active--;
    const next = this.waiters.shift();
    if (next) next();
    else if (this.active === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
  }

  /** Resolves when nothing is in flight. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
