/**
 * The HTTP form of `notifications/cancelled`: a client that closes the connection of its POST
 * before the answer came has given its calls up — unless it can resume the stream. A response
 * that carried an SSE event id (event-store.ts keeps the events) can be picked up again with a
 * `GET` and `Last-Event-ID`; its calls then wait RESUME_GRACE_MS for the client to come back, and
 * run on if it does. Otherwise, or if it does not, a command nobody waits for would run on unseen:
 * the calls are cancelled, through the same path as a client's own cancel. The close may come
 * before the transport has even passed the call on: such a call is cancelled the moment it arrives.
 */
import { isJSONRPCRequest } from '@modelcontextprotocol/server';
import type { Transport, JSONRPCMessage, RequestId } from '@modelcontextprotocol/server';

type CallState = 'waiting' | 'passed on' | 'abandoned';

/** How long the calls of a broken but resumable stream wait for their client to resume it. */
export const RESUME_GRACE_MS = 30_000;

export class AbandonedCalls {
  /** The calls of the POSTs being watched: not yet passed on to the server, passed on, or abandoned before. */
  private readonly calls = new Map<RequestId, CallState>();
  /** The cancels waiting for a resume that has not come (yet). */
  private readonly awaitingResume = new Map<NodeJS.Timeout, readonly RequestId[]>();
  private readonly deliver: NonNullable<Transport['onmessage']>;

  /** Stands between the transport and the server connected to it (call after `server.connect`). */
  constructor(
    transport: Transport,
    private readonly resumeGraceMs = RESUME_GRACE_MS,
  ) {
    const deliver = transport.onmessage;
    if (!deliver) throw new Error('AbandonedCalls needs a transport already connected to its server');
    this.deliver = deliver;
    transport.onmessage = (message, extra) => {
      deliver(message, extra);
      if (!isJSONRPCRequest(message)) return;
      const state = this.calls.get(message.id);
      if (state === 'waiting') this.calls.set(message.id, 'passed on');
      else if (state === 'abandoned') {
        this.calls.delete(message.id);
        this.cancel(message.id);
      }
    };
  }

  /**
   * Watches the POST that carries the calls `ids`, before it is handed to the transport: if its
   * response closes before it was sent whole (or `closedEarly`: it already has), its calls are
   * cancelled. Returns what to call once the transport has handled the POST: a call not passed
   * on by then never will be.
   */
  watch(
    ids: readonly RequestId[],
    response: { once(event: 'close', f: () => void): unknown; writableFinished: boolean },
    closedEarly: boolean,
    /** Whether the client got an event id on this response, and so can resume it. */
    resumable: () => boolean = () => false,
  ): () => void {
    if (ids.length === 0) return () => undefined;
    for (const id of ids) this.calls.set(id, 'waiting');
    const giveUp = () => {
      for (const id of ids) {
        const state = this.calls.get(id);
        if (state === 'passed on') {
          this.calls.delete(id);
          this.cancel(id);
        } else if (state === 'waiting') this.calls.set(id, 'abandoned');
      }
    };
    const left = () => {
      if (!resumable()) return giveUp();
      const timer = setTimeout(() => {
        this.awaitingResume.delete(timer);
        giveUp();
      }, this.resumeGraceMs);
      timer.unref();
      this.awaitingResume.set(timer, ids);
    };
    if (closedEarly) left();
    else
      response.once('close', () => {
        if (!response.writableFinished) left();
        else for (const id of ids) this.calls.delete(id);
      });
    return () => {
      for (const id of ids) if (this.calls.get(id) !== 'passed on') this.calls.delete(id);
    };
  }

  /** The client resumed a stream of this session: the calls of its broken streams run on. */
  resumed(): void {
    for (const [timer, ids] of this.awaitingResume) {
      clearTimeout(timer);
      for (const id of ids) this.calls.delete(id);
    }
    this.awaitingResume.clear();
  }

  private cancel(requestId: RequestId): void {
    const cancelled: JSONRPCMessage = {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId, reason: 'the client closed the HTTP connection' },
    };
    this.deliver(cancelled);
  }
}

/** The ids of the requests (not notifications or responses) in a POST body. */
export function requestIds(body: unknown): RequestId[] {
  const messages = Array.isArray(body) ? (body as unknown[]) : [body];
  return messages.filter((m) => isJSONRPCRequest(m as JSONRPCMessage)).map((m) => (m as { id: RequestId }).id);
}
