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

/** The head is kept in blocks of this size, so that growing it never copies what it holds. */
const BLOCK = 65_536;

export class OutputBuffer {
  /**
   * Allocated as output comes, up to headCap: most commands print little, and a task costs that.
   * The first block starts small and doubles up to BLOCK; the others are BLOCK long.
   */
  private blocks: Buffer[] = [];
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

  /** A stream whose bytes were counted but none kept (a task of an earlier run). */
  static counted(written: number): OutputBuffer {
    const b = new OutputBuffer(0);
    b.total = written;
    return b;
  }

  private get tail(): Buffer {
    this.ring ??= Buffer.alloc(this.tailCap);
    return this.ring;
  }

  /** Bytes of memory the buffer holds now (never more than the limit). */
  get allocated(): number {
    return this.blocks.reduce((sum, b) => sum + b.length, 0) + (this.ring?.length ?? 0);
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
      this.writeHead(rest.subarray(0, n));
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
      parts.push(this.headSlice(at, n));
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

  private writeHead(data: Buffer): void {
    let off = 0;
    while (off < data.length) {
      const index = Math.floor(this.headLength / BLOCK);
      const at = this.headLength % BLOCK;
      const blockCap = Math.min(BLOCK, this.headCap - index * BLOCK);
      const n = Math.min(data.length - off, blockCap - at);
      let block = this.blocks[index];
      if (!block || block.length < at + n) {
        const grown = Buffer.alloc(index === 0 ? Math.min(blockCap, Math.max(at + n, (block?.length ?? 0) * 2, 4096)) : blockCap);
        block?.copy(grown, 0, 0, at);
        this.blocks[index] = grown;
        block = grown;
      }
      data.copy(block, at, off, off + n);
      off += n;
      this.headLength += n;
    }
  }

  private headSlice(start: number, length: number): Buffer {
    const parts: Buffer[] = [];
    let at = start;
    while (at < start + length) {
      const block = this.blocks[Math.floor(at / BLOCK)] as Buffer;
      const from = at % BLOCK;
      const n = Math.min(start + length - at, BLOCK - from);
      parts.push(block.subarray(from, from + n));
      at += n;
    }
    return Buffer.concat(parts);
  }

  private tailSlice(streamOffset: number, length: number): Buffer {
    const cap = this.tailCap;
    const start = (streamOffset - this.headLength) % cap;
    const first = Math.min(length, cap - start);
    const a = this.tail.subarray(start, start + first);
    return first === length ? Buffer.from(a) : Buffer.concat([a, this.tail.subarray(0, length - first)]);
  }
}
