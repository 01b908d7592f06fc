/**
 * The requests of one SFTP channel as promises: each rejects as soon as the operation's abort
 * signal fires (the server's answer, when it comes, is dropped), and every failure is an
 * SshgateError naming the path and the host. Bulk bytes move through a window of parallel
 * requests, as ssh2's fastGet/fastPut do, so that a transfer is not one round trip per chunk, and
 * the window bounds the memory a transfer holds whatever the file's size. Unlike a command's
 * output (exec.ts), the bytes moved here ask for no young-generation collections: a 1 GiB put and
 * get measured slower with one every MiB (115-128 and 92-101 MB/s against 148-165 and 106-124)
 * and peaked anywhere from 116 to 146 MB (against 120-123 without), with either of ssh2's cryptos.
 */
import type { SFTPWrapper, Stats } from 'ssh2';
import { whenAborted } from '../abort.js';
import { SshgateError } from '../errors.js';
import type { RemoteStat, RemoteType } from './remote-files.js';

/** Bytes per read or write request: below every server's limit (OpenSSH allows 255 KiB). */
export const CHUNK = 64 * 1024;
/** Requests in flight per transfer: 32 × 64 KiB = 2 MiB held at most. */
export const WINDOW = 32;
/** How long the cleanup after a failure (close, remove the temp file) may take. */
export const CLEANUP_MS = 2000;

const FX_EOF = 1;
const FX_NO_SUCH_FILE = 2;
const FX_PERMISSION_DENIED = 3;
const FX_FAILURE = 4;

type Done<T> = (err: Error | null | undefined, value?: T) => void;

/** The operation was stopped by its signal: cancelled, out of time, or the server shutting down. */
export class FileOpStopped extends SshgateError {
  constructor(
    alias: string,
    /** The signal's reason: 'cancelled', 'timed_out', 'shutdown'. */
    readonly reason: unknown,
  ) {
    super(
      'timeout',
      reason === 'timed_out'
        ? `the file operation on host "${alias}" ran out of time`
        : `the file operation on host "${alias}" was ${reason === 'shutdown' ? 'stopped by the shutdown' : 'cancelled'}`,
      reason === 'timed_out' ? 'raise the time limit of the call, or move less data at once' : 'start it again if it is still wanted',
    );
  }
}

/** What the parallel readers and writers need of a channel, so that they can be driven alone. */
export class SftpCalls {
  /** The rejections of the requests waiting for an answer, called all at once on an abort. */
  private readonly waiting = new Set<(err: FileOpStopped) => void>();

  constructor(
    readonly sftp: SFTPWrapper,
    readonly alias: string,
    readonly signal: AbortSignal,
  ) {
    // One listener for every request: a transfer has dozens in flight.
    whenAborted(signal, () => {
      const stopped = new FileOpStopped(alias, signal.reason);
      for (const reject of this.waiting) reject(stopped);
      this.waiting.clear();
    });
  }

  /**
   * One request: `start` sends it and calls `done` with the server's answer. `what` names the
   * action for a message ("open", "rename"). A cleanup passes its own signal, so that it still
   * runs after the operation's signal has fired.
   */
  call<T>(what: string, path: string, start: (done: Done<T>) => void, signal?: AbortSignal): Promise<T> {
    return this.stoppable<T>(signal, (resolve, reject) => {
      try {
        start((err, value) => (err ? reject(this.failure(err, what, path)) : resolve(value as T)));
      } catch (err) {
        // ssh2 throws at once when the channel has closed or the server lacks an extension.
        reject(this.failure(asError(err), what, path));
      }
    });
  }

  /** `p` (its failure as it is), or FileOpStopped as soon as the operation's signal fires. */
  unlessStopped<T>(p: Promise<T>): Promise<T> {
    return this.stoppable<T>(undefined, (resolve, reject) => void p.then(resolve, (err: unknown) => reject(asError(err))));
  }

