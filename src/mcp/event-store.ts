/**
 * The events of a 2025-era HTTP session, kept so that a client whose stream broke can resume it
 * (`GET` with `Last-Event-ID`) and still receive the result of a call in flight, instead of losing
 * it. One store per session: a session can only ever replay its own events, whatever event id it
 * sends. Bounded: an event is kept RESUME_WINDOW_MS, and the events of all sessions together at
 * most MAX_EVENT_BYTES (a budget they share; a session over it drops its own oldest first), and
 * one session at most MAX_SESSION_EVENT_BYTES, so that no session can take the budget from the
 * others; a result can be half a megabyte.
 */
import type { EventId, EventStore, JSONRPCMessage, StreamId } from '@modelcontextprotocol/server';

/** How long after it was sent an event can still be replayed. */
export const RESUME_WINDOW_MS = 5 * 60_000;
/** All kept events together, in bytes of their JSON. */
export const MAX_EVENT_BYTES = 64 * 1024 * 1024;
/** One session's events, in bytes: room for several whole results. */
export const MAX_SESSION_EVENT_BYTES = 4 * 1024 * 1024;

interface Kept {
  stream: StreamId;
  seq: number;
  message: JSONRPCMessage;
  bytes: number;
  at: number;
}

/** The bytes all sessions' events hold, against MAX_EVENT_BYTES. */
export class EventBudget {
  bytes = 0;
  constructor(readonly max = MAX_EVENT_BYTES) {}
}

export class SessionEvents implements EventStore {
  /** In the order they were stored: the oldest first, for the bounds. */
  private readonly events = new Map<EventId, Kept>();
  /** Each stream's last sequence number and when it was used. */
  private readonly seqs = new Map<StreamId, { seq: number; at: number }>();
  private stores = 0;
  /** This session's share of the budget. */
  private own = 0;

  constructor(
    private readonly budget: EventBudget = new EventBudget(),
    private readonly now: () => number = Date.now,
    private readonly maxOwn = MAX_SESSION_EVENT_BYTES,
  ) {}

  storeEvent(stream: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const seq = (this.seqs.get(stream)?.seq ?? 0) + 1;
    this.seqs.set(stream, { seq, at: this.now() });
    // The stream id is the transport's random UUID: an event id names its stream and place in it.
    const id = `${stream}_${seq}`;
    const bytes = Buffer.byteLength(JSON.stringify(message));
    this.events.set(id, { stream, seq, message, bytes, at: this.now() });
    this.budget.bytes += bytes;
    this.own += bytes;
    this.trim();
    return Promise.resolve(id);
  }

  getStreamIdForEventId(id: EventId): Promise<StreamId | undefined> {
    return Promise.resolve(this.events.get(id)?.stream ?? streamOf(id));
  }

  /** Sends the stream's events after `lastEventId`, in order; the stream's id. */
  async replayEventsAfter(lastEventId: EventId, { send }: { send: (id: EventId, m: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    this.trim();
    // Only a stream this session has numbered: an id of another session's stream names nothing here.
    const stream = this.events.get(lastEventId)?.stream ?? streamOf(lastEventId);
    if (stream === undefined || !this.seqs.has(stream)) throw new Error('unknown event id');
    const after = Number(lastEventId.slice(lastEventId.lastIndexOf('_') + 1));
    for (const [id, e] of this.events) if (e.stream === stream && e.seq > after) await send(id, e.message);
    return stream;
  }

  /** Forgets what is past the window or over the byte bound, the oldest first. */
  private trim(): void {
    const since = this.now() - RESUME_WINDOW_MS;
    for (const [id, e] of this.events) {
      if (e.at > since && this.budget.bytes <= this.budget.max && this.own <= this.maxOwn) break;
      this.events.delete(id);
      this.budget.bytes -= e.bytes;
      this.own -= e.bytes;
    }
    // A stream quiet for the whole window has nothing left to replay: its numbering can go.
    if (++this.stores % 256 === 0) for (const [s, { at }] of this.seqs) if (at <= since) this.seqs.delete(s);
  }

  /** The session ended: its events go, and their bytes back to the budget. */
  dispose(): void {
    for (const e of this.events.values()) this.budget.bytes -= e.bytes;
    this.own = 0;
    this.events.clear();
    this.seqs.clear();
  }
}

/** The stream of an event id this store made (`<stream>_<seq>`), even once the event is gone. */
function streamOf(id: EventId): StreamId | undefined {
  const m = /^(.+)_(\d+)$/.exec(id);
  return m?.[1];
}
