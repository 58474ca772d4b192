/**
 * A one-line progress display for long diffs on a terminal: pairs so far and pairs per second,
 * rewritten in place on stderr. On anything but a TTY it writes nothing, so logs and CI output
 * stay clean.
 */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): boolean;
}

export class ProgressLine {
  private pairs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedMs: number;
  private shown = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {
    this.startedMs = now();
  }

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  count(): void {
    this.pairs++;
  }

  render(): void {
    if (!this.enabled) return;
    const seconds = Math.max(0.001, (this.now() - this.startedMs) / 1000);
    const rate = Math.round(this.pairs / seconds);
    this.stream.write(`\r\u001b[Kshadowtap diff: ${this.pairs.toLocaleString('en-US')} pairs, ${rate.toLocaleString('en-US')} pairs/s`);
    this.shown = true;
  }

  start(intervalMs = 250): this {
    if (this.enabled) this.timer = setInterval(() => this.render(), intervalMs).unref();
    return this;
  }

  /** Stops and erases the line, so the report starts on a clean line. */
  stop(): void {
    clearInterval(this.timer);
    if (this.shown) this.stream.write('\r\u001b[K');
  }
}
