/**
 * The server's side of a transfer on this machine's file system: a path placed below the root
 * with no symlink followed, a source opened only when it is a regular file, the partial file of a
 * download (resumed or fresh), its commit without replacing a file unasked, and the chunked reads.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  batchedWriter,
  hashPrefix,
  LOCAL_PARTIAL_SUFFIX,
  localExists,
  localPathProblem,
  principalDir,
  readRange,
  TransferRoot,
  type LocalPlace,
} from '../../../src/gateway/transfer-local.js';
import type { Principal } from '../../../src/principal.js';

const base = mkdtempSync(join(tmpdir(), 'sshgate-local-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let rootCount = 0;
/** A fresh transfer root of its own, with `files` (name → content) and `dirs` made in it. */
function rootWith(dirs: string[] = [], files: Record<string, string | Buffer> = {}): TransferRoot {
  const dir = join(base, `root-${++rootCount}`);
  mkdirSync(dir, { mode: 0o700 });
  for (const d of dirs) mkdirSync(join(dir, d), { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return new TransferRoot(dir);
}

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Bytes that differ from chunk to chunk, so that a chunk out of place shows. */
function pattern(length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 7 + (i >> 10)) % 256));
}

const principal = (name: string, via: Principal['via']): Principal => ({ name, roles: [], via });

describe('localPathProblem', () => {
  it('says which rule a path breaks', () => {
    expect(localPathProblem('')?.reason).toBe('the local path is empty');
    expect(localPathProblem('/etc/passwd')?.reason).toMatch(/"\/etc\/passwd" is absolute/);
    expect(localPathProblem('a/../b')?.reason).toMatch(/^the local path "a\/..\/b" /);
    expect(localPathProblem('a/../b')?.hint).toMatch(/relative to the transfer root/);
    const partial = localPathProblem(`sub/x${LOCAL_PARTIAL_SUFFIX}`);
    expect(partial?.reason).toMatch(/ends with \.sshgate-partial, which sshgate keeps for downloads in progress/);
    expect(partial?.hint).toBe('choose another name');
    // Only the suffix is kept: a name that merely holds it is anybody's.
    expect(localPathProblem(`x${LOCAL_PARTIAL_SUFFIX}.bin`)).toBeUndefined();
  });

  it('shows at most 200 characters of a long path', () => {
    const reason = localPathProblem(`/${'a'.repeat(500)}`)?.reason ?? '';
    expect(reason).toContain(`"/${'a'.repeat(199)}…"`);
    expect(reason).not.toContain('a'.repeat(201));
  });
});

