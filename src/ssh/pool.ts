/**
 * The connection pool: one verified ssh2 connection per host target, its channels shared by every
 * task on that host. A second connection opens when the server refuses another session
 * (MaxSessions). Dead connections leave the pool at once; a host that keeps failing is retried
 * with backoff, and a caller whose time would run out before the next attempt gets the last error
 * at once instead of waiting. Jump hosts are pooled targets too: a tunnelled connection holds its
 * jump connection open for as long as it lives.
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Client } from 'ssh2';
import { DEFAULTS } from '../defaults.js';
import { SshgateError } from '../errors.js';
import type { AuthConfig } from './auth.js';
import type { BecomeConfig, Elevation } from './become.js';
import { connectionFacts, dial, openConnection, type ConnectionFacts, type DialOptions } from './connect.js';
import { runSweepable, type SweepableRun } from './cancel-sweep.js';
import { ElevatedFiles, type ScriptRunner } from './elevated-files.js';
import { ChannelRefused, ExecFailed, NotConnected, type ExecOutcome } from './exec.js';
import type { HostShell } from './interpreter.js';
import type { HostKeyChecker } from './known-hosts-file.js';
import type { RemoteFiles } from './remote-files.js';
import { closeSftp, openSftp, SftpFiles } from './sftp.js';

/** Built once per configuration snapshot and host, never changed: the pool keys its identity by the object. */
export interface HostTarget {
  readonly alias: string;
  readonly host: string;
  readonly port: number;
  readonly auth: AuthConfig;
  /** The shell that runs commands there, whatever the login shell (see interpreter.ts). */
  readonly shell: HostShell;
  /** How a call elevates there (become.ts), from the credential; the user comes with each call. */
  readonly become?: BecomeConfig;
  /** The first hop, itself a target (chains allowed). */
  readonly jump?: HostTarget;
  readonly hostKeys: HostKeyChecker;
  /** Refuses a resolved address (the network policy); only direct connections can be checked. */
  readonly checkAddress?: (address: string) => SshgateError | undefined;
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

/** How a file operation runs: its stop signal and deadline, and the user it elevates to, if any. */
export interface FilesOptions {
  signal: AbortSignal;
  /** Epoch ms by which the work must be over. */
  deadline: number;
  /** Run as this user through sudo or doas (become.ts) rather than over SFTP as the login user. */
  become?: Elevation;
}

/** How a login went: the handshake's milliseconds, the host key and the accepted method. */
export interface LoginReport extends ConnectionFacts {
  latencyMs: number;
}

export interface PoolExecOptions extends SweepableRun {
  /** Epoch ms by which the task must be over; connecting counts against it. */
  deadline: number;
}

interface Conn {
  client: Client;
  slot: Slot;
  sessions: number;
  /** Connections tunnelled through this one. */
  tunnels: number;
  maxSessions: number;
  dead: boolean;
  /** Takes no new work; closes once its last channel and tunnel are done (idle, or a reload). */
  retired: boolean;
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

  constructor(private readonly options: PoolOptions) {}

  /** The pool with the timings of defaults.ts, as the commands use it. */
  static withDefaults(logger: Logger): ConnectionPool {
    return new ConnectionPool({
      logger,
      idleMs: DEFAULTS.idleSeconds * 1000,
      keepaliveMs: DEFAULTS.keepaliveSeconds * 1000,
      connectTimeoutMs: DEFAULTS.connectTimeoutSeconds * 1000,
    });
  }

  /** Runs a command on the target; resolves when it has ended, the cancel sweep included. */
  exec(target: HostTarget, command: string, x: PoolExecOptions): Promise<ExecOutcome> {
    return this.onSession(target, x, async (conn) => {
      try {
        return await this.runOn(conn, target, command, x);
      } catch (err) {
        if (err instanceof ExecFailed && (await settledDead(conn))) {
          return { exitCode: null, signal: null, lost: 'the connection closed while the command was being started' };
        }
        throw err;
      }
    });
  }

