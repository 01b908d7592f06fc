/** The events kept for resuming a 2025-era stream: in order per stream, within a window and a byte bound. */
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { EventBudget, MAX_EVENT_BYTES, RESUME_WINDOW_MS, SessionEvents } from '../../../src/mcp/event-store.js';

const note = (n: number): JSONRPCMessage => ({
  jsonrpc: '2.0',
  method: 'notifications/progress',
  params: { progressToken: 1, progress: n },
});

async function replay(store: SessionEvents, after: string): Promise<{ stream: string; got: unknown[] }> {
  const got: unknown[] = [];
  const stream = await store.replayEventsAfter(after, {
    send: (_id, m) => Promise.resolve(void got.push((m as unknown as { params: { progress: number } }).params.progress)),
  });
  return { stream, got };
}

describe('SessionEvents', () => {
  it('replays the events of one stream after the last one seen, in order', async () => {
    const store = new SessionEvents();
    const a1 = await store.storeEvent('a', note(1));
    await store.storeEvent('b', note(10));
    await store.storeEvent('a', note(2));
    await store.storeEvent('a', note(3));
    expect(await replay(store, a1)).toEqual({ stream: 'a', got: [2, 3] });
    expect(await store.getStreamIdForEventId(a1)).toBe('a');
  });

  it("never replays another session's events, whatever event id it is sent", async () => {
    const budget = new EventBudget();
    const mine = new SessionEvents(budget);
    const theirs = new SessionEvents(budget);
    const secret = await theirs.storeEvent('their-stream', note(1));
    await theirs.storeEvent('their-stream', note(2));
    await expect(replay(mine, secret)).rejects.toThrow('unknown event id');
  });

  it("shares one byte budget between sessions, and gives a session's bytes back when it ends", async () => {
    const budget = new EventBudget(10_000);
    const a = new SessionEvents(budget);
    await a.storeEvent('s', note(1));
    expect(budget.bytes).toBeGreaterThan(0);
    a.dispose();
    expect(budget.bytes).toBe(0);
  });

  it("keeps one session to its share, so that a busy one cannot take every other's resumption", async () => {
    const budget = new EventBudget(100_000);
    const greedy = new SessionEvents(budget, Date.now, 20_000);
    const quiet = new SessionEvents(budget, Date.now, 20_000);
    const pad = (n: number): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'x', params: { n, pad: 'x'.repeat(1000) } });
    for (let i = 0; i < 500; i++) await greedy.storeEvent('g', pad(i));
    expect(budget.bytes).toBeLessThanOrEqual(21_000);
    const first = await quiet.storeEvent('q', pad(0));
    await quiet.storeEvent('q', pad(1));
    const got: unknown[] = [];
    await quiet.replayEventsAfter(first, { send: (_id, m) => Promise.resolve(void got.push(m)) });
    expect(got).toHaveLength(1);
  });

  it('forgets events older than the window', async () => {
    let now = 0;
    const store = new SessionEvents(new EventBudget(), () => now);
    const first = await store.storeEvent('a', note(1));
    await store.storeEvent('a', note(2));
    now = RESUME_WINDOW_MS + 1;
    await store.storeEvent('a', note(3));
    expect((await replay(store, first)).got).toEqual([3]);
  });

  it('keeps at most MAX_EVENT_BYTES, the oldest going first', async () => {
    const store = new SessionEvents();
    const big = (n: number): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'x', params: { n, pad: 'x'.repeat(1024 * 1024) } });
    const first = await store.storeEvent('a', big(0));
    for (let i = 1; i <= 70; i++) await store.storeEvent('a', big(i));
    const got: number[] = [];
    await store.replayEventsAfter(first, {
      send: (_id, m) => Promise.resolve(void got.push((m as unknown as { params: { n: number } }).params.n)),
    });
    expect(got.length).toBeLessThanOrEqual(MAX_EVENT_BYTES / (1024 * 1024));
    expect(got.at(-1)).toBe(70);
    expect(got[0]).toBeGreaterThan(1);
  });
});
