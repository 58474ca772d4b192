import { createHash, hash, type Hash } from 'node:crypto';

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
 * size and hash (every byte, kept or not, no second copy). When the shared budget runs out the
 * copy stops early and the body is recorded truncated. A body kept whole, most of them, is hashed
 * once it has ended, in one call on the copy; a hash object streams over the bytes only from the
 * moment a body is cut. Capture's copies (`copy`, the default: the chunk flows on and its memory
 * may be reused) and the replay's shadow answers (the client's chunks are its own to keep) alike.
 */
export class BodyTap {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private hash: Hash | null = null;
  size = 0;

  constructor(
    private readonly max: number,
    private readonly budget: ByteBudget | null = null,
    private readonly copy = true,
  ) {}

  add(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.size += chunk.length;
    if (this.hash) {
      // Already cut: nothing more is kept.
      this.hash.update(chunk);
      return;
    }
    const wanted = Math.min(chunk.length, this.max - this.kept);
    const granted = wanted > 0 && this.budget ? this.budget.take(wanted) : wanted;
    if (granted > 0) {
      // Copied: the caller may reuse or pool the chunk's memory once it has been forwarded.
      const part = chunk.subarray(0, granted);
      this.chunks.push(this.copy ? Buffer.from(part) : Buffer.from(part.buffer, part.byteOffset, part.byteLength));
      this.kept += granted;
    }
    if (granted < chunk.length) {
      // Cut here: the hash must cover what was kept and every byte to come.
      const streaming = createHash('sha256');
      for (const kept of this.chunks) streaming.update(kept);
      streaming.update(chunk.subarray(granted));
      this.hash = streaming;
    }
  }

  get truncated(): boolean {
    return this.size > this.kept;
  }

  /** Hex SHA-256 of the whole body; call once, when the body has ended. */
  sha256(): string {
    if (this.hash) return this.hash.digest('hex');
    return this.kept === 0 ? emptySha256 : hash('sha256', this.body());
  }

  body(): Buffer {
    // A single chunk is already ours (a copy, or the caller's to give): no need to copy it again.
    if (this.chunks.length > 1) this.chunks.splice(0, this.chunks.length, Buffer.concat(this.chunks, this.kept));
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.alloc(0);
  }

  /** Returns the copy's bytes to the budget once the capture holds its own. */
  release(): void {
    this.budget?.give(this.kept);
    this.chunks.length = 0;
    this.kept = 0;
  }
}
