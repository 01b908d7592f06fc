import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextUtcMidnight, utcDay } from '../../src/utc-day.js';

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const nextByDate = (ms: number) => new Date(ms).setUTCHours(24, 0, 0, 0);
/** Times across the Date range, before 1970 included, and times at a midnight and either side of it. */
const time = fc.oneof(
  fc.integer({ min: -8.64e15 + DAY_MS, max: 8.64e15 - DAY_MS }),
  fc.integer({ min: -1e5, max: 1e5 }).chain((day) => fc.constantFrom(-1, 0, 1).map((off) => day * DAY_MS + off)),
);

describe('utcDay', () => {
  it("is the ISO date of any time, whatever times were asked before (the kept day's bounds)", () => {
    fc.assert(
      fc.property(fc.array(time, { minLength: 1, maxLength: 30 }), (times) => {
        for (const ms of times) expect(utcDay(ms)).toBe(iso(ms));
      }),
      { numRuns: 500 },
    );
  });

  it('changes at midnight exactly, in either direction', () => {
    const midnight = Date.UTC(2026, 11, 5);
    expect(utcDay(midnight - 1)).toBe('2026-12-04');
    expect(utcDay(midnight)).toBe('2026-12-05');
    expect(utcDay(midnight - 1)).toBe('2026-12-04');
    expect(utcDay(midnight + DAY_MS - 1)).toBe('2026-12-05');
    expect(utcDay(midnight + DAY_MS)).toBe('2026-12-06');
  });

  it('refuses a time that is not one, as Date does', () => {
    expect(() => utcDay(Number.NaN)).toThrow(RangeError);
    expect(utcDay(0)).toBe('1970-01-01');
  });
});

describe('nextUtcMidnight', () => {
  it("is the next day's first millisecond for any time", () => {
    fc.assert(
      fc.property(time, (ms) => {
        expect(nextUtcMidnight(ms)).toBe(nextByDate(ms));
      }),
      { numRuns: 2000 },
    );
  });
});
