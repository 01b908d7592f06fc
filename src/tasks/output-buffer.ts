/**
 * One output stream of a task, bounded: the first half of the limit is kept as the head, the last
 * half as the tail (a ring), and what falls between is counted, never stored. Readers use byte
 * offsets into the whole stream as cursors, so they see every kept byte exactly once and are told
 * how many bytes they skipped.
 */
export interface Chunk {
  data: Buffer;
  /** Cursor for the next read. */
  next: number;
  /** Bytes between the cursor given and the data returned that are no longer kept. */
  dropped: number;
}

export class OutputBuffer {
  /** Grown as output comes, up to headCap: most commands print little, and a task costs that. */
  private head: Buffer = Buffer.alloc(0);
  private headLength = 0;
  private readonly headCap: number;
  /** Allocated (whole) only once the head is full. */
  private ring: Buffer | undefined;
  private readonly tailCap: number;
  /** Bytes ever written to the stream. */
  private total = 0;

  constructor(readonly limit: number) {
    this.headCap = Math.ceil(limit / 2);
    this.tailCap = limit - this.headCap;
  }

  private get tail(): Buffer {
    this.ring ??= Buffer.alloc(this.tailCap);
    return this.ring;
  }

  /** Bytes of memory the buffer holds now (never more than the limit). */
  get allocated(): number {
    return this.head.length + (this.ring?.length ?? 0);
  }

  get written(): number {
    return this.total;
  }

  /** Bytes written but no longer kept. */
  get dropped(): number {
    return Math.max(0, this.total - this.headLength - this.tailCap);
  }

  get truncated(): boolean {
    return this.dropped > 0;
  }

  write(data: Buffer): void {
    let rest = data;
    if (this.headLength < this.headCap) {
      const n = Math.min(rest.length, this.headCap - this.headLength);
      if (this.headLength + n > this.head.length) {
        const grown = Buffer.alloc(Math.min(this.headCap, Math.max(this.headLength + n, this.head.length * 2, 4096)));
        this.head.copy(grown, 0, 0, this.headLength);
        this.head = grown;
      }
      rest.copy(this.head, this.headLength, 0, n);
      this.headLength += n;
      this.total += n;
      rest = rest.subarray(n);
    }
    if (rest.length === 0) return;
    const cap = this.tailCap;
    if (cap === 0) {
      this.total += rest.length;
      return;
    }
    // Only the last `cap` bytes of this write can survive in the ring.
    const keep = rest.subarray(Math.max(0, rest.length - cap));
    const skipped = rest.length - keep.length;
    let pos = (this.total - this.headLength + skipped) % cap;
    let off = 0;
    while (off < keep.length) {
      const n = Math.min(keep.length - off, cap - pos);
      keep.copy(this.tail, pos, off, off + n);
      off += n;
      pos = (pos + n) % cap;
    }
    this.total += rest.length;
  }

  /** Up to `maxBytes` kept bytes from `cursor` on. */
  read(cursor: number, maxBytes: number): Chunk {
    let at = Math.max(0, Math.min(cursor, this.total));
    const parts: Buffer[] = [];
    let budget = maxBytes;
    if (at < this.headLength && budget > 0) {
      const n = Math.min(this.headLength - at, budget);
      parts.push(Buffer.from(this.head.subarray(at, at + n)));
      at += n;
      budget -= n;
    }
    const tailStart = Math.max(this.headLength, this.total - this.tailCap);
    let dropped = 0;
    if (at >= this.headLength && at < tailStart && (budget > 0 || parts.length === 0)) {
      dropped = tailStart - at;
      at = tailStart;
    }
    if (at >= tailStart && at < this.total && budget > 0) {
      const n = Math.min(this.total - at, budget);
      parts.push(this.tailSlice(at, n));
      at += n;
    }
    return { data: Buffer.concat(parts), next: at, dropped };
  }

  private tailSlice(streamOffset: number, length: number): Buffer {
    const cap = this.tailCap;
    const start = (streamOffset - this.headLength) % cap;
    const first = Math.min(length, cap - start);
    const a = this.tail.subarray(start, start + first);
    return first === length ? Buffer.from(a) : Buffer.concat([a, this.tail.subarray(0, length - first)]);
  }
}
