import { describe, expect, it } from 'vitest';
import { setBounded } from '../../src/bounded-map.js';

describe('setBounded', () => {
  it('keeps at most max entries, the oldest going first; setting a kept key evicts nothing', () => {
    const m = new Map<string, number>();
    for (const [k, v] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const)
      setBounded(m, k, v, 2);
    expect([...m]).toEqual([
      ['b', 2],
      ['c', 3],
    ]);
    setBounded(m, 'c', 4, 2);
    expect([...m]).toEqual([
      ['b', 2],
      ['c', 4],
    ]);
  });
});