  /**
   * Runs `work` with the target's files. As the login user: over one SFTP channel on a pooled
   * connection, closed whatever `work` does (it counts as a session, as sshd's MaxSessions counts
   * it). With `x.become`: each operation is one of sshgate's fixed scripts run elevated on the exec
   * path (elevated-files.ts), since SFTP cannot elevate. When `x.signal` fires or the deadline
   * passes, pending operations reject at once (with a `timeout` error) and what they leave behind
   * is removed: SFTP's cleanup runs before the channel closes, a script's trap on the cancel.
   */
  files<T>(target: HostTarget, x: FilesOptions, work: (files: RemoteFiles) => Promise<T>): Promise<T> {
    // The deadline stops the work as a task's time limit would (a timer holds at most 2^31-1 ms).
    const expiry = new AbortController();
    const timer = setTimeout(() => expiry.abort('timed_out'), Math.min(2 ** 31 - 1, Math.max(0, x.deadline - Date.now())));
    const signal = AbortSignal.any([x.signal, expiry.signal]);
    const done = x.become
      ? this.elevatedFiles(target, x.become, signal, x.deadline, work)
      : this.sftpFiles(target, signal, x.deadline, work);
    return done.finally(() => clearTimeout(timer));
  }

  private sftpFiles<T>(target: HostTarget, signal: AbortSignal, deadline: number, work: (files: RemoteFiles) => Promise<T>): Promise<T> {
    return this.onSession(target, { signal, deadline }, async (conn) => {
      const sftp = await openSftp(conn.client, target.alias, signal);
      try {
        return await work(new SftpFiles(sftp, target.alias, signal));
      } finally {
        await closeSftp(sftp);
      }
    });
  }

  /** Each operation one elevated exec, with the cancel sweep of an elevated command behind it. */
  private elevatedFiles<T>(
    target: HostTarget,
    become: Elevation,
    signal: AbortSignal,
    deadline: number,
    work: (files: RemoteFiles) => Promise<T>,
  ): Promise<T> {
    const run: ScriptRunner = (command, io) =>
      this.exec(target, command, {
        signal,
        deadline,
        stdout: io.stdout,
        stderr: io.stderr,
        become,
        ...(io.stdin ? { stdin: io.stdin } : {}),
      });
    return work(new ElevatedFiles(run, target.alias, become.user, signal));
  }

  /**
   * Holds a session on a pooled connection while `work` opens its channel and uses it. Only where
   * the channel was certainly never opened (NotConnected, ChannelRefused) is it tried again on
   * another connection; whatever `work` sent is never sent twice.
   */
  private async onSession<T>(
    target: HostTarget,
    x: { signal: AbortSignal; deadline: number },
    work: (conn: Conn) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const conn = await this.acquire(target, x.signal, x.deadline);
      this.hold(conn, 'sessions');
      try {
        return await work(conn);
      } catch (err) {
        if (err instanceof NotConnected && attempt < 5) {
          this.retire(conn);
          continue;
        }
        if (err instanceof ChannelRefused && conn.sessions > 1 && attempt < 5) {
          conn.maxSessions = conn.sessions - 1;
          this.options.logger.info(
            { alias: target.alias, max_sessions: conn.maxSessions },
            'server refused another session; opening a further connection',
          );
          continue;
        }
        throw err;
      } finally {
        this.release(conn, 'sessions');
      }
    }
  }

  /** Opens a fresh connection and reports how long the handshake took; the pool keeps it warm. */
  async ping(target: HostTarget, signal: AbortSignal, deadline: number): Promise<number> {
    return (await this.login(target, signal, deadline)).latencyMs;
  }

  /**
   * Opens a fresh connection, as ping does, and says how it was made: the handshake's time, the
   * host key verified and the login method that was accepted. A jump hop already pooled is reused.
   */
  async login(target: HostTarget, signal: AbortSignal, deadline: number): Promise<LoginReport> {
    const slot = this.slotFor(target);
    const started = performance.now();
    const conn = await untilAborted(this.connect(slot, target, deadline), signal, target.alias, deadline);
    const latencyMs = performance.now() - started;
    const made = connectionFacts(conn.client);
    if (slot.conns.some((c) => !c.dead && !c.retired)) conn.client.end();
    else this.adopt(slot, conn);
    if (!made)
      throw new SshgateError('internal', `the connection to host "${target.alias}" left no record of its login`, 'see the server log');
    return { latencyMs, ...made };
  }

