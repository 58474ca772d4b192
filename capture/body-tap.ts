import { createHash, type Hash } from 'node:crypto';

/** SHA-256 of no bytes: most requests have no body, and need no hash object. */
const emptySha256 = createHash('sha256').digest('hex');

/** Bytes all in-flight body copies may hold together, so memory is bounded by configuration, not by concurrency. */
export class ByteBudget {
  constructor(private available: number) {}

  take(wanted: number): number {
    const granted = Math.min(wanted, this.available);
    this.available -= granted;
    return granted;
  }

  give(bytes: number): void {
    this.available += bytes;
  }
}

/**
 * Keeps a copy of a body's first `max` bytes while the body flows elsewhere, and counts its real
 * size and hash (streaming: every byte, kept or not, no second copy). When the shared budget runs
 * out the copy stops early and the body is recorded truncated.
 */
export class BodyTap {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private stopped = false;
  private hash: Hash | null = null;
  size = 0;

  constructor(
    private readonly max: number,
    private readonly budget: ByteBudget | null = null,
  ) {}

  add(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.size += chunk.length;
    (this.hash ??= createHash('sha256')).update(chunk);
    if (this.stopped || this.kept >= this.max) return;
    const wanted = Math.min(chunk.length, this.max - this.kept);
    const granted = this.budget ? this.budget.take(wanted) : wanted;
    if (granted < wanted) this.stopped = true;
    if (granted === 0) return;
    // Copied: the caller may reuse or pool the chunk's memory once it has been forwarded.
    this.chunks.push(Buffer.from(chunk.subarray(0, granted)));
    this.kept += granted;
  }

  get truncated(): boolean {
    return this.size > this.kept;
  }

  /** Hex SHA-256 of the whole body; call once, when the body has ended. */
  sha256(): string {
    return this.hash ? this.hash.digest('hex') : emptySha256;
  }

  body(): Buffer {
    // A single chunk is already a copy of our own: no need to copy it again.
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.kept);
  }

  /** Returns the copy's bytes to the budget once the capture holds its own. */
  release(): void {
    this.budget?.give(this.kept);
    this.chunks.length = 0;
    this.kept = 0;
  }
}
