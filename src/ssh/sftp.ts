/**
 * RemoteFiles over one SFTP channel (remote-files.ts has the contract). Writes never touch the
 * file in place: the bytes go to a temp file beside it (same directory, so the rename stays on
 * one file system), which is fsynced, given the mode (and where allowed the owner) of the file it
 * replaces, and renamed over it; a reader sees the old file or the new one, never a mix.
 *
 * Temp files: `write` uses `.<name>.sshgate-<16 hex>.tmp`, created exclusively (O_EXCL, so no
 * symlink or earlier file is ever followed or reused) and removed on every failure. `upload` uses
 * the one name `.<name>.sshgate-partial` (partialUploadPath), so that a transfer that broke can
 * be resumed at an offset: it is removed when the upload is cancelled (or stopped by the shutdown)
 * and when the caller's verification refuses it, and kept after any other failure (the time limit,
 * a dropped connection, a source that failed, a refusal at the end), at most one per destination;
 * an upload from offset 0 replaces it. Two uploads to one path at once are not supported: the
 * caller serialises them.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { posix } from 'node:path';
import type { Client, FileEntryWithStats, SFTPWrapper } from 'ssh2';
import { SshgateError } from '../errors.js';
import { ChannelRefused, NotConnected } from './exec.js';
import {
  fileTooLarge,
  type DirEntry,
  type FileRead,
  type FileVersion,
  type RemoteFiles,
  type RemoteStat,
  type TransferOptions,
  type WriteOptions,
  type WriteOutcome,
} from './remote-files.js';
import { CLEANUP_MS, FileOpStopped, isEof, isPlainFailure, SftpCalls, toRemoteStat } from './sftp-io.js';

/** How long a rename that was sent is waited for, cancel or not: one round trip on a slow link, and then some. */
const RENAME_ANSWER_MS = 10_000;
/** A file name's most bytes (NAME_MAX on Linux and the BSDs), and what a temp name adds to it. */
const MAX_NAME_BYTES = 255;
const TEMP_NAME_EXTRA = '..sshgate-0123456789abcdef.tmp'.length;

/**
 * Opens the SFTP subsystem on a connection. Like execOnConnection, it throws NotConnected when
 * the connection had already ended and ChannelRefused when the server would open no further
 * channel, so that the pool can try another connection.
 */
export function openSftp(client: Client, alias: string, signal: AbortSignal): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new FileOpStopped(alias, signal.reason));
    let settled = false;
    const onAbort = () => {
      settled = true;
      reject(new FileOpStopped(alias, signal.reason));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      client.sftp((err, sftp) => {
        signal.removeEventListener('abort', onAbort);
        // A channel that opens after its caller gave up is closed at once.
        if (settled) return void (err ? undefined : sftp.end());
        settled = true;
        if (!err) return resolve(sftp);
        if ('reason' in err) return reject(new ChannelRefused(err.message, 'open an SFTP channel'));
        reject(
          new SshgateError(
            'connect_failed',
            `host "${alias}" did not start its SFTP server (${err.message})`,
            'enable it in the host\'s sshd_config: "Subsystem sftp internal-sftp" (or the path of sftp-server)',
          ),
        );
      });
    } catch {
      signal.removeEventListener('abort', onAbort);
      settled = true;
      reject(new NotConnected());
    }
  });
}

/** Closes the channel and waits (bounded) until the server has closed it too, so that it no longer counts as a session. */
export async function closeSftp(sftp: SFTPWrapper): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    sftp.once('close', resolve);
    setTimeout(resolve, CLEANUP_MS).unref();
  });
  try {
    sftp.end();
  } catch {
    return;
  }
  await closed;
}

interface FirstLook {
  /** The file to be replaced, as lstat saw it before the bytes were sent. */
  existing: RemoteStat | null;
}

export class SftpFiles implements RemoteFiles {
  private readonly io: SftpCalls;

