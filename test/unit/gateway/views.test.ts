import { describe, expect, it } from 'vitest';
import { utf8Boundary } from '../../../src/gateway/views.js';

describe('utf8Boundary', () => {
  it('cuts before a character that is not complete, and keeps complete ones', () => {
    const euro = Buffer.from('a€', 'utf8'); // 61 e2 82 ac
    expect(utf8Boundary(euro)).toBe(4);
    expect(utf8Boundary(euro.subarray(0, 3))).toBe(1);
    expect(utf8Boundary(euro.subarray(0, 2))).toBe(1);
    const emoji = Buffer.from('😀', 'utf8'); // f0 9f 98 80
    expect(utf8Boundary(emoji.subarray(0, 3))).toBe(0);
    expect(utf8Boundary(emoji)).toBe(4);
    expect(utf8Boundary(Buffer.from('plain'))).toBe(5);
    expect(utf8Boundary(Buffer.alloc(0))).toBe(0);
  });

  it('passes binary that is not UTF-8 through rather than holding it forever', () => {
    expect(utf8Boundary(Buffer.from([0x80, 0x80, 0x80, 0x80]))).toBe(4);
  });
});
