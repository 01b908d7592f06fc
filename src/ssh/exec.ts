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

export interface ExecOptions {
  signal: AbortSignal;
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
  /** Between TERM and KILL. */
  graceMs?: number;
  /**
   * Runs after the abort and before the first signal (bounded by BEFORE_SIGNAL_MS): the pid sweep
   * lists the command's descendants here, while the process tree is still intact.
   */
  beforeSignal?: () => Promise<void>;
}

/** The server would not open another session on this connection (MaxSessions). */
export class ChannelRefused extends SshgateError {
  constructor(detail: string) {
    super('connect_failed', `the host refused to start the command: ${detail}`, 'the server may limit sessions per connection (MaxSessions)');
  }
}

const BEFORE_SIGNAL_MS = 1000;

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
    client.exec(command, (err, channel) => {
      if (err) return reject(new ChannelRefused(err.message));
      run(channel, grace, options, resolve);
    });
  });
}

function run(channel: ClientChannel, grace: number, options: ExecOptions, resolve: (o: ExecOutcome) => void): void {
  let exitCode: number | null = null;
  let exitSignal: string | null = null;
  let exited = false;
  const timers: NodeJS.Timeout[] = [];

  channel.eof();
  channel.on('data', (d: Buffer) => options.stdout(d));
  channel.stderr.on('data', (d: Buffer) => options.stderr(d));
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
      setTimeout(() => {
        sendSignal(channel, 'KILL');
        // The close follows the KILL closely; a host that ignores signals still loses the channel.
        timers.push(setTimeout(() => channel.close(), 200));
      }, grace),
    );
  };
  const onAbort = () => void stop();
  options.signal.addEventListener('abort', onAbort, { once: true });

  channel.on('close', () => {
    closed = true;
    for (const t of timers) clearTimeout(t);
    options.signal.removeEventListener('abort', onAbort);
    if (!exited && !options.signal.aborted) {
      resolve({ exitCode: null, signal: null, lost: 'the connection closed before the command ended' });
      return;
    }
    resolve({ exitCode, signal: exitSignal });
  });
}

/** The parts of ssh2's channel that Channel.signal() itself uses. */
interface ChannelInternals {
  outgoing?: { id: number; state: string };
  _client?: { _protocol?: { signal(id: number, name: string): void } };
}

export function sendSignal(channel: ClientChannel, name: 'TERM' | 'KILL'): void {
  const inner = channel as unknown as ChannelInternals;
  const state = inner.outgoing?.state;
  if (state === 'open') {
    channel.signal(name);
  } else if (state === 'eof' && inner.outgoing && inner._client?._protocol) {
    inner._client._protocol.signal(inner.outgoing.id, name);
  }
}
