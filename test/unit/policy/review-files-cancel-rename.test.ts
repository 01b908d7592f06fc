/**
 * Review 17 (adversarial): a write cancelled (or timed out) while its rename is in flight.
 * SftpFiles rejects every waiting request at once when the operation's signal fires, and then
 * "discards" the temp file — but the rename request has already been sent and the server carries it
 * out. The write lands, the tool says "nothing was changed on the host", and FileOps never writes
 * the file_write audit record. Driven here against a fake SFTP channel on the local file system
 * whose rename takes effect at once but answers late (a slow link: the answer is one RTT away).
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
  writeFileSync,
  fchmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SFTPWrapper } from 'ssh2';
import { SftpFiles } from '../../../src/ssh/sftp.js';

type Cb = (err: Error | null, value?: unknown) => void;

function sftpError(e: NodeJS.ErrnoException): Error {
  const err = new Error(e.message) as Error & { code: number };
  err.code = e.code === 'ENOENT' ? 2 : e.code === 'EACCES' ? 3 : 4;
  return err;
}

function attrs(s: { mode: number; size: number; uid: number; gid: number; mtimeMs: number }) {
  return { mode: s.mode, size: s.size, uid: s.uid, gid: s.gid, mtime: Math.floor(s.mtimeMs / 1000), atime: 0 };
}

/** Just enough of SFTPWrapper for SftpFiles.write, on the local file system. */
function fakeSftp(renameAnswerMs: number, onRename: () => void): SFTPWrapper {
  const fds = new Map<string, number>();
  let next = 0;
  const fd = (h: Buffer) => fds.get(h.toString('hex')) as number;
  const guard = (cb: Cb, f: () => unknown) => {
    setImmediate(() => {
      let v: unknown;
      try {
        v = f();
      } catch (e) {
        return cb(sftpError(e as NodeJS.ErrnoException));
      }
      cb(null, v);
    });
  };
  const fake = {
    _extensions: { 'posix-rename@openssh.com': '1' },
    stat: (p: string, cb: Cb) => guard(cb, () => attrs(statSync(p))),
    lstat: (p: string, cb: Cb) => guard(cb, () => attrs(lstatSync(p))),
    fstat: (h: Buffer, cb: Cb) => guard(cb, () => attrs(fstatSync(fd(h)))),
    open: (p: string, flags: string, a: unknown, b?: unknown) => {
      const cb = (typeof a === 'function' ? a : b) as Cb;
      const mode = typeof a === 'object' && a ? (a as { mode: number }).mode : 0o644;
      guard(cb, () => {
        const h = Buffer.alloc(4);
        h.writeUInt32BE(next++);
        fds.set(h.toString('hex'), openSync(p, flags, mode));
        return h;
      });
    },
    write: (h: Buffer, data: Buffer, off: number, len: number, pos: number, cb: Cb) =>
      guard(cb, () => void writeSync(fd(h), data, off, len, pos)),
    fsetstat: (h: Buffer, a: { mode?: number }, cb: Cb) => guard(cb, () => (a.mode !== undefined ? fchmodSync(fd(h), a.mode) : undefined)),
    close: (h: Buffer, cb: Cb) => guard(cb, () => closeSync(fd(h))),
    unlink: (p: string, cb: Cb) => guard(cb, () => unlinkSync(p)),
    read: (h: Buffer, buf: Buffer, off: number, len: number, pos: number, cb: Cb) => guard(cb, () => readSync(fd(h), buf, off, len, pos)),
    ext_openssh_rename: (from: string, to: string, cb: Cb) => {
      // The server renames at once; its answer takes a while to come back.
      renameSync(from, to);
      onRename();
      setTimeout(() => cb(null), renameAnswerMs);
    },
  };
  return fake as unknown as SFTPWrapper;
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('review 17: cancel during the rename', () => {
  it('a write cancelled while its rename is in flight does not report "nothing changed" when the file did change', async () => {
    dir = mkdtempSync(join(tmpdir(), 'r17-rename-'));
    const path = join(dir, 'app.conf');
    writeFileSync(path, 'old\n');
    const ac = new AbortController();
    const files = new SftpFiles(
      fakeSftp(200, () => ac.abort('cancelled')),
      'h1',
      ac.signal,
    );
    let outcome: 'resolved' | 'rejected' = 'resolved';
    await files.write(path, Buffer.from('new\n'), {}).catch(() => (outcome = 'rejected'));
    const landed = readFileSync(path, 'utf8');
    expect(readdirSync(dir).filter((n) => n.includes('.sshgate-'))).toEqual([]);
    // Either the write is reported (and so audited) as done, or it did not happen.
    expect({ outcome, landed }).not.toEqual({ outcome: 'rejected', landed: 'new\n' });
  });
});
