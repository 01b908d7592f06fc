/**
 * The open 2025-era MCP sessions of the HTTP server, at most so many per principal. Clients that
 * never end their session (a CLI run, a health probe) must not lock every agent out: when a caller's
 * table is full, its new session takes the place of its least recently used idle session (no
 * request in flight, no stream open; one without unfinished tasks first), which is closed as an
 * idle one is. A caller's sessions displace only that caller's own. Only when every session of the
 * caller is busy is a new one refused.
 */
import type { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { AbandonedCalls } from './abandoned-calls.js';
import { setBounded } from '../bounded-map.js';

export const MAX_SESSIONS_PER_PRINCIPAL = 100;
/** How many closed sessions are remembered, so that a request for one is told why it is gone. */
const REMEMBERED = 1000;

export interface Session {
  id: string;
  /** Whose session it is: the principal that opened it; only its requests reach the session. */
  principal: string;
  transport: NodeStreamableHTTPServerTransport;
  calls: AbandonedCalls;
  /** Requests of this session in flight (an SSE stream counts while it is open). */
  active: number;
  lastSeen: number;
  /** Closes the session, cancelling its unfinished tasks; `why` is what a later request is told. */
  close(why: string): void;
}

export class SessionTable {
  private readonly open = new Map<string, Session>();
  private readonly closed = new Map<string, string>();

  constructor(readonly maxPerPrincipal = MAX_SESSIONS_PER_PRINCIPAL) {}

  get(id: string): Session | undefined {
    return this.open.get(id);
  }

  all(): Session[] {
    return [...this.open.values()];
  }

  add(s: Session): void {
    this.open.set(s.id, s);
  }

  /** Takes an ended session out, remembering why it ended; false if it was not open. */
  remove(id: string, why: string): boolean {
    if (!this.open.delete(id)) return false;
    setBounded(this.closed, id, why, REMEMBERED);
    return true;
  }

  /** Why the session is gone, if it closed not long ago. */
  whyClosed(id: string): string | undefined {
    return this.closed.get(id);
  }

  /**
   * What must go for `principal` to open one more session: nothing (undefined), the session to
   * close, or 'full' when every one of the principal's sessions is busy. `withTasks` names the sessions that
   * have unfinished tasks (asked only when the table is full).
   */
  toEvict(principal: string, withTasks: () => ReadonlySet<string>): Session | 'full' | undefined {
    const mine = this.all().filter((s) => s.principal === principal);
    if (mine.length < this.maxPerPrincipal) return undefined;
    const idle = mine.filter((s) => s.active === 0);
    if (idle.length === 0) return 'full';
    const busy = withTasks();
    const lru = (a: Session, b: Session) => Number(busy.has(a.id)) - Number(busy.has(b.id)) || a.lastSeen - b.lastSeen;
    return idle.sort(lru)[0];
  }
}