  constructor(sftp: SFTPWrapper, alias: string, signal: AbortSignal) {
    this.io = new SftpCalls(sftp, alias, signal);
  }

  private get alias(): string {
    return this.io.alias;
  }

  realpath(path: string): Promise<string> {
    return this.io.call<string>('resolve', path, (d) => this.io.sftp.realpath(path, d));
  }

  lstat(path: string): Promise<RemoteStat | null> {
    return this.io.lstat(path);
  }

  stat(path: string): Promise<RemoteStat | null> {
    return this.io.stat(path);
  }

  async list(path: string, max: number): Promise<{ entries: DirEntry[]; total: number }> {
    const dir = await this.io.stat(path);
    if (!dir) throw this.missing(path);
    if (dir.type !== 'directory')
      throw new SshgateError(
        'invalid_input',
        `${path} on host "${this.alias}" is a ${dir.type}, not a directory`,
        'read a file with ssh_read_file',
      );
    const handle = await this.io.call<Buffer>('list', path, (d) => this.io.sftp.opendir(path, d));
    const entries: DirEntry[] = [];
    try {
      // The server answers in batches (OpenSSH: 100 names each) until it reports the end.
      for (;;) {
        const batch = await this.io.call<FileEntryWithStats[] | null>('list', path, (d) =>
          this.io.sftp.readdir(handle, (err, list) => (isEof(err) ? d(null, null) : d(err, list))),
        );
        if (!batch) break;
        for (const e of batch)
          if (e.filename !== '.' && e.filename !== '..') entries.push({ name: e.filename, stat: toRemoteStat(e.attrs) });
      }
    } finally {
      await this.closeQuietly(handle, path);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { entries: entries.slice(0, Math.max(0, max)), total: entries.length };
  }

  async read(path: string, range: { offset: number; length: number }, hashUpTo: number): Promise<FileRead> {
    const handle = await this.openRegular(path);
    try {
      const stat = await this.io.fstat(handle, path);
      this.refuseUnlessFile(path, stat);
      const from = Math.min(range.offset, stat.size);
      const to = Math.min(from + range.length, stat.size);
      if (stat.size > hashUpTo) {
        const parts: Buffer[] = [];
        await this.io.pull(handle, path, from, to, (c) => parts.push(c));
        return { stat, data: Buffer.concat(parts), sha256: null };
      }
      // One pass: the range is cut from the same bytes that are hashed, so the two agree.
      const parts: Buffer[] = [];
      const sha256 = await this.hashOpen(handle, path, stat, 0, createHash('sha256'), (chunk, at) => {
        const lo = Math.max(from, at);
        const hi = Math.min(to, at + chunk.length);
        if (lo < hi) parts.push(chunk.subarray(lo - at, hi - at));
      });
      return { stat, data: Buffer.concat(parts), sha256 };
    } finally {
      await this.closeQuietly(handle, path);
    }
  }

  async write(path: string, data: Buffer, options: WriteOptions): Promise<WriteOutcome> {
    const { dir, name } = place(path);
    const first = await this.look(path, dir, options);
    const temp = posix.join(dir, `.${shortName(name)}.sshgate-${randomBytes(8).toString('hex')}.tmp`);
    const handle = await this.created(temp, this.io.open(temp, 'wx', 0o600));
    return this.commit(path, temp, handle, options, first, true, async () => {
      await this.io.push(handle, temp, 0, [data], () => undefined);
      return { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
    });
  }

  async download(
    path: string,
    sink: (chunk: Buffer) => Promise<void>,
    options: TransferOptions,
  ): Promise<{ size: number; sha256: string }> {
    const handle = await this.openRegular(path);
    try {
      const stat = await this.io.fstat(handle, path);
      this.refuseUnlessFile(path, stat);
      if (stat.size > options.maxBytes) throw this.tooLarge(path, stat.size, options.maxBytes);
      const offset = options.offset ?? 0;
      if (offset > stat.size)
        throw new SshgateError(
          'invalid_input',
          `cannot resume the download of ${path} at byte ${offset}: the file on host "${this.alias}" has ${stat.size} bytes`,
          'the file changed since the transfer began; download it again from offset 0',
        );
      const hash = await this.prefixHash(handle, path, offset, options.prefix);
      const sha256 = await this.hashOpen(handle, path, stat, offset, hash, async (chunk, at) => {
        await sink(chunk);
        options.onProgress?.(at + chunk.length, stat.size);
      });
      return { size: stat.size, sha256 };
    } finally {
      await this.closeQuietly(handle, path);
    }
  }

  async upload(path: string, source: AsyncIterable<Buffer>, size: number, options: TransferOptions & WriteOptions): Promise<WriteOutcome> {
    if (size > options.maxBytes) throw this.tooLarge(path, size, options.maxBytes);
    const offset = options.offset ?? 0;
    const { dir } = place(path);
    const first = await this.look(path, dir, options);
    const partial = partialUploadPath(path);
    const handle = await this.created(partial, this.openPartial(partial, offset));
    return this.commit(
      path,
      partial,
      handle,
      options,
      first,
      false,
      async () => {
        const hash = await this.resumeAt(handle, partial, offset, options.prefix);
        let sent = offset;
        const end = await this.io.push(handle, partial, offset, source, (chunk) => {
          hash.update(chunk);
          sent += chunk.length;
          options.onProgress?.(sent, size);
        });
        if (end !== size)
          throw new SshgateError(
            'invalid_input',
            `the upload to ${path} brought ${end} bytes where ${size} were announced`,
            'the local file changed during the transfer; upload it again',
          );
        return { size: end, sha256: hash.digest('hex') };
      },
      options.verify,
    );
  }

  /**
   * Before any byte is sent: the directory exists, nothing but a regular file is at the path,
   * create_only finds nothing there, and the compare-and-swap hash matches (a refusal now saves
   * the transfer; the same checks run again just before the rename).
   */
  private async look(path: string, dir: string, options: WriteOptions): Promise<FirstLook> {
    const parent = await this.io.stat(dir);
    if (parent?.type !== 'directory')
      throw new SshgateError(
        'not_found',
        `the directory ${dir} does not exist on host "${this.alias}"`,
        'create it first, or check the path',
      );
    if (!options.createOnly && !this.io.offers('posix-rename@openssh.com'))
      throw new SshgateError(
        'internal',
        `the SFTP server of host "${this.alias}" does not offer posix-rename@openssh.com, so a file cannot be replaced atomically`,
        "use OpenSSH's sftp-server or internal-sftp on the host, or write new files only (create_only)",
      );
    const existing = await this.io.lstat(path);
    this.refuseTarget(path, existing, options);
    if (existing && options.expectedSha256 !== undefined) await this.versionOf(path, existing, options);
    return { existing };
  }

  /** What is at the path just before the rename: the file replaced (hashed), or null. */
  private async recheck(path: string, options: WriteOptions): Promise<FileVersion | null> {
    const now = await this.io.lstat(path);
    this.refuseTarget(path, now, options);
    return now ? this.versionOf(path, now, options) : null;
  }

  private refuseTarget(path: string, existing: RemoteStat | null, options: WriteOptions): void {
    if (existing?.type === 'symlink')
      throw new SshgateError(
        'not_a_file',
        `${path} on host "${this.alias}" is a symlink, and writes never follow a symlink`,
        'write to the path it resolves to',
      );
    if (existing && existing.type !== 'file') throw this.notAFile(path, existing);
    if (existing && options.createOnly) throw this.exists(path);
    if (!existing && options.expectedSha256 !== undefined) throw this.changed(path, options.expectedSha256, null);
  }

  /** The current file's version; file_changed when it is not the one the caller expects. */
  private async versionOf(path: string, stat: RemoteStat, options: WriteOptions): Promise<FileVersion> {
    const handle = await this.io.open(path, 'r');
    let sha256: string;
    try {
      sha256 = await this.hashOpen(handle, path, stat, 0, createHash('sha256'), () => undefined);
    } finally {
      await this.closeQuietly(handle, path);
    }
    if (options.expectedSha256 !== undefined && options.expectedSha256 !== sha256) throw this.changed(path, options.expectedSha256, sha256);
    return { sha256, size: stat.size, mode: stat.mode, uid: stat.uid, gid: stat.gid };
  }

  /**
   * Fills the temp file, gives it its final mode and owner, fsyncs it, lets `verify` judge it,
   * checks the target once more and renames the temp over it. On a failure the temp file is
   * removed: always when `alwaysRemove` or when `verify` refused it, else when the operation was
   * cancelled or stopped by the shutdown (a time limit keeps it for a resume; see the top of this file).
   */
  private async commit(
    path: string,
    temp: string,
    handle: Buffer,
    options: WriteOptions,
    first: FirstLook,
    alwaysRemove: boolean,
    fill: () => Promise<{ size: number; sha256: string }>,
    verify?: TransferOptions['verify'],
  ): Promise<WriteOutcome> {
    let open = true;
    let refused = false;
    try {
      const { sha256 } = await fill();
      await this.settle(handle, temp, first.existing, options);
      const stat = await this.io.fstat(handle, temp);
      open = false;
      await this.io.close(handle, temp);
      if (verify) {
        refused = true;
        await verify(temp, sha256);
        refused = false;
      }
      // As late as possible: the window in which another writer can slip in is this check and the rename.
      const before = await this.recheck(path, options);
      await this.rename(temp, path, options);
      return { before, after: { sha256, size: stat.size, mode: stat.mode, uid: stat.uid, gid: stat.gid } };
    } catch (err) {
      const stopped = err instanceof FileOpStopped && err.reason !== 'timed_out';
      if (alwaysRemove || refused || stopped) await this.discard(open ? handle : null, temp);
      else if (open) await this.closeQuietly(handle, temp);
      throw err;
    }
  }

  /** The replaced file's owner (where the login user may give it) and mode, then fsync. */
  private async settle(handle: Buffer, temp: string, existing: RemoteStat | null, options: WriteOptions): Promise<void> {
    const sftp = this.io.sftp;
    if (existing) {
      const mine = await this.io.fstat(handle, temp);
      if (mine.uid !== existing.uid || mine.gid !== existing.gid) {
        // chown to another user needs root; keeping at least the group often works.
        const tries = [
          { uid: existing.uid, gid: existing.gid },
          { uid: mine.uid, gid: existing.gid },
        ];
        for (const owner of tries) {
          const ok = await this.io
            .call<void>('chown', temp, (d) => sftp.fsetstat(handle, owner, d))
            .then(
              () => true,
              (err: unknown) => {
                if (err instanceof FileOpStopped) throw err;
                return false;
              },
            );
          if (ok) break;
        }
      }
    }
    // After the chown, which clears set-id bits.
    const mode = existing?.mode ?? options.mode ?? 0o644;
    await this.io.call<void>('chmod', temp, (d) => sftp.fsetstat(handle, { mode }, d));
    if (this.io.offers('fsync@openssh.com')) await this.io.call<unknown>('fsync', temp, (d) => sftp.ext_openssh_fsync(handle, d));
  }

  /**
   * Once sent, a rename is carried out by the server whatever happens here: a cancel or the time
   * limit no longer stops it, its answer is awaited (bounded), so that a write that landed is
   * reported (and audited) as done, never as "nothing changed".
   */
  private async rename(temp: string, path: string, options: WriteOptions): Promise<void> {
    const sftp = this.io.sftp;
    const answer = AbortSignal.timeout(RENAME_ANSWER_MS);
    try {
      if (!options.createOnly) {
        await this.io.call<void>('replace', path, (d) => sftp.ext_openssh_rename(temp, path, d), answer);
        return;
      }
      // OpenSSH's plain rename is link() then unlink(): it never replaces, so create_only holds
      // even against a file created after the last check.
      try {
        await this.io.call<void>('create', path, (d) => sftp.rename(temp, path, d), answer);
      } catch (err) {
        if (isPlainFailure(err) && (await this.io.lstat(path, AbortSignal.timeout(CLEANUP_MS))) !== null) throw this.exists(path);
        throw err;
      }
    } catch (err) {
      if (!(err instanceof FileOpStopped)) throw err;
      throw new SshgateError(
        'lost',
        `the rename that puts ${path} in place on host "${this.alias}" was sent but not answered: the file may or may not have been replaced`,
        'read the file (ssh_read_file) to see which version it holds before writing again',
      );
    }
  }

  /**
   * The handle of a temp file being created. An abort rejects the open at once, but the server
   * may still create the file: then it is removed (the handle that comes late closes with the channel).
   */
  private async created(temp: string, opening: Promise<Buffer>): Promise<Buffer> {
    try {
      return await opening;
    } catch (err) {
      if (err instanceof FileOpStopped) await this.discard(null, temp);
      throw err;
    }
  }

  /**
   * The upload's partial file. From offset 0 any earlier partial is removed and a new one created
   * exclusively (never through a symlink); to resume, the existing one must be a regular file.
   */
  private async openPartial(partial: string, offset: number): Promise<Buffer> {
    const old = await this.io.lstat(partial);
    if (offset === 0) {
      if (old) await this.io.call<void>('remove', partial, (d) => this.io.sftp.unlink(partial, d));
      return this.io.open(partial, 'wx', 0o600);
    }
    if (!old)
      throw new SshgateError(
        'not_found',
        `there is no partial upload ${partial} on host "${this.alias}" to resume`,
        'upload the file again from offset 0',
      );
    if (old.type !== 'file') throw this.notAFile(partial, old);
    return this.io.open(partial, 'r+');
  }

  /** Cuts the partial file to `offset` and hashes what stays (unless the caller hashed it). */
  private async resumeAt(handle: Buffer, partial: string, offset: number, prefix: Hash | undefined): Promise<Hash> {
    if (offset === 0) return createHash('sha256');
    const stat = await this.io.fstat(handle, partial);
    if (stat.type !== 'file') throw this.notAFile(partial, stat);
    if (stat.size < offset)
      throw new SshgateError(
        'invalid_input',
        `cannot resume at byte ${offset}: the partial upload ${partial} on host "${this.alias}" holds ${stat.size} bytes`,
        `resume at offset ${stat.size} or lower`,
      );
    await this.io.call<void>('truncate', partial, (d) => this.io.sftp.fsetstat(handle, { size: offset }, d));
    return this.prefixHash(handle, partial, offset, prefix);
  }

  /**
   * The hash of the bytes before `offset`: the caller's (it holds the same bytes at its end, and
   * they need not cross the network again), else read from the host and hashed here.
   */
  private async prefixHash(handle: Buffer, path: string, offset: number, prefix: Hash | undefined): Promise<Hash> {
    if (prefix) return prefix.copy();
    const hash = createHash('sha256');
    if (offset > 0) await this.io.pull(handle, path, 0, offset, (c) => hash.update(c));
    return hash;
  }

  /**
   * Reads an open file from `from` to its end into `hash` (handing each chunk and its position to
   * `each`) and returns the digest; file_changed when the file grew, shrank or was touched while
   * it was read, since then the hash is of no version of it.
   */
  private async hashOpen(
    handle: Buffer,
    path: string,
    stat: RemoteStat,
    from: number,
    hash: Hash,
    each: (chunk: Buffer, at: number) => unknown,
  ): Promise<string> {
    let at = from;
    // One byte past the size: a file that grew shows it.
    const end = await this.io.pull(handle, path, from, stat.size + 1, async (chunk) => {
      hash.update(chunk);
      await each(chunk, at);
      at += chunk.length;
    });
    const after = await this.io.fstat(handle, path);
    if (end !== stat.size || after.size !== stat.size || after.mtime !== stat.mtime)
      throw new SshgateError(
        'file_changed',
        `${path} on host "${this.alias}" changed while it was being read`,
        'something is writing to it; try again when it is quiet',
      );
    return hash.digest('hex');
  }

  /** Opens a regular file for reading; lstat first, since opening a FIFO would block. */
  private async openRegular(path: string): Promise<Buffer> {
    const stat = await this.io.lstat(path);
    if (!stat) throw this.missing(path);
    this.refuseUnlessFile(path, stat);
    return this.io.open(path, 'r');
  }

  private refuseUnlessFile(path: string, stat: RemoteStat): void {
    if (stat.type !== 'file') throw this.notAFile(path, stat);
  }

  /** Close and remove after a failure, on the same channel, bounded even when the operation was aborted. */
  private async discard(handle: Buffer | null, temp: string): Promise<void> {
    const signal = AbortSignal.timeout(CLEANUP_MS);
    const sftp = this.io.sftp;
    // Sent together: the server handles them in order, the close before the remove.
    await Promise.allSettled([
      handle ? this.io.close(handle, temp, signal) : undefined,
      this.io.call<void>('remove', temp, (d) => sftp.unlink(temp, d), signal),
    ]);
  }

  private async closeQuietly(handle: Buffer, path: string): Promise<void> {
    await this.io.close(handle, path, AbortSignal.timeout(CLEANUP_MS)).catch(() => undefined);
  }

  private missing(path: string): SshgateError {
    return new SshgateError(
      'not_found',
      `${path} does not exist on host "${this.alias}"`,
      'check the path; list its directory with ssh_list_dir',
    );
  }

  private notAFile(path: string, stat: RemoteStat): SshgateError {
    return new SshgateError(
      'not_a_file',
      `${path} on host "${this.alias}" is a ${stat.type.replace('_', ' ')}, not a regular file`,
      'only regular files are read and written; devices, FIFOs and sockets never are',
    );
  }

  private exists(path: string): SshgateError {
    return new SshgateError('file_exists', `${path} already exists on host "${this.alias}"`, 'leave out create_only to replace it');
  }

  private changed(path: string, expected: string, actual: string | null): SshgateError {
    return new SshgateError(
      'file_changed',
      actual === null
        ? `${path} on host "${this.alias}" no longer exists (expected sha256 ${expected.slice(0, 12)}…)`
        : `${path} on host "${this.alias}" changed: its sha256 is ${actual.slice(0, 12)}…, not the expected ${expected.slice(0, 12)}…`,
      'read the file again and base the change on what it holds now',
    );
  }

  private tooLarge(path: string, size: number, max: number): SshgateError {
    return fileTooLarge(this.alias, path, size, max);
  }
}

/**
 * The file's name as its temp file's name holds it: whole when the temp name stays within the
 * 255 bytes a file name may have, else its first bytes and a hash of it, so that a long but valid
 * name can still be written (and its partial upload still found again by the same name).
 */
export function shortName(name: string): string {
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES - TEMP_NAME_EXTRA) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 16);
  let head = name.slice(0, 64);
  // Never cut inside a character: a lone surrogate would be written as U+FFFD.
  if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  return `${head}~${hash}`;
}

/** Where an upload to `path` collects its bytes until the rename: `.<name>.sshgate-partial` beside it. */
export function partialUploadPath(path: string): string {
  return posix.join(posix.dirname(path), `.${shortName(posix.basename(path))}.sshgate-partial`);
}

function place(path: string): { dir: string; name: string } {
  if (!path.startsWith('/') || path === '/')
    throw new SshgateError('invalid_input', `"${path}" is not an absolute path to a file`, 'give the full path, starting with /');
  return { dir: posix.dirname(path), name: posix.basename(path) };
}