  /** A promise that also rejects when `signal` (by default the operation's) fires. */
  private stoppable<T>(signal: AbortSignal | undefined, run: (resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> {
    const own = signal ?? this.signal;
    return new Promise<T>((resolve, reject) => {
      if (own.aborted) return reject(new FileOpStopped(this.alias, own.reason));
      let unlisten: () => void;
      if (signal) {
        unlisten = whenAborted(signal, () => reject(new FileOpStopped(this.alias, signal.reason)));
      } else {
        this.waiting.add(reject);
        unlisten = () => this.waiting.delete(reject);
      }
      run(
        (v) => (unlisten(), resolve(v)),
        (e) => (unlisten(), reject(e)),
      );
    });
  }

  /** The SFTP status a request failed with, as the error a caller can act on. */
  failure(err: Error, what: string, path: string): SshgateError {
    if (err instanceof SshgateError) return err;
    const on = `host "${this.alias}"`;
    switch (sftpStatus(err)) {
      case FX_NO_SUCH_FILE:
        return new SshgateError('not_found', `${path} does not exist on ${on}`, 'check the path; list its directory with ssh_list_dir');
      case FX_PERMISSION_DENIED:
        return new SshgateError(
          'permission_denied',
          `permission denied to ${what} ${path} on ${on}`,
          "the host's login user lacks access there: check the owner and mode of the file and its directory",
        );
      case undefined:
        return /No response|not connected|closed/i.test(err.message)
          ? new SshgateError('lost', `the SFTP channel to ${on} closed during ${what} ${path}`, 'the connection dropped; try again')
          : new SshgateError('internal', `${what} ${path} on ${on} failed: ${err.message}`, 'see the server log');
      default:
        return new SftpRefused(sftpStatus(err) as number, `${what} ${path} on ${on} failed: ${err.message}`);
    }
  }

  /** The value is null when nothing is at the path. */
  async lstat(path: string, signal?: AbortSignal): Promise<RemoteStat | null> {
    return orNull(this.call<Stats>('inspect', path, (d) => this.sftp.lstat(path, d), signal).then(toRemoteStat));
  }

  async stat(path: string): Promise<RemoteStat | null> {
    return orNull(this.call<Stats>('inspect', path, (d) => this.sftp.stat(path, d)).then(toRemoteStat));
  }

  fstat(handle: Buffer, path: string): Promise<RemoteStat> {
    return this.call<Stats>('inspect', path, (d) => this.sftp.fstat(handle, d)).then(toRemoteStat);
  }

  open(path: string, flags: 'r' | 'r+' | 'wx' | 'w', mode?: number): Promise<Buffer> {
    return this.call<Buffer>(flags === 'r' ? 'read' : 'write', path, (d) =>
      mode === undefined ? this.sftp.open(path, flags, d) : this.sftp.open(path, flags, { mode }, d),
    );
  }

  close(handle: Buffer, path: string, signal?: AbortSignal): Promise<void> {
    return this.call<void>('close', path, (d) => this.sftp.close(handle, d), signal);
  }

  /** Whether the server offers an OpenSSH extension (fsync@openssh.com, posix-rename@openssh.com). */
  offers(extension: string): boolean {
    return (this.sftp as unknown as { _extensions?: Record<string, string> })._extensions?.[extension] !== undefined;
  }

  /**
   * Up to `length` bytes at `position`; fewer only at the end of the file. A server may answer a
   * read with fewer bytes than asked before the end, so a short answer is followed up.
   */
  async readAt(handle: Buffer, path: string, position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = await this.call<number>('read', path, (d) =>
        this.sftp.read(handle, buf, got, length - got, position + got, (err, bytes) => d(err, bytes)),
      );
      if (n === 0) break;
      got += n;
    }
    return got === length ? buf : buf.subarray(0, got);
  }

  writeAt(handle: Buffer, path: string, position: number, data: Buffer): Promise<void> {
    return this.call<void>('write', path, (d) => this.sftp.write(handle, data, 0, data.length, position, (err) => d(err)));
  }

  /**
   * Reads [from, to) in order through a window of parallel requests and hands each chunk to
   * `each` (awaited: a slow consumer holds the window, not memory); stops early at the end of the
   * file. Resolves with the position it stopped at.
   */
  async pull(handle: Buffer, path: string, from: number, to: number, each: (chunk: Buffer) => unknown): Promise<number> {
    const queue: { len: number; data: Promise<Buffer> }[] = [];
    let next = from;
    let pos = from;
    const fill = () => {
      while (queue.length < WINDOW && next < to) {
        const len = Math.min(CHUNK, to - next);
        const data = this.readAt(handle, path, next, len);
        // Requests behind a failed one fail too; they are awaited in order, not left unhandled.
        data.catch(() => undefined);
        queue.push({ len, data });
        next += len;
      }
    };
    fill();
    for (;;) {
      const head = queue.shift();
      if (!head) return pos;
      const chunk = await head.data;
      pos += chunk.length;
      if (chunk.length < head.len) {
        // The end of the file: what was asked beyond it is empty.
        await Promise.allSettled(queue.map((q) => q.data));
        if (chunk.length > 0) await each(chunk);
        return pos;
      }
      fill();
      await each(chunk);
    }
  }

  /** Writes `source` from `position` on through a window of parallel requests; resolves with the end position. */
  async push(
    handle: Buffer,
    path: string,
    position: number,
    source: AsyncIterable<Buffer> | Iterable<Buffer>,
    each: (chunk: Buffer) => void,
  ): Promise<number> {
    const inFlight = new Set<Promise<void>>();
    let failed: Error | undefined;
    let pos = position;
    const pieces = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
    try {
      for (;;) {
        // A source that stalls must not hold an aborted operation.
        const next = await this.unlessStopped(Promise.resolve(pieces.next()));
        if (next.done) break;
        for (let at = 0; at < next.value.length; at += CHUNK) {
          if (failed !== undefined) throw failed;
          const chunk = next.value.subarray(at, at + CHUNK);
          const w = this.writeAt(handle, path, pos, chunk).then(
            () => void inFlight.delete(w),
            (err: unknown) => {
              inFlight.delete(w);
              failed ??= asError(err);
            },
          );
          inFlight.add(w);
          pos += chunk.length;
          each(chunk);
          if (inFlight.size >= WINDOW) await Promise.race(inFlight);
        }
      }
    } catch (err) {
      // Lets the source release what it holds (a file handle); not awaited, it may be what stalled.
      void Promise.resolve(pieces.return?.()).catch(() => undefined);
      throw err;
    }
    await Promise.all(inFlight);
    if (failed !== undefined) throw failed;
    return pos;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function sftpStatus(err: Error): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** ssh2's "end of directory" and "end of file" answer. */
export function isEof(err: Error | null | undefined): boolean {
  return !!err && sftpStatus(err) === FX_EOF;
}

/**
 * The server refused a request with a status that has no code of its own (SSH_FX_FAILURE and the
 * like): OpenSSH maps most errno values, EEXIST and ENOSPC among them, to that one status.
 */
export class SftpRefused extends SshgateError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('internal', message, "the host's SFTP server refused it (a full disk, a read-only file system, a name too long…)");
  }
}

/** A request OpenSSH refused without saying why: for a no-clobber rename, the target exists. */
export function isPlainFailure(err: unknown): boolean {
  return err instanceof SftpRefused && err.status === FX_FAILURE;
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof SshgateError && err.code === 'not_found') return null;
    throw err;
  }
}

const TYPES: [number, RemoteType][] = [
  [0o100000, 'file'],
  [0o040000, 'directory'],
  [0o120000, 'symlink'],
  [0o010000, 'fifo'],
  [0o140000, 'socket'],
  [0o020000, 'char_device'],
  [0o060000, 'block_device'],
];

export function toRemoteStat(s: Stats): RemoteStat {
  const format = s.mode & 0o170000;
  return {
    type: TYPES.find(([bits]) => bits === format)?.[1] ?? 'unknown',
    size: s.size,
    mode: s.mode & 0o7777,
    uid: s.uid,
    gid: s.gid,
    mtime: s.mtime,
  };
}