describe('TransferRoot.place', () => {
  it('refuses a badly spelt path before touching the file system', async () => {
    const root = new TransferRoot(join(base, 'does-not-exist'));
    for (const p of ['', '/abs', 'a//b', 'dir/', '../x', `x${LOCAL_PARTIAL_SUFFIX}`])
      await expect(root.place(p), JSON.stringify(p)).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('gives the path and what is there: a file, a directory, or nothing', async () => {
    const root = rootWith(['a/b'], { 'a/b/f': 'xyz' });
    const file = await root.place('a/b/f');
    expect(file).toMatchObject({ local: 'a/b/f', path: join(root.dir, 'a', 'b', 'f') });
    expect(file.existing?.isFile()).toBe(true);
    expect(file.existing?.size).toBe(3);
    expect((await root.place('a/b'))?.existing?.isDirectory()).toBe(true);
    expect(await root.place('a/new')).toEqual({ local: 'a/new', path: join(root.dir, 'a', 'new'), existing: null });
  });

  it('refuses a name longer than the file system takes as invalid_input, not as a failure of its own', async () => {
    const root = rootWith(['a'], {});
    await expect(root.place(`a/${'n'.repeat(300)}`)).rejects.toMatchObject({
      code: 'invalid_input',
      hint: expect.stringMatching(/255/) as unknown,
    });
  });

  it('refuses a symlink at any component, naming the components up to it', async () => {
    const root = rootWith(['real/deeper'], { 'real/deeper/f': 'x' });
    symlinkSync(join(root.dir, 'real'), join(root.dir, 'link'));
    symlinkSync(join(root.dir, 'real', 'deeper'), join(root.dir, 'real', 'inner'));
    symlinkSync(join(root.dir, 'real', 'deeper', 'f'), join(root.dir, 'real', 'deeper', 'last'));
    symlinkSync(join(root.dir, 'nowhere'), join(root.dir, 'real', 'dangling'));
    await expect(root.place('link/deeper/f')).rejects.toMatchObject({
      code: 'forbidden',
      message: /^link in the transfer root is a symlink/,
    });
    await expect(root.place('real/inner/f')).rejects.toMatchObject({ code: 'forbidden', message: /^real\/inner in the transfer root/ });
    await expect(root.place('real/deeper/last')).rejects.toMatchObject({ code: 'forbidden', message: /^real\/deeper\/last / });
    await expect(root.place('real/dangling')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(root.place('real/deeper/f')).resolves.toMatchObject({ local: 'real/deeper/f' });
  });

  it('needs every directory on the way, and each to be a directory', async () => {
    const root = rootWith(['a'], { 'a/file': 'x' });
    await expect(root.place('a/missing/x')).rejects.toMatchObject({
      code: 'not_found',
      message: 'the directory a/missing does not exist in the transfer root',
      hint: expect.stringMatching(/creates no directories/),
    });
    await expect(root.place('a/file/x')).rejects.toMatchObject({
      code: 'invalid_input',
      message: 'a/file in the transfer root is not a directory',
    });
    expect(existsSync(join(root.dir, 'a', 'missing'))).toBe(false);
  });
});

describe('TransferRoot.of', () => {
  it('gives a stdio caller the root itself', () => {
    const dir = rootWith().dir;
    expect(TransferRoot.of(dir, undefined).dir).toBe(dir);
    expect(TransferRoot.of(dir, principal('alice', 'os-user')).dir).toBe(dir);
    expect(TransferRoot.of(dir, principal('alice', 'command-line')).dir).toBe(dir);
  });

  it('gives each HTTP caller a private directory of their own, made on first use and kept', () => {
    const dir = rootWith().dir;
    const alice = TransferRoot.of(dir, principal('alice', 'token'));
    expect(alice.dir).toBe(join(dir, 'alice'));
    expect(statSync(alice.dir).isDirectory()).toBe(true);
    expect(statSync(alice.dir).mode & 0o777).toBe(0o700);
    writeFileSync(join(alice.dir, 'kept'), 'x');
    expect(TransferRoot.of(dir, principal('alice', 'token')).dir).toBe(alice.dir);
    expect(readFileSync(join(alice.dir, 'kept'), 'utf8')).toBe('x');
    const odd = TransferRoot.of(dir, principal('../bob', 'oauth'));
    expect(odd.dir).toBe(join(dir, principalDir('../bob')));
    expect(odd.dir.startsWith(`${dir}/~`)).toBe(true);
    expect(existsSync(join(base, 'bob'))).toBe(false);
  });
});

describe('TransferRoot.openSource', () => {
  it('opens a regular file with its size', async () => {
    const root = rootWith([], { f: 'hello' });
    const { handle, stat } = await root.openSource(await root.place('f'));
    try {
      expect(stat.isFile()).toBe(true);
      expect(stat.size).toBe(5);
      expect((await handle.readFile()).toString()).toBe('hello');
    } finally {
      await handle.close();
    }
  });

  it('refuses nothing there, a directory and a FIFO (without blocking on it)', async () => {
    const root = rootWith(['d']);
    await expect(root.openSource(await root.place('none'))).rejects.toMatchObject({
      code: 'not_found',
      message: 'none does not exist in the transfer root',
    });
    await expect(root.openSource(await root.place('d'))).rejects.toMatchObject({
      code: 'not_a_file',
      message: 'd in the transfer root is not a regular file',
    });
    expect(spawnSync('mkfifo', [join(root.dir, 'fifo')]).status).toBe(0);
    await expect(root.openSource(await root.place('fifo'))).rejects.toMatchObject({ code: 'not_a_file' });
  });

  it('refuses a symlink swapped in after the path was placed, and a file gone since', async () => {
    const root = rootWith([], { f: 'x', target: 'secret' });
    const place = await root.place('f');
    rmSync(place.path);
    await expect(root.openSource(place)).rejects.toMatchObject({ code: 'not_found', message: 'f does not exist in the transfer root' });
    symlinkSync(join(root.dir, 'target'), place.path);
    await expect(root.openSource(place)).rejects.toMatchObject({ code: 'forbidden', message: /^f in the transfer root is a symlink/ });
  });

  it('reports any other failure as internal, with the errno code', async () => {
    const root = rootWith([], { file: 'x' });
    // A directory swapped for a file after the path was placed: ENOTDIR, which has no code of its own.
    const place: LocalPlace = { local: 'file/x', path: join(root.dir, 'file', 'x'), existing: lstatSync(join(root.dir, 'file')) };
    await expect(root.openSource(place)).rejects.toMatchObject({ code: 'internal', message: 'file/x in the transfer root: ENOTDIR' });
  });

  it.skipIf(process.getuid?.() === 0)('refuses a file it may not read as permission_denied', async () => {
    const root = rootWith([], { locked: 'x' });
    chmodSync(join(root.dir, 'locked'), 0o000);
    await expect(root.openSource(await root.place('locked'))).rejects.toMatchObject({ code: 'permission_denied' });
  });
});

describe('TransferRoot.openPartial', () => {
  it('starts a fresh partial file beside the target, mode 0600, at offset 0', async () => {
    const root = rootWith();
    const place = await root.place('dl');
    const { handle, partial, offset, hash } = await root.openPartial(place, false);
    try {
      expect(partial).toBe(join(root.dir, `dl${LOCAL_PARTIAL_SUFFIX}`));
      expect(offset).toBe(0);
      expect(hash.copy().digest('hex')).toBe(sha(''));
      expect(lstatSync(partial).mode & 0o777).toBe(0o600);
      await handle.write('abc');
    } finally {
      await handle.close();
    }
    expect(readFileSync(partial, 'utf8')).toBe('abc');
    expect(existsSync(place.path)).toBe(false);
  });

  it('resumes the partial an interrupted download left: its size is the offset, its bytes hashed', async () => {
    const data = pattern(600_000); // more than one read chunk
    const root = rootWith([], { [`dl${LOCAL_PARTIAL_SUFFIX}`]: data });
    const { handle, offset, hash } = await root.openPartial(await root.place('dl'), true);
    try {
      expect(offset).toBe(data.length);
      expect(hash.copy().digest('hex')).toBe(sha(data));
      // Open for writing on: the rest of the download goes after what is there.
      await handle.write(Buffer.from('tail'), 0, 4, offset);
      hash.update('tail');
    } finally {
      await handle.close();
    }
    const after = readFileSync(join(root.dir, `dl${LOCAL_PARTIAL_SUFFIX}`));
    expect(after.length).toBe(data.length + 4);
    expect(hash.digest('hex')).toBe(sha(after));
  });

  it('resumes from nothing when there is no partial', async () => {
    const root = rootWith();
    const { handle, offset } = await root.openPartial(await root.place('dl'), true);
    await handle.close();
    expect(offset).toBe(0);
    expect(existsSync(join(root.dir, `dl${LOCAL_PARTIAL_SUFFIX}`))).toBe(true);
  });

  it('without resume, removes an old partial and starts empty', async () => {
    const root = rootWith([], { [`dl${LOCAL_PARTIAL_SUFFIX}`]: 'stale bytes' });
    const { handle, offset, partial } = await root.openPartial(await root.place('dl'), false);
    await handle.close();
    expect(offset).toBe(0);
    expect(readFileSync(partial, 'utf8')).toBe('');
  });

  it('removes a symlink at the partial, even when resuming, and never writes through it', async () => {
    for (const resume of [false, true]) {
      const root = rootWith([], { target: 'keep me' });
      const partialPath = join(root.dir, `dl${LOCAL_PARTIAL_SUFFIX}`);
      symlinkSync(join(root.dir, 'target'), partialPath);
      const { handle, offset, partial } = await root.openPartial(await root.place('dl'), resume);
      try {
        expect(offset).toBe(0);
        await handle.write('new');
      } finally {
        await handle.close();
      }
      expect(lstatSync(partial).isFile()).toBe(true);
      expect(readFileSync(partial, 'utf8')).toBe('new');
      expect(readFileSync(join(root.dir, 'target'), 'utf8')).toBe('keep me');
    }
  });

  it('refuses a directory at the partial, naming the partial', async () => {
    const root = rootWith([`dl${LOCAL_PARTIAL_SUFFIX}`]);
    for (const resume of [false, true])
      await expect(root.openPartial(await root.place('dl'), resume)).rejects.toMatchObject({
        code: 'not_a_file',
        message: `dl${LOCAL_PARTIAL_SUFFIX} in the transfer root is a directory`,
      });
    expect(lstatSync(join(root.dir, `dl${LOCAL_PARTIAL_SUFFIX}`)).isDirectory()).toBe(true);
  });

  it('reports a directory gone since the path was placed as not_found, naming the partial', async () => {
    const root = rootWith(['sub']);
    const place = await root.place('sub/dl');
    rmSync(join(root.dir, 'sub'), { recursive: true });
    await expect(root.openPartial(place, false)).rejects.toMatchObject({
      code: 'not_found',
      message: `sub/dl${LOCAL_PARTIAL_SUFFIX} does not exist in the transfer root`,
    });
  });
});

describe('TransferRoot.commit', () => {
  /** A download's partial file, written and closed, ready to commit. */
  async function downloaded(root: TransferRoot, local: string, content: string): Promise<{ place: LocalPlace; partial: string }> {
    const place = await root.place(local);
    const { handle, partial } = await root.openPartial(place, false);
    await handle.write(content);
    await handle.close();
    return { place, partial };
  }

  it('puts a new file in place and removes the partial, with or without overwrite', async () => {
    for (const overwrite of [false, true]) {
      const root = rootWith();
      const { place, partial } = await downloaded(root, 'f', 'content');
      await root.commit(place, partial, overwrite);
      expect(readFileSync(place.path, 'utf8')).toBe('content');
      expect(existsSync(partial)).toBe(false);
    }
  });

  it('refuses to replace an existing file without overwrite, leaving both as they were', async () => {
    const root = rootWith([], { f: 'old' });
    const { place, partial } = await downloaded(root, 'f', 'new');
    await expect(root.commit(place, partial, false)).rejects.toMatchObject({
      code: 'file_exists',
      message: 'f already exists in the transfer root',
      hint: expect.stringMatching(/overwrite: true/),
    });
    expect(readFileSync(place.path, 'utf8')).toBe('old');
    expect(readFileSync(partial, 'utf8')).toBe('new');
  });

  it('refuses a file that appeared after the download began, without overwrite', async () => {
    const root = rootWith();
    const { place, partial } = await downloaded(root, 'f', 'mine');
    expect(place.existing).toBeNull();
    writeFileSync(place.path, 'theirs');
    await expect(root.commit(place, partial, false)).rejects.toMatchObject({ code: 'file_exists' });
    expect(readFileSync(place.path, 'utf8')).toBe('theirs');
  });

  it('replaces an existing file with overwrite', async () => {
    const root = rootWith([], { f: 'old' });
    const { place, partial } = await downloaded(root, 'f', 'new');
    await root.commit(place, partial, true);
    expect(readFileSync(place.path, 'utf8')).toBe('new');
    expect(existsSync(partial)).toBe(false);
  });

  it('replaces a symlink put at the path with overwrite, never writing through it', async () => {
    const root = rootWith([], { target: 'keep me' });
    const { place, partial } = await downloaded(root, 'f', 'new');
    symlinkSync(join(root.dir, 'target'), place.path);
    await root.commit(place, partial, true);
    expect(lstatSync(place.path).isFile()).toBe(true);
    expect(readFileSync(place.path, 'utf8')).toBe('new');
    expect(readFileSync(join(root.dir, 'target'), 'utf8')).toBe('keep me');
  });

  it('reports a directory at the path, and a partial gone, by what went wrong', async () => {
    const root = rootWith(['d']);
    const d = await downloaded(root, 'd', 'x');
    await expect(root.commit(d.place, d.partial, true)).rejects.toMatchObject({
      code: 'not_a_file',
      message: 'd in the transfer root is a directory',
    });
    await expect(root.commit(d.place, d.partial, false)).rejects.toMatchObject({ code: 'file_exists' });
    const g = await downloaded(root, 'g', 'x');
    rmSync(g.partial);
    for (const overwrite of [false, true])
      await expect(root.commit(g.place, g.partial, overwrite)).rejects.toMatchObject({
        code: 'not_found',
        message: 'g does not exist in the transfer root',
      });
    expect(existsSync(g.place.path)).toBe(false);
  });
});

describe('hashPrefix', () => {
  const data = pattern(700_000);
  const file = join(base, 'hash-me');
  writeFileSync(file, data);

  it('hashes the first upTo bytes, across read chunks, and says how many it read', async () => {
    const handle = await open(file, 'r');
    try {
      for (const upTo of [0, 1, 262_144, 262_145, 600_000, data.length]) {
        const hash = createHash('sha256');
        expect(await hashPrefix(handle, upTo, hash), String(upTo)).toBe(upTo);
        expect(hash.digest('hex'), String(upTo)).toBe(sha(data.subarray(0, upTo)));
      }
    } finally {
      await handle.close();
    }
  });

  it('stops at the end of the file', async () => {
    const handle = await open(file, 'r');
    try {
      for (const upTo of [data.length + 1, Infinity]) {
        const hash = createHash('sha256');
        expect(await hashPrefix(handle, upTo, hash)).toBe(data.length);
        expect(hash.digest('hex')).toBe(sha(data));
      }
    } finally {
      await handle.close();
    }
  });
});

describe('readRange', () => {
  const data = pattern(600_000);
  const file = join(base, 'read-me');
  writeFileSync(file, data);

  async function range(from: number, to: number): Promise<{ chunks: Buffer[]; seen: Buffer[] }> {
    const handle = await open(file, 'r');
    try {
      const seen: Buffer[] = [];
      const chunks: Buffer[] = [];
      for await (const chunk of readRange(handle, from, to, (c) => seen.push(c))) chunks.push(chunk);
      return { chunks, seen };
    } finally {
      await handle.close();
    }
  }

  it('yields the bytes from..to in chunks of at most 256 KiB, each handed to `each` first', async () => {
    const { chunks, seen } = await range(1000, 590_000);
    expect(chunks.map((c) => c.length)).toEqual([262_144, 262_144, 589_000 - 2 * 262_144]);
    expect(Buffer.concat(chunks).equals(data.subarray(1000, 590_000))).toBe(true);
    expect(seen).toHaveLength(chunks.length);
    seen.forEach((c, i) => expect(c).toBe(chunks[i]));
    // Each chunk a buffer of its own: one still held is not overwritten by the next read.
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
  });

  it('yields nothing for an empty range, and stops at the end of the file', async () => {
    expect((await range(5, 5)).chunks).toEqual([]);
    const past = await range(599_990, 700_000);
    expect(Buffer.concat(past.chunks).equals(data.subarray(599_990))).toBe(true);
    expect((await range(600_000, 600_010)).chunks).toEqual([]);
  });
});

describe('localExists', () => {
  it('names the file and how to replace it', () => {
    expect(localExists('a/b').toJSON()).toEqual({
      code: 'file_exists',
      message: 'a/b already exists in the transfer root',
      hint: 'give overwrite: true to replace it, or another local name',
    });
  });
});

describe('batchedWriter', () => {
  it('writes the chunks one after another from its offset, in writes of about a MiB, the rest at flush', async () => {
    const path = join(base, 'batched.bin');
    writeFileSync(path, 'HEAD');
    const handle = await open(path, 'r+');
    const writes: number[] = [];
    const real = handle.writev.bind(handle);
    handle.writev = ((buffers: Buffer[], position?: number) => (
      writes.push(position ?? -1),
      real(buffers, position)
    )) as typeof handle.writev;
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(65_536 - (i % 3), i));
    try {
      const out = batchedWriter(handle, 4);
      for (const c of chunks) await out.write(c);
      await out.flush();
      await out.flush();
    } finally {
      await handle.close();
    }
    expect(readFileSync(path).equals(Buffer.concat([Buffer.from('HEAD'), ...chunks]))).toBe(true);
    // 40 chunks just under 64 KiB: writes of 17 chunks (the first at the offset), then the rest.
    const sizes = chunks.map((c) => c.length);
    const sum = (n: number) => sizes.slice(0, n).reduce((a, b) => a + b, 0);
    expect(writes).toEqual([4, 4 + sum(17), 4 + sum(34)]);
  });

  it('fails a write that stops short, rather than leave a hole where hashed bytes belong', async () => {
    const short = { writev: (buffers: Buffer[]) => Promise.resolve({ bytesWritten: buffers[0]?.length ?? 0, buffers }) };
    const out = batchedWriter(short as unknown as FileHandle, 0);
    await out.write(Buffer.alloc(10));
    await out.write(Buffer.alloc(20));
    await expect(out.flush()).rejects.toMatchObject({
      code: 'internal',
      message: 'a write to the local file stopped after 10 of 30 bytes',
    });
  });
});
