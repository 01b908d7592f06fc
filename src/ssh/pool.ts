/**
 * The connection pool: one verified ssh2 connection per host target, its channels shared by every
 * task on that host. A second connection opens when the server refuses another session
 * (MaxSessions). Dead connections leave the pool at once; a host that keeps failing is retried
 * with backoff, and a caller whose time would run out before the next attempt gets the last error
 * at once instead of waiting. Jump hosts are pooled targets too: a tunnelled connection holds its
 * jump connection open for as long as it lives.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Client } from 'ssh2';
import { SshgateError } from '../errors.js';
import type { AuthConfig } from './auth.js';
import { openConnection } from './connect.js';
import { ChannelRefused, DEFAULT_GRACE_MS, execOnConnection, type ExecOutcome } from './exec.js';
import type { HostKeyChecker } from './known-hosts-file.js';
import { PidLineReader, sweepScript, withPidLine } from './sweep.js';

export interface HostTarget {
  alias: string;
  host: string;
  port: number;
  auth: AuthConfig;
  /** The first hop, itself a target (chains allowed). */
  jump?: HostTarget;
  hostKeys: HostKeyChecker;
  /** Refuses a resolved address (the network policy); only direct connections can be checked. */
  checkAddress?: (address: string) => SshgateError | undefined;
}

export interface PoolOptions {
  logger: Logger;
  /** A connection with no channel and no tunnel closes after this long. */
  idleMs: number;
  keepaliveMs: number;
  /** The longest a handshake may take, whatever time the task has left. */
  connectTimeoutMs: number;
  /** Consecutive failures of a host wait min(max, base · 2^(n-1)) before the next attempt. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

export interface PoolExecOptions {
  signal: AbortSignal;
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
  /** Epoch ms by which the task must be over; connecting counts against it. */
  deadline: number;
  graceMs?: number;
}

interface Conn {
  client: Client;
  slot: Slot;
  sessions: number;
  /** Connections tunnelled through this one. */
  tunnels: number;
  maxSessions: number;
  dead: boolean;
  idle?: NodeJS.Timeout;
}

interface Slot {
  key: string;
  alias: string;
  conns: Conn[];
  opening?: Promise<Conn>;
  failures: number;
  retryAt: number;
  lastError?: SshgateError;
}

