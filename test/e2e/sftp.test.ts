import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshgateError } from '../../src/errors.js';
import { parseKnownHosts, verifyHostKey } from '../../src/ssh/host-keys.js';
import { ConnectionPool, type HostTarget } from '../../src/ssh/pool.js';
import type { RemoteFiles } from '../../src/ssh/remote-files.js';
import { startFleet, TEST_USER, type Fleet } from '../support/sshd.js';

const MiB = 1024 * 1024;
let fleet: Fleet;
let pool: ConnectionPool;
let target: HostTarget;
let uid: number;
let gid: number;
/** A fresh directory of the test user's for each test. */
let dir: string;

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 111 });
  const known = parseKnownHosts(readFileSync(fleet.knownHostsPath, 'utf8'));
  const h = fleet.hosts[0] as Fleet['hosts'][number];
  target = {
    alias: h.alias,
    host: h.host,
    port: h.port,
    shell: 'bash',
    auth: { username: fleet.user, privateKey: readFileSync(fleet.userKeyPath) },
    hostKeys: { path: fleet.knownHostsPath, verify: (host, port, key) => verifyHostKey(known, host, port, key) },
  };
  pool = new ConnectionPool({ logger: pino({ level: 'silent' }), idleMs: 2000, keepaliveMs: 5000, connectTimeoutMs: 5000 });
  uid = Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }));
  gid = Number(execFileSync('id', ['-g', TEST_USER], { encoding: 'utf8' }));
});
afterAll(async () => {
  await pool?.close();
  await fleet?.stop();
});

let base: string | undefined;
function freshDir(): string {
  base ??= mkdtempSync('/tmp/sshgate-sftp-');
  chmodSync(base, 0o755);
  dir = mkdtempSync(join(base, 't-'));
  chownSync(dir, uid, gid);
  return dir;
}
afterAll(() => base && rmSync(base, { recursive: true, force: true }));

/** A file of the test user's, as if it had written it. */
function put(name: string, data: Buffer | string, mode = 0o644): string {
  const path = join(dir, name);
  writeFileSync(path, data, { mode });
  chmodSync(path, mode);
  chownSync(path, uid, gid);
  return path;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const leftovers = () => readdirSync(dir).filter((n) => n.includes('.sshgate-'));

function files<T>(work: (f: RemoteFiles) => Promise<T>, signal = new AbortController().signal, ms = 20_000): Promise<T> {
  return pool.files(target, { signal, deadline: Date.now() + ms }, work);
}

async function failure(p: Promise<unknown>): Promise<SshgateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SshgateError);
  return err as SshgateError;
}

/** V8's full collection (--expose-gc is read when a context is made). */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

async function* chunks(data: Buffer, size = MiB, after?: (sent: number) => void): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) {
    // As a file stream would: each piece comes on a later turn of the event loop.
    await new Promise((r) => setImmediate(r));
    yield data.subarray(at, at + size);
    after?.(at + size);
  }
}

describe('reading files over SFTP', () => {
  beforeAll(() => void freshDir());

  it('returns a byte range with the sha256, size, mode and owner of the whole file', async () => {
    const text = 'line one\nline two\nline three\n';
    const path = put('notes.txt', text, 0o640);
    const r = await files((f) => f.read(path, { offset: 5, length: 8 }, 1 * MiB));
    expect(r.data.toString()).toBe('one\nline');
    expect(r.sha256).toBe(sha(text));
    expect(r.stat).toMatchObject({ type: 'file', size: text.length, mode: 0o640, uid, gid });
  });

  it('clamps a range past the end, and leaves out the hash of a file above hashUpTo', async () => {
    const data = randomBytes(300 * 1024);
    const path = put('big.bin', data);
    const tail = await files((f) => f.read(path, { offset: data.length - 10, length: 1000 }, MiB));
    expect(tail.data).toEqual(data.subarray(data.length - 10));
    const past = await files((f) => f.read(path, { offset: data.length + 5, length: 10 }, MiB));
    expect(past.data.length).toBe(0);
    const unhashed = await files((f) => f.read(path, { offset: 100_000, length: 150_000 }, 1000));
    expect(unhashed.sha256).toBeNull();
    expect(unhashed.data).toEqual(data.subarray(100_000, 250_000));
  });

  it('reads a binary file byte for byte, across many parallel requests', async () => {
    const data = randomBytes(3 * MiB + 17);
    const path = put('blob.bin', data);
    const r = await files((f) => f.read(path, { offset: 0, length: data.length }, 4 * MiB));
    expect(r.data.equals(data)).toBe(true);
    expect(r.sha256).toBe(sha(data));
  });

  it('refuses a FIFO without opening it (an open would block), and a device', async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    chownSync(fifo, uid, gid);
    const err = await failure(files((f) => f.read(fifo, { offset: 0, length: 10 }, MiB)));
    expect(err.code).toBe('not_a_file');
    expect(err.message).toContain('fifo');
    expect((await failure(files((f) => f.read('/dev/null', { offset: 0, length: 10 }, MiB)))).code).toBe('not_a_file');
    const sink = () => Promise.resolve();
    expect((await failure(files((f) => f.download(fifo, sink, { maxBytes: MiB })))).code).toBe('not_a_file');
  });

  it('reports a missing file as not_found and a file the login user may not read as permission_denied', async () => {
    expect((await failure(files((f) => f.read(join(dir, 'nothing'), { offset: 0, length: 1 }, MiB)))).code).toBe('not_found');
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'x', { mode: 0o600 }); // root's
    const err = await failure(files((f) => f.read(secret, { offset: 0, length: 1 }, MiB)));
    expect(err.code).toBe('permission_denied');
    expect(err.hint).toBeTruthy();
  });

  it('resolves a symlink with realpath and reports it with lstat', async () => {
    put('real.txt', 'r');
    symlinkSync(join(dir, 'real.txt'), join(dir, 'link.txt'));
    const [resolved, link, missing] = await files(async (f) =>
      Promise.all([f.realpath(join(dir, 'link.txt')), f.lstat(join(dir, 'link.txt')), f.lstat(join(dir, 'none'))]),
    );
    expect(resolved).toBe(join(dir, 'real.txt'));
    expect(link?.type).toBe('symlink');
    expect(missing).toBeNull();
  });
});

