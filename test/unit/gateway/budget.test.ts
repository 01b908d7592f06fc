import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messageCost, prefixWithin, suffixWithin } from '../../../src/gateway/budget.js';
import { inlineOutput } from '../../../src/gateway/views.js';
import { OutputBuffer } from '../../../src/tasks/output-buffer.js';

/**
 * What a piece of output really costs in a tool result: its escaped form in structuredContent,
 * and that again inside the JSON text copy (the quotes around it not counted).
 */
function actualCost(text: string): number {
  const once = JSON.stringify(text);
  return Buffer.byteLength(once) - 2 + Buffer.byteLength(JSON.stringify(once)) - 6;
}

/** Bytes biased towards what escaping makes expensive: controls, quotes, backslashes, broken UTF-8. */
const hostileBytes = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x00, 0x01, 0x0a, 0x22, 0x5c, 0x7f, 0x80, 0xc0, 0xe0, 0xed, 0xf0, 0xf4, 0xff),
      fc.string({ unit: 'binary', maxLength: 4 }).map((s) => [...Buffer.from(s, 'utf8')]),
    ),
    { maxLength: 400 },
  )
  .map((parts) => Buffer.from(parts.flat()));

describe('messageCost', () => {
  it('is never below what the bytes cost once decoded and escaped twice', () => {
    fc.assert(
      fc.property(hostileBytes, (b) => messageCost(b) >= actualCost(b.toString('utf8'))),
      { numRuns: 3000 },
    );
  });

  it('is exact for text: ASCII 2 per byte, a quote 6, a newline 5, a control byte 13, UTF-8 2 per byte', () => {
    for (const t of ['plain', 'a"b', 'a\\b', 'l1\nl2', '\u0001', 'é€😀']) expect(messageCost(Buffer.from(t)), t).toBe(actualCost(t));
  });
});

describe('prefixWithin and suffixWithin', () => {
  it('cut where the kept part costs at most the budget, on a character boundary, and keep all that fits', () => {
    fc.assert(
      fc.property(hostileBytes, fc.integer({ min: 0, max: 3000 }), (b, max) => {
        const n = prefixWithin(b, max);
        expect(messageCost(b.subarray(0, n))).toBeLessThanOrEqual(max);
        expect(actualCost(b.subarray(0, n).toString('utf8'))).toBeLessThanOrEqual(max);
        // Maximal: no character costs more than 13, so a cut prefix leaves less than that unused.
        if (n < b.length) expect(max - messageCost(b.subarray(0, n))).toBeLessThan(13);
        const s = suffixWithin(b, max);
        expect(messageCost(b.subarray(s))).toBeLessThanOrEqual(max);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThanOrEqual(b.length);
      }),
      { numRuns: 3000 },
    );
  });

  it('never start a suffix inside a character', () => {
    const text = Buffer.from('€'.repeat(100));
    for (let cut = 0; cut < 10; cut++) {
      const s = suffixWithin(text.subarray(cut), 60);
      expect(text.subarray(cut + s).toString('utf8')).not.toContain('\ufffd');
    }
  });
});

function bufferOf(data: Buffer, limit = 1_048_576): OutputBuffer {
  const b = new OutputBuffer(limit);
  b.write(data);
  return b;
}

describe('inlineOutput', () => {
  it('shows everything that fits, with nothing omitted and the cursor at the end', () => {
    const r = inlineOutput(bufferOf(Buffer.from('hello\n')), 16_384, 1e9, true);
    expect(r).toEqual({ text: 'hello\n', omitted: 0, cursor: 6 });
  });

  it('shows the head and the tail of more, says how much was left out, and the cursor reads it', () => {
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => `line ${i}\n`).join(''));
    const r = inlineOutput(bufferOf(data), 4096, 1e9, true);
    expect(r.cursor).toBe(2048);
    expect(r.text.startsWith(data.subarray(0, 2048).toString())).toBe(true);
    expect(r.text.endsWith(data.subarray(data.length - 2048).toString())).toBe(true);
    expect(r.omitted).toBe(data.length - 4096);
    expect(r.text).toContain(`[… ${data.length - 4096} bytes not shown; ssh_get_task_output from read_cursor reads them …]`);
  });

  it('counts what the buffer no longer keeps among the omitted bytes', () => {
    const data = Buffer.alloc(100_000, 'x');
    const r = inlineOutput(bufferOf(data, 8192), 16_384, 1e9, true);
    expect(r.omitted + Buffer.byteLength(r.text.replace(/\n\[…[^\]]*\]\n/, ''))).toBe(100_000);
    expect(r.text).toContain('of them no longer kept');
  });

  it('keeps any output within its cost, hostile bytes included, and max_bytes 0 shows only the marker', () => {
    fc.assert(
      fc.property(
        hostileBytes,
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 200, max: 4000 }),
        fc.boolean(),
        fc.integer({ min: 2, max: 2000 }),
        (b, maxBytes, maxCost, final, limit) => {
          const buffer = bufferOf(b, limit);
          const r = inlineOutput(buffer, maxBytes, maxCost, final);
          // Shown head + omitted + shown tail is the whole stream: nothing is skipped without a count.
          if (final && r.omitted > 0) {
            const tail = buffer.read(r.cursor + r.omitted, b.length);
            expect(tail.dropped).toBe(0);
            expect(r.text.endsWith(tail.data.toString('utf8'))).toBe(true);
            expect(r.omitted).toBeGreaterThanOrEqual(buffer.dropped);
          }
          const shown = r.text.replace(/\n\[… \d+ bytes not shown[^\]]*\]\n/, '');
          expect(actualCost(shown)).toBeLessThanOrEqual(maxCost);
          expect(Buffer.byteLength(shown)).toBeLessThanOrEqual(Math.max(maxBytes, 0) * 3);
          if (maxBytes === 0 && b.length > 0) expect(shown).toBe('');
          expect(r.cursor).toBeLessThanOrEqual(b.length);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('holds back an unfinished character of a running task', () => {
    const r = inlineOutput(bufferOf(Buffer.from('ab€').subarray(0, 4)), 100, 1e9, false);
    expect(r).toEqual({ text: 'ab', omitted: 0, cursor: 2 });
  });
});
