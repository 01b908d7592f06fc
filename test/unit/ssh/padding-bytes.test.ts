import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fillPadding, type Fill, paddingSource } from '../../../src/ssh/padding-bytes.js';
import { loadSsh2, ssh2CertificatesUnavailable } from '../../../src/ssh/ssh2.js';

/** A fill that writes a running count (mod 256) and records each call's size: every byte it ever gave is known. */
function countingFill(): { fill: Fill; calls: number[] } {
  let n = 0;
  const calls: number[] = [];
  const fill: Fill = (buffer, offset = 0, size = buffer.length - offset) => {
    calls.push(size);
    for (let i = offset; i < offset + size; i++) buffer[i] = n++ & 0xff;
    return buffer;
  };
  return { fill, calls };
}

describe('the padding source', () => {
  it('hands out every byte the generator gave at most once, in order, refilling a whole pool at a time', () => {
    const { fill, calls } = countingFill();
    const pad = paddingSource(fill, 64);
    // The model: the generator's stream by position; a request that does not fit in what is left of
    // the pool skips that tail and starts a new pool.
    let position = 0;
    let poolEnd = 0;
    for (let i = 0; i < 200; i++) {
      // Sizes as ssh2 asks for them (4 to 19), so that requests straddle the pool's end.
      const size = 4 + ((i * 7) % 16);
      if (position + size > poolEnd) [position, poolEnd] = [poolEnd, poolEnd + 64];
      const expected = Array.from({ length: size }, (_, k) => (position + k) & 0xff);
      position += size;
      const buffer = Buffer.alloc(size + 10, 0xee);
      expect(pad(buffer, 5, size)).toBe(buffer);
      expect([...buffer.subarray(5, 5 + size)]).toEqual(expected);
      // Only the asked range is written.
      expect([...buffer.subarray(0, 5), ...buffer.subarray(5 + size)]).toEqual(Array(10).fill(0xee));
    }
    expect(calls).toEqual(Array(poolEnd / 64).fill(64));
  });

  it('never gives the same bytes twice from the real generator', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const b = fillPadding(Buffer.alloc(16), 0, 16).toString('hex');
      expect(seen.has(b)).toBe(false);
      seen.add(b);
    }
  });

  it('passes a request larger than its pool to the generator', () => {
    const { fill, calls } = countingFill();
    const pad = paddingSource(fill, 64);
    const big = pad(Buffer.alloc(100), 0, 100);
    expect(calls).toEqual([100]);
    expect([...big.subarray(0, 3)]).toEqual([0, 1, 2]);
  });

  it("is what ssh2's packets are padded from once ssh2 is loaded", async () => {
    await loadSsh2();
    expect(ssh2CertificatesUnavailable()).toBeUndefined();
    const require = createRequire(import.meta.url);
    const lib = join(dirname(require.resolve('ssh2/package.json')), 'lib');
    const crypto = require.cache[join(lib, 'protocol/crypto.js')] as unknown as {
      sshgateCertificates?: { fillPadding: Fill };
      exports: { NullCipher: new (seqno: number, onWrite: () => void) => { allocPacket(len: number): Buffer } };
    };
    expect(crypto.sshgateCertificates?.fillPadding).toBe(fillPadding);
    // A null cipher's packet: length, padding length, payload, padding. Two packets' paddings differ.
    const cipher = new crypto.exports.NullCipher(0, () => undefined);
    const paddingOf = (packet: Buffer) => packet.subarray(packet.length - (packet[4] as number)).toString('hex');
    expect(paddingOf(cipher.allocPacket(3))).not.toBe(paddingOf(cipher.allocPacket(3)));
  });
});