  /**
   * A direct-tcpip tunnel to host:port through the target's pooled connection (opened, every hop
   * of it verified, if need be), held open like a jump host's tunnel until the stream closes.
   * Nothing is logged in to at the far end: the host key scan speaks SSH over it up to the key
   * exchange only.
   */
  async tunnel(target: HostTarget, to: Omit<DialOptions, 'via' | 'signal'>, signal: AbortSignal, deadline: number): Promise<Duplex> {
    const conn = await this.acquire(target, signal, deadline);
    this.hold(conn, 'tunnels');
    try {
      const stream = await dial({ ...to, via: conn.client, signal });
      stream.once('close', () => this.release(conn, 'tunnels'));
      return stream;
    } catch (err) {
      this.release(conn, 'tunnels');
      throw err;
    }
  }

  /**
   * After a reload: no connection made under the old configuration takes new work; each closes
   * when what runs on it is done.
   */
  retireAll(): void {
    for (const slot of this.slots.values()) for (const c of slot.conns) this.retire(c);
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
      const free = slot.conns.find((c) => !c.dead && !c.retired && c.sessions < c.maxSessions);
      if (free) return free;
      const wait = slot.retryAt - Date.now();
      if (!slot.opening && wait > 0 && slot.retryAt >= deadline - 250 && slot.lastError) {
        // The next attempt would come after this caller's time is up: tell it now why.
        const e = slot.lastError;
        throw new SshgateError(
          e.code,
          e.message,
          `${e.hint ?? ''}${e.hint ? '; ' : ''}sshgate tries this host again in ${Math.ceil(wait / 1000)} s`,
        );
      }
      if (!slot.opening) {
        // The attempt is shared: it is not bound to this caller's time, only each wait is.
        slot.opening = this.connect(slot, target, Date.now() + Math.max(0, wait) + this.options.connectTimeoutMs)
          .then((conn) => (this.adopt(slot, conn), conn))
          .finally(() => (slot.opening = undefined));
        // A waiter that gives up must not leave the shared attempt's rejection unhandled.
        slot.opening.catch(() => undefined);
      }
      try {
        await untilAborted(slot.opening, signal, target.alias, deadline);
      } catch (err) {
        // The attempt was started by a caller who has since given up; this one tries again.
        if (!(err instanceof Abandoned) || signal.aborted) throw err;
      }
    }
  }

  /** One connection attempt for the slot, with backoff after failures. */
  private async connect(slot: Slot, target: HostTarget, deadline: number): Promise<Conn> {
    const wait = slot.retryAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    let via: Conn | undefined;
    try {
      if (target.jump) {
        via = await this.acquire(target.jump, new AbortController().signal, deadline);
        this.hold(via, 'tunnels');
      }
      const timeoutMs = Math.max(1000, Math.min(this.options.connectTimeoutMs, deadline - Date.now() - 250));
      const client = await openConnection({
        alias: target.alias,
        host: target.host,
        port: target.port,
        auth: target.auth,
        hostKeys: target.hostKeys,
        timeoutMs,
        keepaliveMs: this.options.keepaliveMs,
        ...(via ? { via: via.client } : {}),
        ...(target.checkAddress ? { checkAddress: target.checkAddress } : {}),
      });
      slot.failures = 0;
      slot.retryAt = 0;
      const conn: Conn = { client, slot, sessions: 0, tunnels: 0, maxSessions: Infinity, dead: false, retired: false };
      const jump = via;
      client.on('close', () => {
        conn.dead = true;
        clearTimeout(conn.idle);
        slot.conns = slot.conns.filter((c) => c !== conn);
        if (jump) this.release(jump, 'tunnels');
        this.options.logger.debug({ alias: slot.alias }, 'connection closed');
      });
      client.on('error', (err) => this.options.logger.warn({ alias: slot.alias, err: err.message }, 'connection error'));
      if (target.auth.username === 'root') {
        this.options.logger.warn(
          { alias: slot.alias },
          'logged in as root: OpenSSH ignores signal requests in root sessions, so a cancel relies on the pid sweep',
        );
      }
      return conn;
    } catch (err) {
      if (via) this.release(via, 'tunnels');
      const e =
        err instanceof SshgateError
          ? err
          : new SshgateError('connect_failed', `connecting to host "${target.alias}" failed`, 'see the server log');
      if (e instanceof Abandoned) throw e;
      slot.failures++;
      slot.lastError = e;
      const base = this.options.backoffBaseMs ?? 500;
      slot.retryAt = Date.now() + Math.min(this.options.backoffMaxMs ?? 30_000, base * 2 ** (slot.failures - 1));
      this.options.logger.warn({ alias: target.alias, code: e.code, failures: slot.failures }, e.message);
      throw e;
    }
  }

  private adopt(slot: Slot, conn: Conn): void {
    if (conn.dead) return;
    if (this.closed) return void conn.client.end();
    slot.conns.push(conn);
    this.idleWhenUnused(conn);
  }

  private hold(conn: Conn, what: 'sessions' | 'tunnels'): void {
    conn[what]++;
    clearTimeout(conn.idle);
    conn.idle = undefined;
  }

  private release(conn: Conn, what: 'sessions' | 'tunnels'): void {
    conn[what]--;
    this.idleWhenUnused(conn);
  }

  /** A connection nothing runs on closes after idleMs, or at once when it is retired. */
  private idleWhenUnused(conn: Conn): void {
    if (conn.dead || conn.sessions > 0 || conn.tunnels > 0) return;
    clearTimeout(conn.idle);
    if (conn.retired) return void conn.client.end();
    conn.idle = setTimeout(() => this.retire(conn), this.options.idleMs);
    conn.idle.unref();
  }

  /** No new work for this connection; it ends now if nothing runs on it, else when that is done. */
  private retire(conn: Conn): void {
    conn.retired = true;
    if (!conn.dead && conn.sessions === 0 && conn.tunnels === 0) {
      clearTimeout(conn.idle);
      conn.client.end();
    }
  }

  /** The command with the cancel sweep behind it (cancel-sweep.ts), on this connection. */
  private runOn(conn: Conn, target: HostTarget, command: string, x: PoolExecOptions): Promise<ExecOutcome> {
    return runSweepable(
      {
        alias: target.alias,
        shell: target.shell,
        client: conn.client,
        logger: this.options.logger,
        hold: () => this.hold(conn, 'sessions'),
        release: () => this.release(conn, 'sessions'),
        openFresh: () => this.connect(conn.slot, target, Date.now() + 5000).then((fresh) => fresh.client),
        track: (done) => {
          this.sweeps.add(done);
          void done.finally(() => this.sweeps.delete(done));
        },
      },
      command,
      x,
    );
  }
}

