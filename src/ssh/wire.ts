/**
 * SSH wire encoding (RFC 4251 §5) read from untrusted bytes: every read is bounded by what is
 * left, and a length that runs past the end is an error rather than a short read. Writing is the
 * few shapes sshgate builds itself (a key blob, a signature blob).
 */

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export class WireReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** How far the reader has got: the bytes before this offset have been read. */
  get offset(): number {
    return this.pos;
  }

  uint32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** An SSH `string`: uint32 length, then that many bytes (a view, not a copy). */
  bytes(what: string): Buffer {
    const len = this.uint32(what);
    this.need(len, what);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  /** A `string` that names something (an algorithm, a principal): printable, no NUL, as OpenSSH compares C strings. */
  text(what: string): string {
    const raw = this.bytes(what);
    const s = raw.toString('utf8');
    if (raw.includes(0) || !Buffer.from(s, 'utf8').equals(raw)) throw new WireError(`${what} is not a valid UTF-8 string without NUL`);
    return s;
  }

  /** An `mpint` as its magnitude: a non-negative integer, without the sign byte. */
  mpint(what: string): Buffer {
    const raw = this.bytes(what);
    if (raw.length > 0 && (raw[0] as number) & 0x80) throw new WireError(`${what} is negative`);
    // One encoding per number, as OpenSSH requires: a leading zero only before a byte whose top bit is set.
    if (raw[0] === 0 && (raw.length === 1 || !((raw[1] as number) & 0x80))) throw new WireError(`${what} has a needless leading zero`);
    return raw[0] === 0 ? raw.subarray(1) : raw;
  }

  end(what: string): void {
    if (this.remaining !== 0) throw new WireError(`${this.remaining} bytes follow the end of ${what}`);
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) throw new WireError(`${what} runs past the end of the data (${n} bytes wanted, ${this.remaining} left)`);
  }
}

/** SSH `string`s, each a length and its bytes, back to back. */
export function sshStrings(...parts: (Buffer | string)[]): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    out.push(len, b);
  }
  return Buffer.concat(out);
}

/** A non-negative integer's magnitude as an SSH `mpint` body: a zero byte first when its top bit is set. */
export function mpintBody(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return m.length > 0 && (m[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), m]) : m;
}
