/**
 * The SFTP requests as promises (SftpCalls), driven against a fake channel that answers from
 * memory a turn of the event loop later, as a server one round trip away would: the failures an
 * SFTP status maps to, a stop that rejects every waiting request at once, reads followed up when
 * a server answers short, and the windows of parallel reads and writes.
 */
import type { SFTPWrapper } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { SshgateError } from '../../../src/errors.js';
import { CHUNK, FileOpStopped, isEof, isPlainFailure, SftpCalls, SftpRefused, toRemoteStat, WINDOW } from '../../../src/ssh/sftp-io.js';

type Cb = (err: Error | null | undefined, value?: unknown) => void;

/** An error as ssh2 gives it: an SFTP status in `code`. */
function status(code: number, message = `status ${code}`): Error {
  return Object.assign(new Error(message), { code });
}

/** Just enough of SFTPWrapper for SftpCalls, with one file in memory and the failures a test asks for. */
class FakeChannel {
  /** The bytes a read sees. */
  file: Buffer = Buffer.alloc(0);
  /** What the writes wrote. */
  written: Buffer = Buffer.alloc(0);
  /** The most bytes one read answers with (a server may answer short). */
  maxAnswer = Infinity;
  /** A write at this position fails with SSH_FX_FAILURE. */
  failWriteAt: number | undefined;
  /** The reads sent, and the most requests in flight at once. */
  reads: { pos: number; len: number }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  stats = new Map<string, { mode: number; size: number; uid: number; gid: number; mtime: number } | Error>();
  _extensions: Record<string, string> = { 'fsync@openssh.com': '1' };

  private answer(f: () => void): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    setImmediate(() => {
      this.inFlight--;
      f();
    });
  }

  read(_h: Buffer, buf: Buffer, off: number, len: number, pos: number, cb: Cb): void {
    this.reads.push({ pos, len });
    this.answer(() => {
      const n = Math.max(0, Math.min(len, this.maxAnswer, this.file.length - pos));
      if (n > 0) this.file.copy(buf, off, pos, pos + n);
      cb(undefined, n);
    });
  }

  write(_h: Buffer, data: Buffer, off: number, len: number, pos: number, cb: Cb): void {
    this.answer(() => {
      if (pos === this.failWriteAt) return cb(status(4, 'Failure'));
      if (this.written.length < pos + len) this.written = Buffer.concat([this.written, Buffer.alloc(pos + len - this.written.length)]);
      data.copy(this.written, pos, off, off + len);
      cb(undefined);
    });
  }

  lstat(path: string, cb: Cb): void {
    this.answer(() => {
      const s = this.stats.get(path) ?? status(2, 'No such file');
      if (s instanceof Error) cb(s);
      else cb(undefined, s);
    });
  }

  stat(path: string, cb: Cb): void {
    this.lstat(path, cb);
  }

  fstat(_h: Buffer, cb: Cb): void {
    this.lstat('/open', cb);
  }

  /** The opens asked for: path, flags and attributes. */
  opens: [string, string, unknown][] = [];

  open(path: string, flags: string, attrs: unknown, cb?: Cb): void {
    const done = (cb ?? attrs) as Cb;
    this.opens.push([path, flags, cb ? attrs : undefined]);
    this.answer(() => (path === '/denied' ? done(status(3)) : done(undefined, HANDLE)));
  }

  close(_h: Buffer, cb: Cb): void {
    this.answer(() => cb(undefined));
  }
}

function calls(channel = new FakeChannel(), signal = new AbortController().signal): { io: SftpCalls; channel: FakeChannel } {
  return { io: new SftpCalls(channel as unknown as SFTPWrapper, 'h1', signal), channel };
}

/** Bytes that differ from chunk to chunk, so that a chunk out of place shows. */
function pattern(length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 13 + (i >> 12)) % 256;
  return b;
}

const HANDLE = Buffer.from('handle');

