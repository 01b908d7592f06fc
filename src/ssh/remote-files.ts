import type { Hash } from 'node:crypto';
import { SshgateError } from '../errors.js';

/**
 * What the gateway may do to files on a host, over SFTP on a pooled connection: the contract
 * between src/ssh/sftp.ts (which implements it) and the file tools of src/gateway. Paths given
 * here are absolute and already judged by the policy; this layer refuses nothing by policy, only
 * what the file system says (and devices, FIFOs and sockets, which are never read or written).
 */

export type RemoteType = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'char_device' | 'block_device' | 'unknown';

export interface RemoteStat {
  type: RemoteType;
  size: number;
  /** Permission bits only (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
}

export interface DirEntry {
  name: string;
  /** lstat: a symlink is reported as one, never followed. */
  stat: RemoteStat;
}

export interface FileRead {
  /** fstat of the handle the bytes came from. */
  stat: RemoteStat;
  data: Buffer;
  /** sha256 (hex) of the whole file, when its size is at most `hashUpTo`; else null. */
  sha256: string | null;
}

export interface WriteOptions {
  /** Compare-and-swap: refuse (file_changed) unless the current file's sha256 is this. */
  expectedSha256?: string;
  /** Refuse (file_exists) if anything exists at the path; the rename does not replace. */
  createOnly?: boolean;
  /** Mode of a new file (default 0o644); a replaced file keeps its own mode. */
  mode?: number;
}

export interface FileVersion {
  sha256: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
}

/** Which tool a host hashed a file with, as a transfer's `verified_by` says it. */
export type HostHasher = 'openssl' | 'sha256sum';

export interface WriteOutcome {
  /** The file replaced; null when there was none. */
  before: FileVersion | null;
  after: FileVersion;
  /** Where the host itself checked the new file's sha256 before the rename (elevated): with what. */
  hashedBy?: HostHasher;
}

export interface TransferOptions {
  /**
   * Resume: bytes already at the destination. A download reads from here on; an upload continues
   * its partial file `.<name>.sshgate-partial` (kept by an upload that failed other than by an
   * abort), cut to this length.
   */
  offset?: number;
  /**
   * A sha256 already fed with the bytes before `offset` (the caller's copy of them); it is copied
   * and continued, so that the sha256 returned is of the whole file. Without it, those bytes are
   * read on the host and hashed, which verifies them but moves them over the network once more.
   */
  prefix?: Hash;
  /**
   * An upload's last word before the rename: called with the partial file (written, fsynced and
   * closed) and the sha256 of what was sent. A rejection refuses the upload: the partial file is
   * removed and nothing is renamed. An elevated upload does not call it (the login user may not
   * read its temp file): its script checks the temp file against `sha256` on the host itself.
   */
  verify?: (partial: string, sha256: string) => Promise<void>;
  /** An upload's whole-file sha256, known before the first byte: an elevated upload needs it. */
  sha256?: string;
  /** Called as bytes move (bytes so far, total). */
  onProgress?: (bytes: number, total: number) => void;
  /** Refuse (file_too_large) a file larger than this. */
  maxBytes: number;
}

export interface RemoteFiles {
  /** The canonical path (symlinks resolved); not_found when a component is missing. */
  realpath(path: string): Promise<string>;
  /** null when nothing is at the path. */
  lstat(path: string): Promise<RemoteStat | null>;
  stat(path: string): Promise<RemoteStat | null>;
  /** At most `max` entries (sorted by name), and how many there are. */
  list(path: string, max: number): Promise<{ entries: DirEntry[]; total: number }>;
  /**
   * `length` bytes from `offset` (both clamped to the end) of a regular file (not_a_file otherwise,
   * checked before the open, so a FIFO never blocks), never following a symlink at the last
   * component. The range and the hash come from one pass over the file; file_changed when the
   * file changed during that pass.
   */
  read(path: string, range: { offset: number; length: number }, hashUpTo: number): Promise<FileRead>;
  /**
   * Writes `data` to a temp file beside `path`, fsyncs it and renames it over `path` (never
   * following a symlink at the last component); the temp file is gone whatever happens.
   */
  write(path: string, data: Buffer, options: WriteOptions): Promise<WriteOutcome>;
  /**
   * Streams the remote file into `sink` from `offset` (awaited: a slow sink slows the transfer, it
   * does not fill memory); resolves with its size and whole-file sha256.
   */
  download(path: string, sink: (chunk: Buffer) => Promise<void>, options: TransferOptions): Promise<{ size: number; sha256: string }>;
  /**
   * Streams `source` (the bytes from `offset` on) to `path` through the partial file, then fsync
   * and rename as write does. `size` is the whole file's (offset + what `source` yields).
   */
  upload(path: string, source: AsyncIterable<Buffer>, size: number, options: TransferOptions & WriteOptions): Promise<WriteOutcome>;
  /**
   * The host's own sha256 of a regular file, where this side hashes on the host itself (elevated:
   * as the user the files are worked on as). Left out over SFTP, where the gateway has the host hash
   * it with a fixed command (gateway/host-hash.ts).
   */
  hostSha256?(path: string): Promise<{ sha256: string; by: HostHasher }>;
}

/** A file over the policy's max_file_bytes, found on the host (a transfer's or a read's). */
export function fileTooLarge(alias: string, path: string, size: number, max: number): SshgateError {
  return new SshgateError(
    'file_too_large',
    `${path} has ${size} bytes, more than the ${max} allowed for host "${alias}"`,
    'raise max_file_bytes for this host or rule in the policy, if it should be allowed',
  );
}