describe('listing a directory over SFTP', () => {
  it('lists every batch, sorted by name, without following symlinks, bounded by max', async () => {
    freshDir();
    // OpenSSH answers readdir in batches of 100 names.
    for (let i = 0; i < 250; i++) put(`f${String(i).padStart(3, '0')}`, 'x'.repeat(i));
    mkdirSync(join(dir, 'a-dir'));
    symlinkSync('/etc', join(dir, 'a-link'));
    const { entries, total } = await files((f) => f.list(dir, 5));
    expect(total).toBe(252);
    expect(entries.map((e) => e.name)).toEqual(['a-dir', 'a-link', 'f000', 'f001', 'f002']);
    expect(entries.map((e) => e.stat.type)).toEqual(['directory', 'symlink', 'file', 'file', 'file']);
    expect((await files((f) => f.list(dir, 1000))).entries.find((e) => e.name === 'f249')?.stat.size).toBe(249);
  });

  it('refuses to list a file', async () => {
    const err = await failure(files((f) => f.list(join(dir, 'f001'), 10)));
    expect(err.code).toBe('invalid_input');
  });
});

describe('writing files over SFTP', () => {
  beforeAll(() => void freshDir());

  it('creates a file with mode 0644 and leaves no temp file', async () => {
    const path = join(dir, 'new.conf');
    const out = await files((f) => f.write(path, Buffer.from('hello\n'), {}));
    expect(readFileSync(path, 'utf8')).toBe('hello\n');
    expect(statSync(path).mode & 0o7777).toBe(0o644);
    expect(out.before).toBeNull();
    expect(out.after).toMatchObject({ sha256: sha('hello\n'), size: 6, mode: 0o644, uid, gid });
    expect(leftovers()).toEqual([]);
  });

  it('replaces a file keeping its mode, and reports the version before and after', async () => {
    const path = put('app.conf', 'old\n', 0o640);
    const out = await files((f) => f.write(path, Buffer.from('new\n'), { mode: 0o600 }));
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(statSync(path).mode & 0o7777).toBe(0o640);
    expect(out.before).toMatchObject({ sha256: sha('old\n'), size: 4, mode: 0o640 });
    expect(out.after).toMatchObject({ sha256: sha('new\n'), size: 4, mode: 0o640 });
  });

  it('writes a binary file that reads back byte for byte', async () => {
    const data = randomBytes(2 * MiB + 3);
    const path = join(dir, 'blob');
    const out = await files((f) => f.write(path, data, {}));
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(out.after.sha256).toBe(sha(data));
  });

  it('refuses a compare-and-swap when the file changed, and leaves it as it is', async () => {
    const path = put('cas.conf', 'version 2\n');
    const err = await failure(files((f) => f.write(path, Buffer.from('mine\n'), { expectedSha256: sha('version 1\n') })));
    expect(err.code).toBe('file_changed');
    expect(err.message).toContain(sha('version 2\n').slice(0, 12));
    expect(err.message).toContain(sha('version 1\n').slice(0, 12));
    expect(readFileSync(path, 'utf8')).toBe('version 2\n');
    const ok = await files((f) => f.write(path, Buffer.from('mine\n'), { expectedSha256: sha('version 2\n') }));
    expect(ok.before?.sha256).toBe(sha('version 2\n'));
    expect((await failure(files((f) => f.write(join(dir, 'gone'), Buffer.from('x'), { expectedSha256: sha('x') })))).code).toBe(
      'file_changed',
    );
  });

  it('refuses a compare-and-swap when another writer replaced the file during the transfer; no temp is left', async () => {
    const path = put('raced.conf', 'v1\n');
    const data = randomBytes(40 * MiB);
    const racer = setInterval(() => {
      if (leftovers().length > 0) {
        put('raced.conf', 'v2 by another writer\n');
        clearInterval(racer);
      }
    }, 5);
    const err = await failure(files((f) => f.write(path, data, { expectedSha256: sha('v1\n') })));
    clearInterval(racer);
    expect(err.code).toBe('file_changed');
    expect(readFileSync(path, 'utf8')).toBe('v2 by another writer\n');
    expect(leftovers()).toEqual([]);
  });

  it('refuses create_only when the file exists', async () => {
    const path = put('exists.conf', 'here\n');
    const err = await failure(files((f) => f.write(path, Buffer.from('x'), { createOnly: true })));
    expect(err.code).toBe('file_exists');
    expect(readFileSync(path, 'utf8')).toBe('here\n');
  });

  it('refuses create_only when the file appears just before the rename, without replacing it', async () => {
    const path = join(dir, 'late.conf');
    // The other writer strikes between the last check and the rename request.
    const { SFTP } = createRequire(import.meta.url)('ssh2/lib/protocol/SFTP.js') as {
      SFTP: { prototype: { rename: (...a: unknown[]) => void } };
    };
    const rename = SFTP.prototype.rename;
    SFTP.prototype.rename = function (this: unknown, ...args: unknown[]) {
      put('late.conf', 'the other writer\n');
      return rename.apply(this, args);
    };
    try {
      const err = await failure(files((f) => f.write(path, Buffer.from('mine\n'), { createOnly: true })));
      expect(err.code).toBe('file_exists');
    } finally {
      SFTP.prototype.rename = rename;
    }
    expect(readFileSync(path, 'utf8')).toBe('the other writer\n');
    expect(leftovers()).toEqual([]);
  });

  it('never writes through a symlink at the last component', async () => {
    const victim = put('victim', 'untouched\n');
    symlinkSync(victim, join(dir, 'via-link'));
    const err = await failure(files((f) => f.write(join(dir, 'via-link'), Buffer.from('x'), {})));
    expect(err.code).toBe('not_a_file');
    expect(err.message).toMatch(/never follow a symlink/);
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
  });

  it('refuses a missing directory and a directory the login user may not write to', async () => {
    expect((await failure(files((f) => f.write(join(dir, 'no/such/x'), Buffer.from('x'), {})))).code).toBe('not_found');
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o755 }); // root's
    expect((await failure(files((f) => f.write(join(locked, 'x'), Buffer.from('x'), {})))).code).toBe('permission_denied');
  });

  it('stops a write when the signal fires and removes its temp file', async () => {
    const path = put('aborted.conf', 'before\n');
    const stop = new AbortController();
    const watcher = setInterval(() => leftovers().length > 0 && stop.abort('cancelled'), 2);
    const err = await failure(files((f) => f.write(path, randomBytes(40 * MiB), {}), stop.signal));
    clearInterval(watcher);
    expect(err.code).toBe('timeout');
    expect(err.message).toMatch(/cancelled/);
    expect(readFileSync(path, 'utf8')).toBe('before\n');
    expect(leftovers()).toEqual([]);
  });
});