describe('the errors of a request', () => {
  it('says why an operation stopped', () => {
    expect(new FileOpStopped('h1', 'timed_out')).toMatchObject({
      code: 'timeout',
      message: 'the file operation on host "h1" ran out of time',
      hint: expect.stringMatching(/raise the time limit/),
    });
    expect(new FileOpStopped('h1', 'shutdown')).toMatchObject({
      code: 'timeout',
      message: 'the file operation on host "h1" was stopped by the shutdown',
      hint: 'start it again if it is still wanted',
    });
    expect(new FileOpStopped('h1', 'cancelled').message).toBe('the file operation on host "h1" was cancelled');
    expect(new FileOpStopped('h1', undefined).message).toBe('the file operation on host "h1" was cancelled');
  });

  it('maps an SFTP status to what a caller can act on, naming the action, the path and the host', () => {
    const { io } = calls();
    expect(io.failure(status(2), 'read', '/etc/x')).toMatchObject({ code: 'not_found', message: '/etc/x does not exist on host "h1"' });
    expect(io.failure(status(3), 'write', '/etc/x')).toMatchObject({
      code: 'permission_denied',
      message: 'permission denied to write /etc/x on host "h1"',
    });
    const refused = io.failure(status(4, 'Failure'), 'rename', '/etc/x');
    expect(refused).toBeInstanceOf(SftpRefused);
    expect(refused).toMatchObject({ code: 'internal', status: 4, message: 'rename /etc/x on host "h1" failed: Failure' });
    expect(io.failure(status(8, 'Op unsupported'), 'open', '/x')).toMatchObject({ status: 8, code: 'internal' });
  });

  it('tells a closed channel from any other failure without a status', () => {
    const { io } = calls();
    for (const message of ['No response from server', 'Not connected', 'Channel closed'])
      expect(io.failure(new Error(message), 'read', '/x'), message).toMatchObject({
        code: 'lost',
        message: 'the SFTP channel to host "h1" closed during read /x',
      });
    expect(io.failure(new Error('Received more data than requested'), 'read', '/x')).toMatchObject({
      code: 'internal',
      message: 'read /x on host "h1" failed: Received more data than requested',
    });
    expect(io.failure(Object.assign(new Error('odd'), { code: 'EPIPE' }), 'read', '/x')).toMatchObject({ code: 'internal' });
  });

  it('passes an SshgateError through as it is', () => {
    const { io } = calls();
    const own = new SshgateError('file_changed', 'x', 'y');
    expect(io.failure(own, 'read', '/x')).toBe(own);
  });

  it('knows the end of a file, and a refusal without a reason', () => {
    expect(isEof(status(1))).toBe(true);
    for (const err of [undefined, null, status(2), status(4), new Error('End of file')]) expect(isEof(err)).toBe(false);
    expect(isPlainFailure(new SftpRefused(4, 'x'))).toBe(true);
    expect(isPlainFailure(new SftpRefused(8, 'x'))).toBe(false);
    expect(isPlainFailure(status(4))).toBe(false);
    expect(isPlainFailure(new SshgateError('internal', 'x'))).toBe(false);
  });
});

describe('a request', () => {
  it("resolves with the server's answer, and rejects with its failure mapped", async () => {
    const { io } = calls();
    await expect(io.call<number>('read', '/x', (done) => setImmediate(() => done(null, 7)))).resolves.toBe(7);
    await expect(io.call('read', '/x', (done) => setImmediate(() => done(status(3))))).rejects.toMatchObject({
      code: 'permission_denied',
    });
  });

  it('rejects when ssh2 throws at once (a closed channel)', async () => {
    const { io } = calls();
    await expect(
      io.call('open', '/x', () => {
        throw new Error('No response from server');
      }),
    ).rejects.toMatchObject({ code: 'lost' });
    await expect(
      io.call('open', '/x', () => {
        // What a callback library throws need not be an Error; it is made one.
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw 'not an Error';
      }),
    ).rejects.toMatchObject({ code: 'internal', message: 'open /x on host "h1" failed: not an Error' });
  });

  it('is not sent once the operation has stopped', async () => {
    const ac = new AbortController();
    ac.abort('timed_out');
    const { io } = calls(new FakeChannel(), ac.signal);
    let sent = false;
    await expect(io.call('read', '/x', () => (sent = true))).rejects.toMatchObject({ code: 'timeout', reason: 'timed_out' });
    expect(sent).toBe(false);
  });

  it('rejects every waiting request at once when the signal fires, and drops the late answers', async () => {
    const ac = new AbortController();
    const { io } = calls(new FakeChannel(), ac.signal);
    const answers: Cb[] = [];
    const waiting = [1, 2, 3].map((n) => io.call<number>('read', `/f${n}`, (done) => answers.push(done as Cb)));
    ac.abort('cancelled');
    for (const w of waiting) await expect(w).rejects.toBeInstanceOf(FileOpStopped);
    for (const answer of answers) answer(null, 1);
  });

  it("runs a cleanup with its own signal after the operation's fired, and stops it by that one", async () => {
    const ac = new AbortController();
    const { io } = calls(new FakeChannel(), ac.signal);
    ac.abort('cancelled');
    const cleanup = new AbortController();
    await expect(io.close(HANDLE, '/x', cleanup.signal)).resolves.toBeUndefined();
    const stuck = io.call('close', '/x', () => undefined, cleanup.signal);
    cleanup.abort('timed_out');
    await expect(stuck).rejects.toMatchObject({ code: 'timeout', message: /ran out of time/ });
  });

  it('unlessStopped: the promise as it is, or a stop', async () => {
    const ac = new AbortController();
    const { io } = calls(new FakeChannel(), ac.signal);
    await expect(io.unlessStopped(Promise.resolve('v'))).resolves.toBe('v');
    await expect(io.unlessStopped(Promise.reject(new Error('own')))).rejects.toThrow('own');
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a rejection that is not an Error is made one
    await expect(io.unlessStopped(Promise.reject('text'))).rejects.toThrow('text');
    const never = io.unlessStopped(new Promise(() => undefined));
    ac.abort('shutdown');
    await expect(never).rejects.toMatchObject({ message: /stopped by the shutdown/ });
  });
});

