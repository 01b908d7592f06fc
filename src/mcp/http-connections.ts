/**
 * The HTTP server's connections, counted per client and in all. A client that holds connections
 * open without completing a request (slowloris: no token needed) must not keep others out, so at
 * a limit a connection with no request in progress gives way to the new one — the oldest that
 * never completed a request's headers first, then the keep-alive one idle the longest, if it has
 * been idle a moment (IDLE_GRACE_MS); when none can go, the new one is refused.
 */
import { isIP, type Socket } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { DEFAULTS } from '../defaults.js';

/**
 * Open connections in all, unless the operator sets another (SSHGATE_MAX_CONNECTIONS). A
 * 2025-era SDK client holds two or three at a time (its session's GET stream, its calls', one
 * more while an answer's stream is still being read): 100 agents held more than 256, and each
 * connection the guard closed for a newcomer could fail a call. One costs a descriptor and some
 * tens of KiB.
 */
export const MAX_CONNECTIONS = DEFAULTS.httpConnections.total;
/**
 * Open connections from one client address (an IPv6 client: its /64), unless the operator sets
 * another (SSHGATE_MAX_CONNECTIONS_PER_CLIENT). A 2025-era SDK client holds two: its session's
 * GET stream and the connection of its calls; so agents on one machine, or behind one proxy,
 * reach this at about half as many agents.
 */
export const MAX_CONNECTIONS_PER_CLIENT = 64;
/**
 * How long a keep-alive connection must have been idle before it may be closed for a new one. A
 * client sends its next request on the connection its last answer came on, and a request that
 * meets a connection the server is closing fails (a POST is not retried): 100 agents, one
 * address, each calling again as soon as it has its answer, lost 85–433 of 5,000 calls when the
 * oldest idle connection went, whatever its last use.
 */
export const IDLE_GRACE_MS = 1000;
/** At most one warning per this long while connections are being closed or refused. */
const WARN_EVERY_MS = 10_000;

interface Connection {
  socket: Socket;
  client: string;
  /** Requests in progress on it: between its headers and the end of its response. */
  requests: number;
  /** Whether it has ever completed a request's headers. */
  served: boolean;
  /** When its last request ended (performance.now()), or when it opened. */
  idleSince: number;
}

export interface ConnectionLimits {
  /** Per client address (default MAX_CONNECTIONS_PER_CLIENT). */
  perClient?: number | undefined;
  /** In all (default MAX_CONNECTIONS). */
  total?: number | undefined;
  /** Default IDLE_GRACE_MS. */
  idleGraceMs?: number | undefined;
}

/** Counts the server's connections from now on, and keeps them within the limits. */
export function guardConnections(server: Server, logger: Logger, limits: ConnectionLimits = {}): void {
  new ConnectionGuard(
    server,
    logger,
    limits.perClient ?? MAX_CONNECTIONS_PER_CLIENT,
    limits.total ?? MAX_CONNECTIONS,
    limits.idleGraceMs ?? IDLE_GRACE_MS,
  );
}

class ConnectionGuard {
  /** Each client's connections, oldest first. */
  private readonly byClient = new Map<string, Set<Connection>>();
  private readonly bySocket = new Map<Socket, Connection>();
  private dropped = 0;
  private lastWarning = 0;

  constructor(
    server: Server,
    private readonly logger: Logger,
    private readonly perClient: number,
    private readonly total: number,
    private readonly idleGraceMs: number,
  ) {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const c = this.bySocket.get(req.socket);
      if (!c) return;
      c.requests++;
      c.served = true;
      res.once('close', () => {
        if (--c.requests === 0) c.idleSince = performance.now();
      });
    });
  }

  private admit(socket: Socket): void {
    const client = clientKey(socket.remoteAddress);
    const mine = this.byClient.get(client) ?? new Set<Connection>();
    if (mine.size >= this.perClient && !this.evictFrom([mine])) return this.refuse(socket, client);
    if (this.bySocket.size >= this.total) {
      // The client holding the most connections gives way first.
      const clients = [...this.byClient.values()].sort((a, b) => b.size - a.size);
      if (!this.evictFrom(clients)) return this.refuse(socket, client);
    }
    const c: Connection = { socket, client, requests: 0, served: false, idleSince: performance.now() };
    this.byClient.set(client, mine.add(c));
    this.bySocket.set(socket, c);
    socket.once('close', () => this.forget(c));
  }

  /**
   * Closes a connection with no request in progress: the oldest half-open one, else the one idle
   * the longest, if that is longer than the grace (IDLE_GRACE_MS).
   */
  private evictFrom(groups: Iterable<Set<Connection>>): boolean {
    const settled = performance.now() - this.idleGraceMs;
    for (const group of groups) {
      let idle: Connection | undefined;
      for (const c of group) {
        if (c.requests > 0) continue;
        if (!c.served) return this.evict(c);
        if (c.idleSince <= settled && (!idle || c.idleSince < idle.idleSince)) idle = c;
      }
      if (idle) return this.evict(idle);
    }
    return false;
  }

  private evict(c: Connection): true {
    this.forget(c);
    c.socket.destroy();
    this.noteDropped(c.client);
    return true;
  }

  private refuse(socket: Socket, client: string): void {
    socket.destroy();
    this.noteDropped(client);
  }

  private forget(c: Connection): void {
    this.bySocket.delete(c.socket);
    const group = this.byClient.get(c.client);
    if (group?.delete(c) && group.size === 0) this.byClient.delete(c.client);
  }

  private noteDropped(client: string): void {
    this.dropped++;
    const now = Date.now();
    if (now - this.lastWarning < WARN_EVERY_MS) return;
    const hint = `at most ${this.perClient} per client address (SSHGATE_MAX_CONNECTIONS_PER_CLIENT) and ${this.total} in all (SSHGATE_MAX_CONNECTIONS)`;
    this.logger.warn({ client, closed: this.dropped, hint }, 'HTTP connections over the limits: closing half-open or idle ones');
    this.lastWarning = now;
    this.dropped = 0;
  }
}

/** Whom a connection counts against: its IPv4 address, or its IPv6 /64 (one host's usual share). */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (isIP(address) !== 6 || address.includes('.')) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
