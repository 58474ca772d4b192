import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const FILE_NAME = 'captures-in-memory.json';
/** The file is rewritten in place at a fixed size, so a write cut short never leaves the tail of a longer one. */
const FILE_BYTES = 128;

export interface PreviousRun {
  pid: number;
  /** Captures it held only in memory at its last save, exchanges under way included: at most this many were lost with it. */
  captures: number;
  savedAt: string;
}

/**
 * How many captures the agent holds only in memory (exchanges under way, captures waiting for
 * redaction, for an append, for the spool's write), kept in a small file in the spool folder. A
 * SIGKILL or an OOM kill cannot report what it loses; the next agent on the same spool folder
 * reads the count and reports it. The file is written in place with one write and no fsync (it
 * outlives the process, not the machine), at most once per event-loop turn; a clean stop removes it. An exchange is counted from the turn it
 * began in, before stable can have answered, so a client that got its answer is always counted:
 * the count is an upper bound (exchanges and an append under way at the kill may not be lost).
 */
export class CrashLedger {
  private readonly path: string;
  private fd: number | null = null;
  private saved = -1;
  private scheduled = false;

  private constructor(dir: string, private readonly inMemory: () => number) {
    this.path = join(dir, FILE_NAME);
  }

  /**
   * Takes the spool folder's ledger over. Returns what a previous agent left when it did not stop
   * cleanly, or `shared` when an agent that is still running keeps its ledger there (two agents on
   * one spool folder: this one keeps none).
   */
  static open(dir: string, inMemory: () => number): { ledger: CrashLedger | null; previous: PreviousRun | null; shared: boolean } {
    mkdirSync(dir, { recursive: true });
    const ledger = new CrashLedger(dir, inMemory);
    const previous = ledger.readPrevious();
    if (previous && previous.pid !== process.pid && isRunning(previous.pid)) return { ledger: null, previous: null, shared: true };
    ledger.fd = openSync(ledger.path, 'w');
    ledger.save();
    return { ledger, previous, shared: false };
  }

  /** Writes the current count now, when it changed. */
  save(): void {
    const captures = this.inMemory();
    if (this.fd === null || captures === this.saved) return;
    const text = JSON.stringify({ pid: process.pid, captures, savedAt: new Date().toISOString() });
    const bytes = Buffer.alloc(FILE_BYTES, ' ');
    bytes.write(text);
    try {
      writeSync(this.fd, bytes, 0, FILE_BYTES, 0);
      this.saved = captures;
    } catch {
      // A full or failing disk: the spool reports it; the ledger only loses precision.
    }
  }

  /** Saves once this turn of the event loop is over, however many changes it brings. */
  saveSoon(): void {
    if (this.scheduled || this.fd === null) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.save();
    });
  }

  /** A clean stop: every capture is delivered, spooled or counted as dropped, so nothing is left to report. */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  private readPrevious(): PreviousRun | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return null;
    }
    try {
      const value = JSON.parse(text) as Partial<PreviousRun>;
      if (Number.isInteger(value.pid) && Number.isInteger(value.captures)) return { pid: value.pid!, captures: value.captures!, savedAt: String(value.savedAt) };
    } catch {
      // Cut short by a crash in the middle of its very first write: nothing was held then.
    }
    return null;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