describe('stat', () => {
  it('gives the type, permission bits and owner; null where nothing is', async () => {
    const { io, channel } = calls();
    channel.stats.set('/f', { mode: 0o104755, size: 9, uid: 1, gid: 2, mtime: 1700000000 });
    channel.stats.set('/d', { mode: 0o040700, size: 0, uid: 0, gid: 0, mtime: 1 });
    channel.stats.set('/denied', status(3));
    expect(await io.lstat('/f')).toEqual({ type: 'file', size: 9, mode: 0o4755, uid: 1, gid: 2, mtime: 1700000000 });
    expect((await io.stat('/d'))?.type).toBe('directory');
    expect(await io.lstat('/none')).toBeNull();
    expect(await io.stat('/none')).toBeNull();
    await expect(io.lstat('/denied')).rejects.toMatchObject({ code: 'permission_denied', message: /inspect \/denied/ });
    channel.stats.set('/open', { mode: 0o100600, size: 3, uid: 0, gid: 0, mtime: 1 });
    expect((await io.fstat(HANDLE, '/open')).size).toBe(3);
  });

  it('names every file type, and one it does not know', () => {
    const at = (mode: number) => toRemoteStat({ mode, size: 0, uid: 0, gid: 0, mtime: 0 } as Parameters<typeof toRemoteStat>[0]).type;
    expect([0o100000, 0o040000, 0o120000, 0o010000, 0o140000, 0o020000, 0o060000, 0o170000, 0].map(at)).toEqual([
      'file',
      'directory',
      'symlink',
      'fifo',
      'socket',
      'char_device',
      'block_device',
      'unknown',
      'unknown',
    ]);
  });

  it("knows the server's extensions", () => {
    const { io } = calls();
    expect(io.offers('fsync@openssh.com')).toBe(true);
    expect(io.offers('posix-rename@openssh.com')).toBe(false);
  });
});

describe('open', () => {
  it("opens with the mode given, or the server's own, and names the action in a refusal", async () => {
    const { io, channel } = calls();
    expect(await io.open('/f', 'wx', 0o600)).toBe(HANDLE);
    expect(await io.open('/f', 'r')).toBe(HANDLE);
    expect(channel.opens).toEqual([
      ['/f', 'wx', { mode: 0o600 }],
      ['/f', 'r', undefined],
    ]);
    await expect(io.open('/denied', 'r')).rejects.toMatchObject({ message: 'permission denied to read /denied on host "h1"' });
    await expect(io.open('/denied', 'r+')).rejects.toMatchObject({ message: 'permission denied to write /denied on host "h1"' });
  });
});

describe('readAt', () => {
  it('follows up a short answer until the length asked', async () => {
    const { io, channel } = calls();
    channel.file = pattern(10_000);
    channel.maxAnswer = 3000;
    const got = await io.readAt(HANDLE, '/f', 1000, 7000);
    expect(got.equals(channel.file.subarray(1000, 8000))).toBe(true);
    expect(channel.reads.map((r) => r.pos)).toEqual([1000, 4000, 7000]);
  });

  it('gives fewer bytes only at the end of the file', async () => {
    const { io, channel } = calls();
    channel.file = pattern(100);
    expect((await io.readAt(HANDLE, '/f', 90, 50)).equals(channel.file.subarray(90))).toBe(true);
    expect((await io.readAt(HANDLE, '/f', 100, 50)).length).toBe(0);
  });
});