export class ConnectionPool {
  private readonly slots = new Map<string, Slot>();
  private readonly sweeps = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly o: PoolOptions) {}

  /** Runs a command on the target; resolves when it has ended, the cancel sweep included. */
  async exec(target: HostTarget, command: string, x: PoolExecOptions): Promise<ExecOutcome> {
    for (;;) {
      const conn = await this.acquire(target, x.signal, x.deadline);
      this.hold(conn, 'sessions');
      try {
        return await this.runOn(conn, command, x);
      } catch (err) {
        // Another session was refused: remember the server's limit and use a further connection.
        if (!(err instanceof ChannelRefused) || conn.sessions <= 1) throw err;
        conn.maxSessions = conn.sessions - 1;
        this.o.logger.info({ alias: target.alias, max_sessions: conn.maxSessions }, 'server refused another session; opening a further connection');
      } finally {
        this.release(conn, 'sessions');
      }
    }
  }

  /** Opens a fresh connection and reports how long the handshake took; the pool keeps it warm. */
  async ping(target: HostTarget, signal: AbortSignal, deadline: number): Promise<number> {
    const slot = this.slotFor(target);
    const started = performance.now();
    const conn = await this.connect(slot, target, deadline, signal);
    const latency = performance.now() - started;
    if (slot.conns.some((c) => !c.dead)) conn.client.end();
    else this.adopt(slot, conn);
    return latency;
  }

  /** Closes every idle connection (after a reload: the next task connects under the new config). */
  drainIdle(): void {
    for (const slot of this.slots.values()) for (const c of slot.conns) if (c.sessions === 0 && c.tunnels === 0) c.client.end();
  }

  /** Closes every connection, after the running sweeps have finished (bounded). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.race([Promise.all(this.sweeps), new Promise((r) => setTimeout(r, 3000).unref())]);
    for (const slot of this.slots.values()) for (const c of slot.conns) c.client.end();
  }

  private slotFor(target: HostTarget): Slot {
    const key = identity(target);
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { key, alias: target.alias, conns: [], failures: 0, retryAt: 0 };
      this.slots.set(key, slot);
    }
    return slot;
  }

  private async acquire(target: HostTarget, signal: AbortSignal, deadline: number): Promise<Conn> {
    const slot = this.slotFor(target);
    for (;;) {
      if (this.closed) throw new SshgateError('connect_failed', 'sshgate is shutting down', 'start the task again once the server is back');
      if (signal.aborted) throw abandoned(target.alias);
      const free = slot.conns.find((c) => !c.dead && c.sessions < c.maxSessions);
      if (free) return free;
      if (!slot.opening) {
        slot.opening = this.connect(slot, target, deadline, signal)
          .then((conn) => (this.adopt(slot, conn), conn))
          .finally(() => (slot.opening = undefined));
        // A waiter that gives up must not leave the shared attempt's rejection unhandled.
        slot.opening.catch(() => undefined);
      }
      try {
        await untilAborted(slot.opening, signal, target.alias);
      } catch (err) {
        // The attempt was started by a caller who has since given up; this one tries again.
        if (!(err instanceof Abandoned) || signal.aborted) throw err;
      }
    }
  }

  /** One connection attempt for the slot, with backoff after failures. */
  private async connect(slot: Slot, target: HostTarget, deadline: number, signal?: AbortSignal): Promise<Conn> {
    const wait = slot.retryAt - Date.now();
    if (wait > 0) {
      if (Date.now() + wait >= deadline && slot.lastError) {
        const e = slot.lastError;
        throw new SshgateError(e.code, e.message, `${e.hint ?? ''}${e.hint ? '; ' : ''}sshgate tries this host again in ${Math.ceil(wait / 1000)} s`);
      }
      await untilAborted(new Promise((r) => setTimeout(r, wait)), signal, target.alias);
    }
    let via: Conn | undefined;
    try {
      if (target.jump) {
        via = await this.acquire(target.jump, signal ?? new AbortController().signal, deadline);
        this.hold(via, 'tunnels');
      }
      const timeoutMs = Math.max(1000, Math.min(this.o.connectTimeoutMs, deadline - Date.now() - 250));
      const client = await openConnection({
        alias: target.alias,
        host: target.host,
        port: target.port,
        auth: target.auth,
        hostKeys: target.hostKeys,
        timeoutMs,
        keepaliveMs: this.o.keepaliveMs,
        ...(via ? { via: via.client } : {}),
        ...(target.checkAddress ? { checkAddress: target.checkAddress } : {}),
      });
      slot.failures = 0;
      slot.retryAt = 0;
      const conn: Conn = { client, slot, sessions: 0, tunnels: 0, maxSessions: Infinity, dead: false };
      const jump = via;
      client.on('close', () => {
        conn.dead = true;
        clearTimeout(conn.idle);
        slot.conns = slot.conns.filter((c) => c !== conn);
        if (jump) this.release(jump, 'tunnels');
        this.o.logger.debug({ alias: slot.alias }, 'connection closed');
      });
      client.on('error', (err) => this.o.logger.warn({ alias: slot.alias, err: err.message }, 'connection error'));
      if (target.auth.username === 'root') {
        this.o.logger.warn({ alias: slot.alias }, 'logged in as root: OpenSSH ignores signal requests in root sessions, so a cancel relies on the pid sweep');
      }
      return conn;
    } catch (err) {
      if (via) this.release(via, 'tunnels');
      const e = err instanceof SshgateError ? err : new SshgateError('connect_failed', `connecting to host "${target.alias}" failed`, 'see the server log');
      if (e instanceof Abandoned) throw e;
      slot.failures++;
      slot.lastError = e;
      const base = this.o.backoffBaseMs ?? 500;
      slot.retryAt = Date.now() + Math.min(this.o.backoffMaxMs ?? 30_000, base * 2 ** (slot.failures - 1));
      this.o.logger.warn({ alias: target.alias, code: e.code, failures: slot.failures }, e.message);
      throw e;
    }
  }

  private adopt(slot: Slot, conn: Conn): void {
    if (conn.dead) return;
    if (this.closed) return void conn.client.end();
    slot.conns.push(conn);
    this.release(conn, 'sessions', 0);
  }

  private hold(conn: Conn, what: 'sessions' | 'tunnels'): void {
    conn[what]++;
    clearTimeout(conn.idle);
    conn.idle = undefined;
  }

  private release(conn: Conn, what: 'sessions' | 'tunnels', by = 1): void {
    conn[what] -= by;
    if (conn.dead || conn.sessions > 0 || conn.tunnels > 0) return;
    clearTimeout(conn.idle);
    conn.idle = setTimeout(() => conn.client.end(), this.o.idleMs);
    conn.idle.unref();
  }

  private async runOn(conn: Conn, command: string, x: PoolExecOptions): Promise<ExecOutcome> {
    const grace = x.graceMs ?? DEFAULT_GRACE_MS;
    const reader = new PidLineReader(() => undefined);
    let sweep: Promise<void> | undefined;
    return execOnConnection(conn.client, withPidLine(command), {
      signal: x.signal,
      graceMs: grace,
      stdout: (d) => {
        const out = reader.push(d);
        if (out.length > 0) x.stdout(out);
      },
      stderr: x.stderr,
      beforeSignal: () => {
        if (reader.pid === undefined) return Promise.resolve();
        const { listed, done } = this.sweep(conn, reader.pid, grace);
        sweep = done;
        return listed;
      },
    }).finally(() => sweep);
  }

  /**
   * Runs the sweep on a further channel of the same connection. `listed` settles once the sweep
   * holds the list of descendants; `done` when it has finished (bounded).
   */
  private sweep(conn: Conn, pid: number, graceMs: number): { listed: Promise<void>; done: Promise<void> } {
    let listed!: () => void;
    const listedP = new Promise<void>((r) => (listed = r));
    this.hold(conn, 'sessions');
    const done = new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(limit);
        listed();
        resolve();
      };
      const limit = setTimeout(end, graceMs + 3000);
      conn.client.exec(sweepScript(pid, graceMs), (err, ch) => {
        if (err) {
          this.o.logger.warn({ alias: conn.slot.alias, err: err.message }, 'could not open a channel for the pid sweep');
          return end();
        }
        ch.on('data', (d: Buffer) => {
          if (d.includes('listed')) listed();
        });
        ch.stderr.resume();
        ch.on('close', end);
      });
    }).finally(() => this.release(conn, 'sessions'));
    this.sweeps.add(done);
    void done.finally(() => this.sweeps.delete(done));
    return { listed: listedP, done };
  }
}

/** Everything that makes two targets the same connection; secrets enter only as a hash. */
function identity(t: HostTarget): string {
  const h = createHash('sha256');
  const a = t.auth;
  for (const part of [t.alias, t.host, String(t.port), a.username, a.agent ?? '', a.password ?? '', a.passphrase ?? '']) h.update(part).update('\0');
  h.update(a.privateKey ?? Buffer.alloc(0)).update('\0');
  h.update(t.jump ? identity(t.jump) : '');
  return h.digest('hex');
}

/** The caller stopped waiting (cancel or timeout); not a failure of the host. */
class Abandoned extends SshgateError {
  constructor(alias: string) {
    super('timeout', `connecting to host "${alias}" was abandoned`, 'the task was cancelled or ran out of time');
  }
}

function abandoned(alias: string): SshgateError {
  return new Abandoned(alias);
}

/** Waits for `p`, or rejects as soon as the caller's signal fires. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, alias: string): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abandoned(alias));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abandoned(alias));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
