/**
 * The server's side of a transfer: files in the transfer root, named by a path relative to it.
 * No symlink is followed anywhere below the root — every existing component is lstat'd and the
 * file is opened with O_NOFOLLOW — and a download lands in `<local>.sshgate-partial`, created
 * exclusively, until it is verified and renamed. The root itself was checked at start
 * (transfer-root.ts): owned by sshgate's user and closed to everyone else, so no other user can
 * swap a directory for a symlink between the checks and the open.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants, mkdirSync, type Stats } from 'node:fs';
import { link, lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pathSpellingProblem } from '../config/file-formats.js';
import { SshgateError } from '../errors.js';
import type { Principal } from '../principal.js';

/** The suffix of a download not yet verified; a `local` may not end with it. */
export const LOCAL_PARTIAL_SUFFIX = '.sshgate-partial';
/** Bytes read from a local file at a time. */
const READ_CHUNK = 256 * 1024;

const SPELLING_HINT = 'give a path relative to the transfer root, spelt plainly: no "..", ".", "//", leading or trailing "/"';

/** Why `local` is not a plainly spelt path relative to the root; undefined when it is. */
export function localPathProblem(local: string): { reason: string; hint: string } | undefined {
  const shown = JSON.stringify(local.length > 200 ? `${local.slice(0, 200)}…` : local);
  if (local === '') return { reason: 'the local path is empty', hint: SPELLING_HINT };
  if (local.startsWith('/')) return { reason: `the local path ${shown} is absolute`, hint: SPELLING_HINT };
  // The remote paths' rules, applied as if the root were "/": the same refusals, one helper.
  const p = pathSpellingProblem(`/${local}`);
  if (p) return { reason: `the local path ${shown} ${p.problem}`, hint: SPELLING_HINT };
  if (local.endsWith(LOCAL_PARTIAL_SUFFIX))
    return {
      reason: `the local path ${shown} ends with ${LOCAL_PARTIAL_SUFFIX}, which sshgate keeps for downloads in progress`,
      hint: 'choose another name',
    };
  return undefined;
}

/** A local file's path, checked: below the root, its directories real directories, no symlink on the way. */
export interface LocalPlace {
  local: string;
  path: string;
  /** What is at the path (lstat), or null. */
  existing: Stats | null;
}

export class TransferRoot {
  constructor(readonly dir: string) {}

  /**
   * The part of the root a caller works in. Over stdio there is one principal, and the root is
   * theirs. Over HTTP each principal has a directory of its own under it (made 0700 on first use):
   * a shared one would hand what one caller may read to another who may not, and let one replace
   * what another downloaded before it is uploaded.
   */
  static of(root: string, principal: Principal | undefined): TransferRoot {
    if (!principal || principal.via === 'os-user' || principal.via === 'command-line') return new TransferRoot(root);
    const dir = join(root, principalDir(principal.name));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new TransferRoot(dir);
  }

  /**
   * Checks `local` and every directory on the way to it; the directories must exist (sshgate
   * creates none in the root). Refuses a symlink at any component, the last included.
   */
  async place(local: string): Promise<LocalPlace> {
    const problem = localPathProblem(local);
    if (problem) throw new SshgateError('invalid_input', problem.reason, problem.hint);
    const parts = local.split('/');
    let at = this.dir;
    for (const [i, part] of parts.entries()) {
      at = join(at, part);
      const last = i === parts.length - 1;
      const st = await lstatOrNull(at).catch((err: NodeJS.ErrnoException) => Promise.reject(localFailure(err, local)));
      if (st?.isSymbolicLink()) throw symlink(parts.slice(0, i + 1).join('/'));
      if (last) return { local, path: at, existing: st };
      if (!st)
        throw new SshgateError(
          'not_found',
          `the directory ${parts.slice(0, i + 1).join('/')} does not exist in the transfer root`,
          'create it in the transfer root first: sshgate creates no directories there',
        );
      if (!st.isDirectory())
        throw new SshgateError(
          'invalid_input',
          `${parts.slice(0, i + 1).join('/')} in the transfer root is not a directory`,
          SPELLING_HINT,
        );
    }
    throw new SshgateError('internal', 'a local path without components', 'see the server log');
  }

  /** Opens a regular file to upload (O_NOFOLLOW), with its size. */
  async openSource(place: LocalPlace): Promise<{ handle: FileHandle; stat: Stats }> {
    if (!place.existing)
      throw new SshgateError(
        'not_found',
        `${place.local} does not exist in the transfer root`,
        'put the file there first, or check the name',
      );
    const handle = await openLocal(place, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw new SshgateError(
        'not_a_file',
        `${place.local} in the transfer root is not a regular file`,
        'only regular files are transferred',
      );
    }
    return { handle, stat };
  }

  /**
   * The partial file a download writes: with `resume`, the one an interrupted download left (its
   * size is the offset, its bytes hashed here); otherwise a fresh one, created exclusively, an
   * old one removed first.
   */
  async openPartial(place: LocalPlace, resume: boolean): Promise<{ handle: FileHandle; partial: string; offset: number; hash: Hash }> {
    const partial = place.path + LOCAL_PARTIAL_SUFFIX;
    const old = await lstatOrNull(partial);
    if (resume && old?.isFile()) {
      const handle = await openLocal(place, constants.O_RDWR | constants.O_NOFOLLOW, partial);
      try {
        const hash = createHash('sha256');
        const offset = await hashPrefix(handle, Infinity, hash);
        return { handle, partial, offset, hash };
      } catch (err) {
        await handle.close();
        throw err;
      }
    }
    // A symlink is removed, never followed; anything else (a directory) is refused by the unlink.
    if (old)
      await unlink(partial).catch((err: NodeJS.ErrnoException) =>
        Promise.reject(localFailure(err, `${place.local}${LOCAL_PARTIAL_SUFFIX}`)),
      );
    const handle = await openLocal(place, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, partial, 0o600);
    return { handle, partial, offset: 0, hash: createHash('sha256') };
  }