describe('pull', () => {
  it('hands on the bytes in order, through a window of parallel requests', async () => {
    const { io, channel } = calls();
    channel.file = pattern(CHUNK * (WINDOW + 8) + 123);
    const got: Buffer[] = [];
    const end = await io.pull(HANDLE, '/f', 10, channel.file.length, (c) => void got.push(c));
    expect(end).toBe(channel.file.length);
    expect(Buffer.concat(got).equals(channel.file.subarray(10))).toBe(true);
    expect(channel.maxInFlight).toBe(WINDOW);
    expect(got.every((c) => c.length <= CHUNK)).toBe(true);
  });

  it('stops at the end of the file, with what came of the last chunk', async () => {
    for (const size of [CHUNK * 3 + 5, CHUNK * 3]) {
      const { io, channel } = calls();
      channel.file = pattern(size);
      const got: Buffer[] = [];
      const end = await io.pull(HANDLE, '/f', 0, CHUNK * 10, (c) => void got.push(c));
      expect(end, String(size)).toBe(size);
      expect(Buffer.concat(got).equals(channel.file), String(size)).toBe(true);
      expect(got.some((c) => c.length === 0)).toBe(false);
    }
  });

  it('reads nothing of an empty range', async () => {
    const { io, channel } = calls();
    channel.file = pattern(100);
    expect(await io.pull(HANDLE, '/f', 50, 50, () => expect.unreachable())).toBe(50);
    expect(channel.reads).toEqual([]);
  });

  it('waits for a slow consumer, and fails with the first failed request', async () => {
    const { io, channel } = calls();
    channel.file = pattern(CHUNK * 4);
    const order: string[] = [];
    await io.pull(HANDLE, '/f', 0, CHUNK * 4, async (c) => {
      order.push(`start ${c[0]}`);
      await new Promise((r) => setTimeout(r, 5));
      order.push('end');
    });
    expect(order.filter((o) => o === 'end')).toHaveLength(4);
    expect(order.every((o, i) => (i % 2 === 0 ? o.startsWith('start') : o === 'end'))).toBe(true);
    const failing = calls();
    failing.channel.read = (_h, _b, _o, _l, _p, cb) => setImmediate(() => cb(status(3)));
    await expect(failing.io.pull(HANDLE, '/f', 0, CHUNK * 4, () => undefined)).rejects.toMatchObject({ code: 'permission_denied' });
  });
});

describe('push', () => {
  it('writes a source of any chunk size in order, from the position given', async () => {
    const { io, channel } = calls();
    const data = pattern(CHUNK * 5 + 77);
    const seen: number[] = [];
    const pieces = [data.subarray(0, 10), data.subarray(10, CHUNK * 3 + 1), data.subarray(CHUNK * 3 + 1)];
    const end = await io.push(HANDLE, '/f', 100, pieces, (c) => void seen.push(c.length));
    expect(end).toBe(100 + data.length);
    expect(channel.written.subarray(100).equals(data)).toBe(true);
    expect(seen.every((n) => n <= CHUNK)).toBe(true);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(data.length);
  });

  it('takes an async source, and holds no more than the window in flight', async () => {
    const { io, channel } = calls();
    const data = pattern(CHUNK * (WINDOW * 2 + 3));
    async function* source() {
      for (let at = 0; at < data.length; at += CHUNK * 4) {
        // Each piece comes a microtask later: sooner than the server answers.
        await Promise.resolve();
        yield data.subarray(at, at + CHUNK * 4);
      }
    }
    expect(await io.push(HANDLE, '/f', 0, source(), () => undefined)).toBe(data.length);
    expect(channel.written.equals(data)).toBe(true);
    expect(channel.maxInFlight).toBe(WINDOW);
  });

  it('stops at a failed write, reports it, and lets the source go', async () => {
    const { io, channel } = calls();
    channel.failWriteAt = CHUNK * 2;
    let released = false;
    let pulled = 0;
    async function* source() {
      try {
        for (;;) {
          pulled++;
          yield pattern(CHUNK);
          await new Promise((r) => setTimeout(r, 1));
        }
      } finally {
        released = true;
      }
    }
    const failure = await io.push(HANDLE, '/f', 0, source(), () => undefined).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SftpRefused);
    expect(isPlainFailure(failure)).toBe(true);
    expect(pulled).toBeLessThan(10);
    await new Promise((r) => setTimeout(r, 10));
    expect(released).toBe(true);
  });

  it('reports a failure of the last writes, after the source ended', async () => {
    const { io, channel } = calls();
    channel.failWriteAt = 0;
    await expect(io.push(HANDLE, '/f', 0, [pattern(100)], () => undefined)).rejects.toMatchObject({ status: 4 });
  });

  it('is stopped by the signal while the source stalls', async () => {
    const ac = new AbortController();
    const { io } = calls(new FakeChannel(), ac.signal);
    const stalled: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<Buffer>>(() => undefined) }),
    };
    const pushing = io.push(HANDLE, '/f', 0, stalled, () => undefined);
    setTimeout(() => ac.abort('cancelled'), 5);
    await expect(pushing).rejects.toBeInstanceOf(FileOpStopped);
  });
});
