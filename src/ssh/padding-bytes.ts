/**
 * The random padding of SSH packets, drawn from a pool. ssh2 asks Node for each packet's padding
 * (4 to 19 bytes) with a randomFillSync call of its own, and each call builds a job object and
 * goes into OpenSSL: ~2 µs in a hot loop, ~10 µs a call in a serving process's profile, four
 * times for a warm `ssh_run` (channel open, exec, EOF, close). The pool is filled by the same
 * call, POOL_BYTES at a time, and no byte is handed out twice: the same generator, fewer trips,
 * as OpenSSH's arc4random_buf buffers its keystream. ssh2-certificates.ts puts the call into
 * ssh2's crypto.js, which uses randomFillSync for nothing else.
 */
import { randomFillSync } from 'node:crypto';

/** How many random bytes one trip into OpenSSL fetches: about 200 packets' padding. */
export const POOL_BYTES = 4096;

/** What fills a buffer with random bytes: randomFillSync's signature. */
export type Fill = (buffer: Buffer, offset?: number, size?: number) => Buffer;

/**
 * A padding source over its own pool of `poolBytes`, refilled by `fill` when a request does not
 * fit in what is left; a request larger than the pool goes to `fill` directly.
 */
export function paddingSource(fill: Fill = randomFillSync, poolBytes = POOL_BYTES): Fill {
  const pool = Buffer.allocUnsafe(poolBytes);
  /** The first byte of the pool not yet handed out; poolBytes: none left. */
  let next = poolBytes;
  return (buffer, offset = 0, size = buffer.length - offset) => {
    if (size > poolBytes) return fill(buffer, offset, size);
    if (next + size > poolBytes) {
      fill(pool);
      next = 0;
    }
    pool.copy(buffer, offset, next, next + size);
    // Handed out once: these bytes are overwritten by the next fill before they are read again.
    next += size;
    return buffer;
  };
}

/** The process's padding source, ssh2's for every packet: randomFillSync(buffer, offset, size), pooled. */
export const fillPadding: Fill = paddingSource();
