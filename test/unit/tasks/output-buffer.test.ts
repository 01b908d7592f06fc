import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutputBuffer } from '../../../src/tasks/output-buffer.js';

/** Reads everything from cursor 0 in steps of `step`, as a polling client would. */
function drain(buf: OutputBuffer, step: number, from = 0) {
  let cursor = from;
  let text = '';
  let dropped = 0;
  for (;;) {
    const c = buf.read(cursor, step);
    dropped += c.dropped;
    text += c.data.toString('latin1');
    if (c.next === cursor) return { text, dropped, cursor };
    cursor = c.next;
  }
}

describe('a task output buffer', () => {
  it('keeps everything under the limit and hands it out once by cursor', () => {
    const buf = new OutputBuffer(100);
    buf.write(Buffer.from('hello '));
    buf.write(Buffer.from('world'));
    expect(drain(buf, 3)).toEqual({ text: 'hello world', dropped: 0, cursor: 11 });
    expect(buf.truncated).toBe(false);
  });

  it('keeps the head and the tail of a stream over the limit and counts what it dropped', () => {
    const buf = new OutputBuffer(10);
    buf.write(Buffer.from('0123456789abcdefghij'));
    expect(buf.dropped).toBe(10);
    expect(drain(buf, 4)).toEqual({ text: '01234fghij', dropped: 10, cursor: 20 });
  });

  it('holds no more than its limit, whatever is written', () => {
    const buf = new OutputBuffer(1024);
    const block = Buffer.alloc(65_536, 0x79);
    for (let i = 0; i < 800; i++) buf.write(block); // 50 MiB
    expect(buf.written).toBe(800 * 65_536);
    expect(buf.dropped).toBe(800 * 65_536 - 1024);
    const all = buf.read(0, 10_000_000);
    expect(all.data.length).toBe(1024);
    expect(all.dropped).toBe(buf.dropped);
  });

  it('matches a reference model for any writes and any read sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.string({ maxLength: 30 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 15 }),
        (limit, writes, step) => {
          const buf = new OutputBuffer(limit);
          let whole = '';
          for (const w of writes) {
            const bytes = Buffer.from(w, 'latin1');
            buf.write(bytes);
            whole += bytes.toString('latin1');
          }
          const headLen = Math.min(whole.length, Math.ceil(limit / 2));
          const tailLen = Math.min(whole.length - headLen, limit - Math.ceil(limit / 2));
          const expected = whole.slice(0, headLen) + whole.slice(whole.length - tailLen);
          const r = drain(buf, step);
          expect(r.text).toBe(expected);
          expect(r.dropped).toBe(whole.length - expected.length);
          expect(r.cursor).toBe(whole.length);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps a head of many blocks byte for byte, whatever the write and read sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 150_000, max: 400_000 }),
        fc.array(fc.integer({ min: 1, max: 90_000 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1_000, max: 200_000 }),
        (limit, sizes, step) => {
          const buf = new OutputBuffer(limit);
          const chunks = sizes.map((n, i) => Buffer.from(Array.from({ length: n }, (_, j) => (i * 31 + j) % 251)));
          for (const c of chunks) buf.write(c);
          const whole = Buffer.concat(chunks);
          const headLen = Math.min(whole.length, Math.ceil(limit / 2));
          const tailLen = Math.min(whole.length - headLen, limit - Math.ceil(limit / 2));
          const expected = Buffer.concat([whole.subarray(0, headLen), whole.subarray(whole.length - tailLen)]);
          const got: Buffer[] = [];
          let cursor = 0;
          for (;;) {
            const c = buf.read(cursor, step);
            got.push(c.data);
            if (c.next === cursor) break;
            cursor = c.next;
          }
          expect(Buffer.concat(got).equals(expected)).toBe(true);
          expect(buf.allocated).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('holds memory for what was written, never more than the limit', () => {
    const small = new OutputBuffer(1 << 20);
    small.write(Buffer.from('ok\n'));
    expect(small.allocated).toBeLessThanOrEqual(4096);
    const flood = new OutputBuffer(1 << 20);
    for (let i = 0; i < 50; i++) flood.write(Buffer.alloc(100_000, 0x79));
    expect(flood.allocated).toBe(1 << 20);
    expect(flood.dropped).toBe(5_000_000 - (1 << 20));
  });
});