/** Whether the connection is gone (its close may trail the failed request by a moment). */
async function settledDead(conn: Conn): Promise<boolean> {
  for (let i = 0; i < 10 && !conn.dead; i++) await new Promise((r) => setTimeout(r, 20));
  return conn.dead;
}

/**
 * Identities by target: a target is built once per configuration snapshot and host (live-config.ts)
 * and never changed, and hashing its key material again cost ~17 µs of every call.
 */
const identities = new WeakMap<HostTarget, string>();

/** Everything that makes two targets the same connection; secrets enter only as a hash. */
function identity(t: HostTarget): string {
  let id = identities.get(t);
  if (id === undefined) {
    id = hashIdentity(t);
    identities.set(t, id);
  }
  return id;
}

function hashIdentity(t: HostTarget): string {
  const h = createHash('sha256');
  const a = t.auth;
  for (const part of [t.alias, t.host, String(t.port), a.username, a.agent ?? '', a.password ?? '', a.passphrase ?? ''])
    h.update(part).update('\0');
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

/**
 * Waits for `p`, or rejects as soon as the caller's signal fires or its deadline (less a margin,
 * so that the caller hears about the handshake rather than only about its time) has passed.
 */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal, alias: string, deadline: number): Promise<T> {
  if (signal.aborted) return Promise.reject(abandoned(alias));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abandoned(alias));
    const left = Math.max(0, deadline - Date.now() - 250);
    const timer = setTimeout(
      () =>
        reject(
          new SshgateError(
            'timeout',
            `host "${alias}" did not complete the SSH handshake within the ${Math.round(left / 1000)} s the task had left`,
            'check that the host is up and that the port speaks SSH',
          ),
        ),
      left,
    );
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  });
}