  /**
   * Puts a verified download in place: over an existing file only with `overwrite` (rename), else
   * with link() then unlink(), which never replaces a file that appeared meanwhile.
   */
  async commit(place: LocalPlace, partial: string, overwrite: boolean): Promise<void> {
    try {
      if (overwrite) return await rename(partial, place.path);
      await link(partial, place.path);
      await unlink(partial);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw localExists(place.local);
      throw localFailure(err as NodeJS.ErrnoException, place.local);
    }
  }
}

/**
 * The sha256 of the first `upTo` bytes of an open file (all of it with Infinity); resolves with
 * how many it read. A `signal` that fires stops it (a cancel while a large file is hashed).
 */
export async function hashPrefix(handle: FileHandle, upTo: number, hash: Hash, signal?: AbortSignal): Promise<number> {
  let at = 0;
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  while (at < upTo) {
    signal?.throwIfAborted();
    const { bytesRead } = await handle.read(buf, 0, Math.min(READ_CHUNK, upTo - at), at);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  return at;
}

/** An open file's bytes from `from` to `to`, in chunks, each handed to `each` before it is yielded. */
export async function* readRange(handle: FileHandle, from: number, to: number, each: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  let at = from;
  while (at < to) {
    // A fresh buffer per chunk: the SFTP writes in flight still hold the ones yielded before.
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, to - at));
    const { bytesRead } = await handle.read(buf, 0, buf.length, at);
    if (bytesRead === 0) return;
    const chunk = buf.subarray(0, bytesRead);
    each(chunk);
    at += bytesRead;
    yield chunk;
  }
}

/** Bytes gathered before one positional write: a write per 64 KiB SFTP chunk cost a thread-pool round trip each. */
const WRITE_BATCH = 1024 * 1024;

/**
 * Writes chunks one after another from `at` on, gathered into one writev of about WRITE_BATCH (the
 * chunks are not copied: the caller hands over buffers it no longer uses); `flush` writes the rest.
 * A write that stops short (a full disk) is an error, never a file with a hole where the hashed
 * bytes should be.
 */
export function batchedWriter(handle: FileHandle, at: number): { write(chunk: Buffer): Promise<void> | undefined; flush(): Promise<void> } {
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async () => {
    if (batched === 0) return;
    const buffers = batch;
    const length = batched;
    batch = [];
    batched = 0;
    const { bytesWritten } = await handle.writev(buffers, at);
    if (bytesWritten !== length)
      throw new SshgateError(
        'internal',
        `a write to the local file stopped after ${bytesWritten} of ${length} bytes`,
        'check the free space where the transfer root is, then call again with resume: true',
      );
    at += length;
  };
  return {
    write(chunk) {
      batch.push(chunk);
      batched += chunk.length;
      return batched >= WRITE_BATCH ? flush() : undefined;
    },
    flush,
  };
}

export function localExists(local: string): SshgateError {
  return new SshgateError(
    'file_exists',
    `${local} already exists in the transfer root`,
    'give overwrite: true to replace it, or another local name',
  );
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function openLocal(place: LocalPlace, flags: number, path = place.path, mode?: number): Promise<FileHandle> {
  try {
    return await open(path, flags, mode);
  } catch (err) {
    throw localFailure(err as NodeJS.ErrnoException, path === place.path ? place.local : `${place.local}${LOCAL_PARTIAL_SUFFIX}`);
  }
}

function symlink(local: string): SshgateError {
  return new SshgateError(
    'forbidden',
    `${local} in the transfer root is a symlink, and sshgate follows no symlink there`,
    'put the file itself in the transfer root, not a link to it',
  );
}

function localFailure(err: NodeJS.ErrnoException, local: string): SshgateError {
  switch (err.code) {
    case 'ELOOP':
      return symlink(local);
    case 'ENOENT':
      return new SshgateError('not_found', `${local} does not exist in the transfer root`, 'check the name');
    case 'EEXIST':
      return localExists(local);
    case 'EACCES':
    case 'EPERM':
      return new SshgateError('permission_denied', `permission denied to ${local} in the transfer root`, "check the file's owner and mode");
    case 'EISDIR':
      return new SshgateError('not_a_file', `${local} in the transfer root is a directory`, 'only regular files are transferred');
    case 'ENAMETOOLONG':
      return new SshgateError(
        'invalid_input',
        `the local path ${local.length > 200 ? `${local.slice(0, 200)}…` : local} has a name too long for the file system`,
        'give names of at most 255 bytes',
      );
    default:
      return new SshgateError('internal', `${local} in the transfer root: ${err.code ?? err.message}`, 'see the server log');
  }
}

/**
 * A principal's directory name: the name itself where it is a plain file name, else a hash of it
 * (a name with "/" or one that starts with "." never becomes a path of its own).
 */
export function principalDir(name: string): string {
  return /^[A-Za-z0-9_][A-Za-z0-9._@-]{0,99}$/.test(name) ? name : `~${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}
