/**
 * Keeps a copy of a body's first `max` bytes while the body flows elsewhere, and counts its real
 * size; memory per exchange is bounded by `max` whatever the body's size.
 */
export class BodyTap {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  size = 0;

  constructor(private readonly max: number) {}

  add(chunk: Uint8Array): void {
    this.size += chunk.length;
    if (this.kept >= this.max) return;
    // Copied: the caller may reuse or pool the chunk's memory once it has been forwarded.
    const part = Buffer.from(chunk.subarray(0, this.max - this.kept));
    this.chunks.push(part);
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.size > this.kept;
  }

  body(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }
}
