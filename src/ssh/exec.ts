/**
 * Where a cancel becomes a signal: runs one command on an open ssh2 connection and, when its
 * AbortSignal fires, sends TERM down the channel, KILL after the grace period, then closes the
 * channel. OpenSSH delivers the signal to the command's process group, so pipelines and
 * background jobs die with it; closing a channel without a signal would leave them running.
 * stdin is closed with eof(), never end(): ssh2 drops signal requests after end(). ssh2 1.17's
 * Channel.signal() also refuses once eof() has been sent, although RFC 4254 allows channel
 * requests after EOF; sendSignal() below writes the request itself in that state.
 */
import type { Client, ClientChannel } from 'ssh2';
import { SshgateError } from '../errors.js';
import { receiveReclaimer } from '../memory.js';
import { PTY } from './terminal.js';

/**
 * Takes a command's output. A sink that returns a promise holds the channel until it settles: the
 * host is then sent no more window, so a slow consumer (a local disk) slows the command's output
 * instead of filling memory.
 */
export type OutputSink = (data: Buffer) => void | Promise<void>;

/**
 * The channel's stdin as a writer: a write resolves once the channel has taken the data, with
 * true; with false when the channel's stdin had ended or the channel closed (nothing more is read).
 */
export interface StdinWriter {
  write(data: Buffer): Promise<boolean>;
  end(): void;
}

/**
 * A command's stdin produced as it goes (a file streamed to the host): it writes through `write`,
 * awaiting each (the channel's backpressure), and resolves when it is done; stdin is then closed.
 * A rejection closes stdin too, early: the command sees its input cut short.
 */
export type StdinFeed = (write: (data: Buffer) => Promise<boolean>) => Promise<void>;

export interface ExecOptions {
  signal: AbortSignal;
  stdout: OutputSink;
  stderr: OutputSink;
  /** Between TERM and KILL. */
  graceMs?: number;
  /** Written to the command's stdin before the EOF; without it, stdin is closed at once. */
  stdin?: Buffer;
  /**
   * Takes the channel's stdin instead (`stdin` is then ignored): what it writes goes to the
   * command, and `end` sends the EOF. The elevation answers sudo's prompt through it (become.ts).
   */
  holdStdin?: (stdin: StdinWriter) => void;
  /**
   * Runs after the abort and before the first signal (bounded by BEFORE_SIGNAL_MS): the pid sweep
   * lists the command's descendants here, while the process tree is still intact.
   */
  beforeSignal?: () => Promise<void>;
  /** Ask for a pseudo-terminal (PTY): the command's stdout and stderr both arrive as stdout. */
  tty?: boolean;
}

/**
 * The server would not open another channel on this connection (MaxSessions): the command was
 * never sent, so it may be tried on another connection.
 */
export class ChannelRefused extends SshgateError {
  constructor(detail: string, what = 'start the command') {
    super('connect_failed', `the host refused to ${what}: ${detail}`, 'the server may limit sessions per connection (MaxSessions)');
  }
}

/** The connection had already ended when the channel was asked for: nothing was sent. */
export class NotConnected extends SshgateError {
  constructor() {
    super('connect_failed', 'the connection to the host had closed', 'sshgate opens a new one');
  }
}

/** The host would not give the command a terminal: nothing was started. */
export class TerminalRefused extends SshgateError {
  constructor() {
    super(
      'connect_failed',
      'the host refused a terminal for the command',
      'sshd may forbid one (PermitTTY no, no-pty in authorized_keys); run the command without tty',
    );
  }
}

/**
 * The exec request failed after the channel opened: the server refused it, or the connection
 * died with the request in flight (then the command may have started). Never retried.
 */
export class ExecFailed extends SshgateError {
  constructor() {
    super('connect_failed', 'the host did not start the command', 'check the server log of the host (ForceCommand, a broken login shell)');
  }
}

const BEFORE_SIGNAL_MS = 1000;
/** At shutdown the whole stop must fit in the server's exit budget. */
const SHUTDOWN_GRACE_MS = 800;
/** After KILL and close, how long a channel may stay open before the task is given up. */
const CLOSE_BACKSTOP_MS = 5000;

export interface ExecOutcome {
  exitCode: number | null;
  signal: string | null;
  /** Set when the connection closed before the command reported how it ended. */
  lost?: string;
}

export const DEFAULT_GRACE_MS = 2000;

export function execOnConnection(client: Client, command: string, options: ExecOptions): Promise<ExecOutcome> {
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) return resolve({ exitCode: null, signal: null });
    try {
      client.exec(command, options.tty ? { pty: { ...PTY } } : {}, (err, channel) => {
        // A channel-open failure carries the server's reason code; then comes the pty request
        // (ssh2 names it in its message), then the exec request.
        if (err)
          return reject(
            'reason' in err
              ? new ChannelRefused(err.message)
              : options.tty && /pseudo-terminal/.test(err.message)
                ? new TerminalRefused()
                : new ExecFailed(),
          );
        run(channel, grace, options, resolve);
      });
    } catch {
      // ssh2 throws at once when its socket has already ended.
      reject(new NotConnected());
    }
  });
}

/** The grace period for this abort: short at shutdown, so the server can still exit in time. */
export function graceFor(signal: AbortSignal, grace: number): number {
  return signal.reason === 'shutdown' ? Math.min(grace, SHUTDOWN_GRACE_MS) : grace;
}

