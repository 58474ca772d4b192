import { guardMarkerHeader } from '../shared/records/side-effects.js';

/**
 * Whether unsafe methods may be sent to the shadow: only while it proves that its shadow-mode
 * library guards it, by the marker on its answers (promise 3).
 *
 * How the proof starts: when the first unsafe capture comes, one probe (`HEAD /` with the replay
 * markers; safe by definition) is sent, and its answer decides, so a run sends exactly one probe
 * whatever the timing of other answers. Marked: unsafe methods are sent. Unmarked: they stay
 * skipped as `unsafe-method`, the default without a guard. After the proof, the first answer
 * without the marker stops unsafe sends for the rest of the run (`unguarded-shadow`, one
 * warning). A probe that gets no answer decides nothing: that capture is skipped and the next
 * unsafe one probes again.
 */
export class GuardProof {
  private state: 'unknown' | 'proven' | 'unguarded' | 'lost' = 'unknown';
  private probing: Promise<void> | undefined;

  constructor(
    /** Sends the probe; true/false whether its answer carried the marker, null when none came. */
    private readonly probe: () => Promise<boolean | null>,
    private readonly warn: (message: string) => void,
  ) {}

  /** Null when an unsafe request may be sent now, else the reason it is skipped. */
  async admitUnsafe(): Promise<string | null> {
    if (this.state === 'unknown') {
      this.probing ??= this.probe().then((guarded) => {
        this.probing = undefined;
        if (guarded !== null) this.state = guarded ? 'proven' : 'unguarded';
      });
      await this.probing;
    }
    if (this.state === 'proven') return null;
    return this.state === 'lost' ? 'unguarded-shadow' : 'unsafe-method';
  }

  /** Checked again just before an admitted unsafe request leaves, after it waited for a slot. */
  get lost(): boolean {
    return this.state === 'lost';
  }

  /** Every answer of the shadow: whether it carried the marker, and what it answered. */
  answered(guarded: boolean, what: string): void {
    if (guarded || this.state !== 'proven') return;
    this.state = 'lost';
    this.warn(`${what} came without the ${guardMarkerHeader} marker: the shadow is no longer proven guarded; unsafe methods are skipped as unguarded-shadow from now on`);
  }
}
