import { setTimeout as sleep } from 'node:timers/promises';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ReceiveReclaimer, RECLAIM_EVERY_BYTES } from '../../../src/memory.js';

describe('ReceiveReclaimer', () => {
  it('asks for one minor collection per threshold of bytes received, whatever the chunk sizes', () => {
    const calls: unknown[] = [];
    let resolved = 0;
    const r = new ReceiveReclaimer(100, () => {
      resolved++;
      return (o) => calls.push(o);
    });
    r.noteReceived(60);
    expect(calls).toEqual([]);
    // gc() is only looked up once output has come.
    expect(resolved).toBe(0);
    r.noteReceived(40);
    expect(calls).toEqual([{ type: 'minor' }]);
    for (let i = 0; i < 30; i++) r.noteReceived(10);
    expect(calls).toHaveLength(4);
    r.noteReceived(1000);
    expect(calls).toHaveLength(5);
    expect(resolved).toBe(1);
  });

  it('goes quietly without collections when V8 refuses them: output must never be lost to it', () => {
    let tries = 0;
    const r = new ReceiveReclaimer(10, () => {
      tries++;
      throw new Error('no gc here');
    });
    for (let i = 0; i < 5; i++) expect(() => r.noteReceived(10)).not.toThrow();
    expect(tries).toBe(1);
  });

  it('collects per MiB by default', () => {
    expect(RECLAIM_EVERY_BYTES).toBe(1024 * 1024);
  });

  it("really collects: packet-sized buffers nothing refers to are freed, with V8's own gc()", async () => {
    const r = new ReceiveReclaimer(1);
    const arrayBuffers = () => process.memoryUsage().arrayBuffers;
    const before = arrayBuffers();
    // What ssh2 leaves behind while a stream comes in: a 32 KiB buffer per packet, dropped at once.
    for (let i = 0; i < 400; i++) Buffer.alloc(32 * 1024).fill(i);
    expect(arrayBuffers() - before).toBeGreaterThan(12 * 1024 * 1024);
    r.noteReceived(1);
    // V8 frees the backing stores of dead buffers on a background thread, soon after the collection;
    // left alone, it would not collect them for seconds (a collector that does nothing fails here).
    const deadline = Date.now() + 250;
    while (arrayBuffers() - before > 2 * 1024 * 1024 && Date.now() < deadline) await sleep(5);
    expect(arrayBuffers() - before).toBeLessThan(2 * 1024 * 1024);
    // The collector was found in a context of its own: the server's globals are unchanged, and no
    // context made later gets gc() either.
    expect(globalThis.gc).toBeUndefined();
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });
});
