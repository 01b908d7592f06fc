import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { refuseRandomnessWhileBuilding } from '../../src/snapshot-randomness.js';

/** A stand-in for v8.startupSnapshot: building or not, and its serialize callbacks to run by hand. */
function snapshot(building: boolean) {
  const callbacks: (() => void)[] = [];
  return {
    isBuildingSnapshot: () => building,
    addSerializeCallback: (cb: (data?: unknown) => void) => void callbacks.push(() => cb()),
    serialize: () => callbacks.forEach((cb) => cb()),
  };
}

describe('randomness while the startup snapshot is built', () => {
  it('throws from every generator of node:crypto and Web Crypto, naming it, until the heap is about to be written', () => {
    const s = snapshot(true);
    refuseRandomnessWhileBuilding(s);
    // Taken while the blob is built, as a module may keep what it finds (padding-bytes.ts).
    const kept = crypto.randomFillSync;
    const keptWeb = globalThis.crypto.getRandomValues.bind(globalThis.crypto);
    try {
      expect(() => crypto.randomUUID()).toThrow(/randomUUID\(\) was called while the startup snapshot was built/);
      expect(() => crypto.randomBytes(4)).toThrow(/randomBytes\(\)/);
      expect(() => crypto.randomFillSync(Buffer.alloc(4))).toThrow(/randomFillSync\(\)/);
      expect(() => crypto.randomFill(Buffer.alloc(4), () => undefined)).toThrow(/randomFill\(\)/);
      expect(() => crypto.randomInt(10)).toThrow(/randomInt\(\)/);
      expect(() => globalThis.crypto.getRandomValues(new Uint8Array(4))).toThrow(/getRandomValues\(\)/);
      // node:crypto's own is a fixed getter that calls Web Crypto's.
      expect(() => crypto.getRandomValues(new Uint8Array(4))).toThrow(/getRandomValues\(\)/);
      expect(() => globalThis.crypto.randomUUID()).toThrow(/randomUUID\(\)/);
      expect(() => kept(Buffer.alloc(4))).toThrow(/randomFillSync\(\)/);
    } finally {
      s.serialize();
    }
    // From then on (a start from the blob) every one generates, what was kept included.
    expect(crypto.randomUUID()).toMatch(/^[0-9a-f-]{36}$/);
    expect(crypto.randomUUID()).not.toBe(crypto.randomUUID());
    expect(crypto.randomBytes(4)).toHaveLength(4);
    expect(crypto.randomInt(10)).toBeLessThan(10);
    expect(globalThis.crypto.getRandomValues(new Uint8Array(4))).toHaveLength(4);
    expect(crypto.getRandomValues(new Uint8Array(4))).toHaveLength(4);
    expect(globalThis.crypto.randomUUID()).toMatch(/^[0-9a-f-]{36}$/);
    expect(kept(Buffer.alloc(16)).equals(Buffer.alloc(16))).toBe(false);
    expect(keptWeb(new Uint8Array(4))).toHaveLength(4);
  });

  it('changes nothing in a process that is not building one', () => {
    const s = snapshot(false);
    const before = crypto.randomUUID;
    refuseRandomnessWhileBuilding(s);
    expect(crypto.randomUUID).toBe(before);
    expect(crypto.randomUUID()).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('leaves what is not a generator alone', () => {
    const s = snapshot(true);
    const holder = { randomUUID: 'not a function', other: () => 1 };
    refuseRandomnessWhileBuilding(s, [holder]);
    expect(holder.randomUUID).toBe('not a function');
    expect(holder.other()).toBe(1);
    s.serialize();
  });
});