describe('transfers over SFTP', () => {
  beforeAll(() => void freshDir());
  const big = randomBytes(50 * MiB);

  it('uploads 50 MiB through the partial file, fsynced and renamed, with progress and the sha256', async () => {
    const path = join(dir, 'upload.bin');
    let last = 0;
    const out = await files((f) => f.upload(path, chunks(big), big.length, { maxBytes: 64 * MiB, onProgress: (n) => (last = n) }));
    expect(out.after).toMatchObject({ sha256: sha(big), size: big.length, mode: 0o644 });
    expect(last).toBe(big.length);
    expect(sha(readFileSync(path))).toBe(sha(big));
    expect(leftovers()).toEqual([]);
  });

  it('stops an upload of 50 MiB promptly on cancel and leaves no partial file', async () => {
    const path = join(dir, 'cancelled.bin');
    const stop = new AbortController();
    let stoppedAt = 0;
    const err = await failure(
      files(
        (f) =>
          f.upload(path, chunks(big), big.length, {
            maxBytes: 64 * MiB,
            onProgress: (n) => {
              if (n >= 10 * MiB && !stop.signal.aborted) {
                stoppedAt = Date.now();
                stop.abort('cancelled');
              }
            },
          }),
        stop.signal,
      ),
    );
    const took = Date.now() - stoppedAt;
    expect(err.code).toBe('timeout');
    // Loose: the cleanup alone may take up to 2 s.
    expect(took).toBeLessThan(5000);
    expect(existsSync(path)).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('keeps the partial file when the source fails, and resumes from it', async () => {
    const path = join(dir, 'resumed.bin');
    const broken = async function* () {
      yield* chunks(big.subarray(0, 20 * MiB));
      throw new Error('the local disk went away');
    };
    await expect(files((f) => f.upload(path, broken(), big.length, { maxBytes: 64 * MiB }))).rejects.toThrow('the local disk went away');
    const partial = join(dir, '.resumed.bin.sshgate-partial');
    const kept = statSync(partial).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(20 * MiB);
    // Resumed a little before the end of what arrived, as a caller unsure of the last chunk would.
    const offset = kept - 1000;
    const out = await files((f) => f.upload(path, chunks(big.subarray(offset)), big.length, { offset, maxBytes: 64 * MiB }));
    expect(out.after.sha256).toBe(sha(big));
    expect(sha(readFileSync(path))).toBe(sha(big));
    expect(leftovers()).toEqual([]);
  });

  it('downloads 50 MiB with the sha256, holding only a bounded window in memory', async () => {
    const path = put('download.bin', big);
    const hash = createHash('sha256');
    // What stays reachable, not what awaits the collector: measured after a full collection, and
    // once V8 has released the backing stores it found dead (it frees them on another thread, after
    // the collection returns: read at once, 20 MB of them still counted here).
    const gc = fullGc();
    const reachable = async () => {
      gc();
      await new Promise((r) => setTimeout(r, 50));
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const before = await reachable();
    let peak = 0;
    let received = 0;
    const out = await files((f) =>
      f.download(
        path,
        async (chunk) => {
          hash.update(chunk);
          received += chunk.length;
          if (received % (5 * MiB) < chunk.length) peak = Math.max(peak, (await reachable()) - before);
          await new Promise((r) => setImmediate(r));
        },
        { maxBytes: 64 * MiB },
      ),
    );
    expect(out).toEqual({ size: big.length, sha256: sha(big) });
    expect(hash.digest('hex')).toBe(sha(big));
    // The window is 32 requests of 64 KiB; nowhere near the 50 MiB of the file.
    expect(peak).toBeLessThan(12 * MiB);
  });

  it('resumes a download at an offset, continuing the hash of the prefix the caller holds', async () => {
    const path = join(dir, 'download.bin');
    const offset = 7 * MiB + 5;
    const prefix = createHash('sha256').update(big.subarray(0, offset));
    const got: Buffer[] = [];
    const out = await files((f) => f.download(path, (c) => Promise.resolve(void got.push(c)), { offset, prefix, maxBytes: 64 * MiB }));
    expect(Buffer.concat(got).equals(big.subarray(offset))).toBe(true);
    expect(out.sha256).toBe(sha(big));
    const unaided = await files((f) => f.download(path, () => Promise.resolve(), { offset, maxBytes: 64 * MiB }));
    expect(unaided.sha256).toBe(sha(big));
  });

  it('refuses a file above maxBytes', async () => {
    const err = await failure(files((f) => f.download(join(dir, 'download.bin'), () => Promise.resolve(), { maxBytes: MiB })));
    expect(err.code).toBe('file_too_large');
  });
});

describe('the SFTP channel of the pool', () => {
  it('closes each channel: more calls than the sessions sshd allows per connection all succeed', async () => {
    for (let i = 0; i < 25; i++) expect(await files((f) => f.stat('/'))).toMatchObject({ type: 'directory' });
  });

  it('stops the work at the deadline with a timeout error', async () => {
    freshDir();
    const err = await failure(
      files(
        (f) =>
          f.upload(
            join(dir, 'slow.bin'),
            (async function* () {
              yield Buffer.alloc(10);
              await new Promise((r) => setTimeout(r, 60_000));
            })(),
            20,
            { maxBytes: 100 },
          ),
        new AbortController().signal,
        1500,
      ),
    );
    expect(err.code).toBe('timeout');
  });
});