function run(channel: ClientChannel, grace: number, options: ExecOptions, resolve: (o: ExecOutcome) => void): void {
  let exitCode: number | null = null;
  let exitSignal: string | null = null;
  let exited = false;
  const timers: NodeJS.Timeout[] = [];

  // EOF goes only after the data has left: ssh2 sends eof() at once, past any queued writes.
  if (options.holdStdin) {
    let ended = false;
    options.holdStdin({
      write: (data) => (ended ? Promise.resolve(false) : taken(channel, data)),
      end: () => {
        if (ended) return;
        ended = true;
        // After the queued writes, as below.
        safely(() => channel.write(Buffer.alloc(0), () => safely(() => channel.eof())));
      },
    });
  } else if (options.stdin && options.stdin.length > 0) channel.write(options.stdin, () => channel.eof());
  else channel.eof();
  /** Sinks still taking data: the outcome waits for them, since the channel may close before they are done. */
  const holding = new Set<Promise<void>>();
  const received = (sink: OutputSink, stream: { pause(): unknown; resume(): unknown }) => (d: Buffer) => {
    receiveReclaimer.noteReceived(d.length);
    const held = sink(d);
    if (held instanceof Promise) {
      stream.pause();
      // The sink reports its own failure; the channel only waits for it.
      const settled = held
        .catch(() => undefined)
        .then(() => {
          holding.delete(settled);
          stream.resume();
        });
      holding.add(settled);
    }
  };
  channel.on('data', received(options.stdout, channel));
  channel.stderr.on('data', received(options.stderr, channel.stderr));
  channel.on('exit', (code: number | null, signal?: string) => {
    exited = true;
    if (typeof code === 'number') exitCode = code;
    if (signal) exitSignal = signal;
  });

  let closed = false;
  const stop = async () => {
    if (options.beforeSignal) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([options.beforeSignal().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, BEFORE_SIGNAL_MS)))]);
      clearTimeout(timer);
    }
    if (closed) return;
    sendSignal(channel, 'TERM');
    timers.push(
      setTimeout(
        () => {
          sendSignal(channel, 'KILL');
          // The close follows the KILL closely; a host that ignores signals still loses the channel.
          timers.push(
            setTimeout(() => {
              safely(() => channel.close());
              // A channel the host never closes must not hold the task forever.
              timers.push(
                setTimeout(
                  () => finish({ exitCode, signal: exitSignal, lost: 'the host did not close the channel after KILL' }),
                  CLOSE_BACKSTOP_MS,
                ),
              );
            }, 200),
          );
        },
        graceFor(options.signal, grace),
      ),
    );
  };
  const onAbort = () => void stop();
  options.signal.addEventListener('abort', onAbort, { once: true });
  // An abort that came while the channel was opening fired no event: act on it now.
  if (options.signal.aborted) onAbort();

  let finished = false;
  const finish = (outcome: ExecOutcome) => {
    if (finished) return;
    finished = true;
    closed = true;
    for (const t of timers) clearTimeout(t);
    options.signal.removeEventListener('abort', onAbort);
    resolve(outcome);
  };
  channel.on('close', () => {
    const outcome: ExecOutcome =
      !exited && !options.signal.aborted
        ? { exitCode: null, signal: null, lost: 'the connection closed before the command ended' }
        : { exitCode, signal: exitSignal };
    if (holding.size === 0) return finish(outcome);
    void Promise.all(holding).then(() => finish(outcome));
  });
}

/** Runs `feed` into the channel's stdin and closes stdin when it settles, however it settles. */
export function feedStdin(feed: StdinFeed, stdin: StdinWriter): void {
  void feed((data) => stdin.write(data))
    .catch(() => undefined)
    .then(() => stdin.end());
}

/**
 * Writes to the channel; resolves (true) at once while it has room, else once it drains; false
 * when it can take nothing more: ended (ssh2 ends it when the command closes the channel; a write
 * after that is never drained) or closed.
 */
function taken(channel: ClientChannel, data: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    if (channel.writableEnded || channel.destroyed) return resolve(false);
    let room = true;
    safely(() => (room = channel.write(data)));
    if (room) return resolve(true);
    const done = (open: boolean) => () => {
      channel.off('drain', drained);
      channel.off('close', closed);
      resolve(open);
    };
    const drained = done(true);
    const closed = done(false);
    channel.on('drain', drained);
    channel.on('close', closed);
  });
}

/** ssh2 throws from a channel whose connection has just been torn down; there is nothing left to stop. */
function safely(act: () => void): void {
  try {
    act();
  } catch {
    // The connection is gone, and the channel with it.
  }
}

/** The parts of ssh2's channel that Channel.signal() itself uses. */
interface ChannelInternals {
  outgoing?: { id: number; state: string };
  _client?: { _protocol?: { signal(id: number, name: string): void } };
}

export function sendSignal(channel: ClientChannel, name: 'TERM' | 'KILL'): void {
  const inner = channel as unknown as ChannelInternals;
  const state = inner.outgoing?.state;
  safely(() => {
    if (state === 'open') {
      channel.signal(name);
    } else if (state === 'eof' && inner.outgoing && inner._client?._protocol) {
      inner._client._protocol.signal(inner.outgoing.id, name);
    }
  });
}
