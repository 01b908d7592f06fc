import { describe, expect, it } from 'vitest';
import { SessionTable, type Session } from '../../../src/mcp/http-sessions.js';

/** A session as the table sees it: whose, how busy, when last used (no transport needed). */
function session(id: string, principal: string, lastSeen: number, active = 0): Session {
  return { id, principal, lastSeen, active, close: () => undefined } as unknown as Session;
}

const none = () => new Set<string>();

describe('SessionTable', () => {
  it('makes room in a full table with the least recently used idle session of the same principal', () => {
    const t = new SessionTable(3);
    t.add(session('a1', 'A', 30));
    t.add(session('a2', 'A', 10, 1));
    t.add(session('a3', 'A', 20));
    t.add(session('b1', 'B', 1));
    expect((t.toEvict('A', none) as Session).id).toBe('a3');
  });

  it("never displaces another token's session: B has room of its own", () => {
    const t = new SessionTable(2);
    t.add(session('a1', 'A', 1));
    t.add(session('a2', 'A', 2));
    expect(t.toEvict('B', none)).toBeUndefined();
    t.add(session('b1', 'B', 3));
    t.add(session('b2', 'B', 4));
    expect((t.toEvict('B', none) as Session).id).toBe('b1');
  });

  it('closes a session with unfinished tasks only when every idle one has some, and refuses when all are busy', () => {
    const t = new SessionTable(2);
    t.add(session('a1', 'A', 1));
    t.add(session('a2', 'A', 2));
    expect((t.toEvict('A', () => new Set(['a1'])) as Session).id).toBe('a2');
    expect((t.toEvict('A', () => new Set(['a1', 'a2'])) as Session).id).toBe('a1');
    for (const s of t.all()) s.active = 1;
    expect(t.toEvict('A', none)).toBe('full');
  });

  it('remembers why a session closed, for the 404 a later request gets', () => {
    const t = new SessionTable(2);
    t.add(session('a1', 'A', 1));
    expect(t.remove('a1', 'it was idle')).toBe(true);
    expect(t.remove('a1', 'again')).toBe(false);
    expect(t.get('a1')).toBeUndefined();
    expect(t.whyClosed('a1')).toBe('it was idle');
  });
});
