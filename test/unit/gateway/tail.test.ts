import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tail } from '../../../src/gateway/gateway.js';

describe('tail', () => {
  it('keeps whole characters: a suffix of at most max units, well formed when the text is', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.integer({ min: 1, max: 300 }), (text, max) => {
        fc.pre(max < text.length);
        const t = tail(text, max);
        expect(text.endsWith(t)).toBe(true);
        expect(t.length).toBeLessThanOrEqual(max);
        expect(t.length).toBeGreaterThanOrEqual(max - 1);
        expect(/\p{Cs}/u.test(t), 'a lone surrogate').toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('moves past the low half of a pair the cut falls in', () => {
    expect(tail('😀😀y', 4)).toBe('😀y');
    expect(tail('😀😀y', 2)).toBe('y');
  });
});
