/**
 * The elevated file scripts run by this machine's own /bin/sh (no sudo, no sshd): the quoting of
 * hostile names, the parsing of what the scripts print, and the write's contract — temp file,
 * compare-and-swap, create_only, a symlink refused, the trap that removes the temp on TERM.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElevatedFiles, type ScriptRunner } from '../../../src/ssh/elevated-files.js';
import { parseList, parseStat, ReadStream, scriptCommand } from '../../../src/ssh/elevated-scripts.js';
import { shQuote } from '../../../src/ssh/interpreter.js';
import { localScriptRunner } from '../../support/script-runner.js';

const HOSTILE = [
  'with space',
  'new\nline',
  "quote'single",
  'quote"double',
  '$(touch pwned)',
  '`touch pwned`',
  '-leading-dash',
  '--',
  'back\\slash',
  '*',
  'XXXX',
  'ünïcødé ✓',
  ' ',
];

let base: string;

/** Runs a command as the pool would, with this machine's sh as the "host". */
function localRunner(onSpawn?: (pid: number) => void): ScriptRunner {
  return localScriptRunner(base, onSpawn);
}

/** A runner that never closes stdin, so the write script waits in dd as a slow upload would; and its pid. */
function hangingRunner(): { runner: ScriptRunner; pid: () => number } {
  let pid = 0;
  const runner: ScriptRunner = (command, io) =>
    new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, cwd: base });
      pid = child.pid ?? 0;
      child.stdout.on('data', (d: Buffer) => void io.stdout(d));
      child.stderr.on('data', (d: Buffer) => void io.stderr(d));
      child.on('close', (code, signal) => resolve({ exitCode: code, signal }));
    });
  return { runner, pid: () => pid };
}

function files(runner = localRunner(), signal = new AbortController().signal): ElevatedFiles {
  return new ElevatedFiles(runner, 'local', 'root', signal);
}

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'sshgate-elevated-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('scriptCommand', () => {
  it.each(HOSTILE)('passes %j to the script as one positional parameter, byte for byte', async (value) => {
    const out: Buffer[] = [];
    // The stat script prints nothing of the argument; a script of the test's own echoes them.
    const command = `exec /bin/sh -c ${shQuote('printf "%s\\0" "$@"')} sh ${[value, 'after'].map(shQuote).join(' ')}`;
    await localRunner()(command, { stdout: (c) => void out.push(c), stderr: () => undefined });
    expect(Buffer.concat(out).toString('utf8')).toBe(`${value}\0after\0`);
    // And through a real script: a path that does not exist is reported, nothing is run.
    const p = join(base, value.replace(/\//g, '_'));
    expect(await files().lstat(p)).toBeNull();
    expect(readdirSync(base)).not.toContain('pwned');
  });

  it('refuses an argument with a NUL byte', () => {
    expect(() => scriptCommand('stat', 'frame', ['-P', '/a\0b'])).toThrow(/NUL/);
  });

  it('keeps the script text fixed: only the quoted arguments differ between calls', () => {
    const a = scriptCommand('write', 'F', ['/x', '', '0', '644', '1', 'h']);
    const b = scriptCommand('write', 'F', ['/y; rm -rf /', '', '0', '644', '1', 'h']);
    const script = (c: string) => c.slice(0, c.indexOf(' sshgate-files '));
    expect(script(a)).toBe(script(b));
    expect(b).toContain(`'/y; rm -rf /'`);
  });
});

describe('parsing', () => {
  it('reads a stat line strictly', () => {
    expect(parseStat('f 12 4755 0 10 1700000000.5 99 2049')).toMatchObject({
      type: 'file',
      size: 12,
      mode: 0o4755,
      uid: 0,
      gid: 10,
      mtime: 1700000000,
    });
    expect(() => parseStat('f 12 644 0 0 1700000000')).toThrow(/stat line/);
    expect(() => parseStat('f 12 999 0 0 1 1 1')).toThrow(/stat line/);
  });

  it('reads NUL-separated entries whose names hold newlines, and sorts them', () => {
    const out = Buffer.from('b\nc\0f 1 644 0 0 1.0 1 1\0a\0d 0 755 0 0 2.0 2 1\0');
    expect(parseList(out).map((e) => [e.name, e.stat.type])).toEqual([
      ['a', 'directory'],
      ['b\nc', 'file'],
    ]);
  });

  it('takes a read apart whatever the chunks: a frame inside the data does not end it', async () => {
    const frame = 'sshgate-frame-x';
    const data = Buffer.from(`abc${frame}\n${frame}\nf 1 644 0 0 1.0 1 1\nxyz`);
    const whole = Buffer.concat([
      Buffer.from(`login noise\n${frame}\nf ${data.length} 644 0 0 1.0 1 1\n`),
      data,
      Buffer.from(`${frame}\nf ${data.length} 644 0 0 1.0 1 1\n`),
    ]);
    for (const size of [1, 3, 7, 1000]) {
      const got: Buffer[] = [];
      const s = new ReadStream(frame, (c) => void got.push(Buffer.from(c)));
      for (let i = 0; i < whole.length; i += size) void s.push(whole.subarray(i, i + size));
      expect((await s.end())?.size).toBe(data.length);
      expect(Buffer.concat(got).equals(data)).toBe(true);
    }
  });
});

describe('the scripts on this machine', () => {
  it.each(HOSTILE)('writes, reads, lists and resolves a file named %j', async (name) => {
    const dir = mkdtempSync(join(base, 'n-'));
    const path = join(dir, name);
    const f = files();
    const w = await f.write(path, Buffer.from('hello\n'), { mode: 0o640 });
    expect(w.before).toBeNull();
    expect(w.after).toMatchObject({ sha256: sha('hello\n'), size: 6, mode: 0o640 });
    expect(readFileSync(path, 'utf8')).toBe('hello\n');
    expect(lstatSync(path).mode & 0o7777).toBe(0o640);
    expect(await f.realpath(path)).toBe(path);
    const r = await f.read(path, { offset: 1, length: 3 }, 1000);
    expect(r.data.toString()).toBe('ell');
    expect(r.sha256).toBe(sha('hello\n'));
    const listed = await f.list(dir, 10);
    expect(listed.entries.map((e) => e.name)).toEqual([name]);
    expect(readdirSync(dir)).toEqual([name]);
  });

  it('reads binary bytes exactly, and only the range of a file over hashUpTo', async () => {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
    const p = join(base, 'bin');
    writeFileSync(p, data);
    const whole = await files().read(p, { offset: 0, length: data.length }, data.length);
    expect(whole.data.equals(data)).toBe(true);
    expect(whole.sha256).toBe(sha(data));
    const part = await files().read(p, { offset: 100_000, length: 70_000 }, 10);
    expect(part.data.equals(data.subarray(100_000, 170_000))).toBe(true);
    expect(part.sha256).toBeNull();
    const past = await files().read(p, { offset: 400_000, length: 10 }, 10);
    expect(past.data.length).toBe(0);
  });

  it('refuses a FIFO without opening it, and a directory', async () => {
    const fifo = join(base, 'fifo');
    await new Promise((r) => spawn('mkfifo', [fifo]).on('close', r));
    await expect(files().read(fifo, { offset: 0, length: 10 }, 100)).rejects.toMatchObject({ code: 'not_a_file' });
    await expect(files().read(base, { offset: 0, length: 10 }, 100)).rejects.toMatchObject({ code: 'not_a_file' });
    await expect(files().list(fifo, 10)).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('reports a missing path as not_found', async () => {
    await expect(files().realpath(join(base, 'none', 'x'))).rejects.toMatchObject({ code: 'not_found' });
    await expect(files().read(join(base, 'none'), { offset: 0, length: 1 }, 1)).rejects.toMatchObject({ code: 'not_found' });
    await expect(files().write(join(base, 'none', 'x'), Buffer.from('x'), {})).rejects.toMatchObject({ code: 'not_found' });
  });

  it('replaces under compare-and-swap, keeping the mode, and refuses a stale hash', async () => {
    const p = join(base, 'cas');
    writeFileSync(p, 'one');
    chmodSync(p, 0o604);
    const w = await files().write(p, Buffer.from('two'), { expectedSha256: sha('one') });
    expect(w.before).toMatchObject({ sha256: sha('one'), size: 3, mode: 0o604 });
    expect(w.after.mode).toBe(0o604);
    await expect(files().write(p, Buffer.from('three'), { expectedSha256: sha('one') })).rejects.toMatchObject({
      code: 'file_changed',
    });
    expect(readFileSync(p, 'utf8')).toBe('two');
    await expect(files().write(join(base, 'gone'), Buffer.from('x'), { expectedSha256: sha('one') })).rejects.toMatchObject({
      code: 'file_changed',
    });
  });

  it('create_only refuses an existing file; a symlink at the path is refused and left alone', async () => {
    const p = join(base, 'once');
    await files().write(p, Buffer.from('a'), { createOnly: true });
    await expect(files().write(p, Buffer.from('b'), { createOnly: true })).rejects.toMatchObject({ code: 'file_exists' });
    const link = join(base, 'link');
    symlinkSync(p, link);
    await expect(files().write(link, Buffer.from('c'), {})).rejects.toMatchObject({ code: 'not_a_file', message: /symlink/ });
    expect(readFileSync(p, 'utf8')).toBe('a');
    expect(readdirSync(base).filter((n) => n.includes('sshgate-'))).toEqual([]);
  });

  it('writes a file whose name is 250 bytes long (its temp name is shortened)', async () => {
    const p = join(base, 'n'.repeat(250));
    await files().write(p, Buffer.from('long'), {});
    expect(readFileSync(p, 'utf8')).toBe('long');
    expect(readdirSync(base).filter((n) => n.includes('sshgate-'))).toEqual([]);
  });

  it('refuses to write as this user in a directory another user may change, or any user may write', async () => {
    for (const [owner, mode] of [
      [4242, 0o755],
      [0, 0o775],
      [0, 0o757],
    ] as const) {
      const dir = join(base, `shared-${owner}-${mode.toString(8)}`);
      mkdirSync(dir);
      chownSync(dir, owner, owner);
      chmodSync(dir, mode);
      await expect(files().write(join(dir, 'f'), Buffer.from('x'), {}), `${owner} ${mode.toString(8)}`).rejects.toMatchObject({
        code: 'forbidden',
      });
      expect(readdirSync(dir)).toEqual([]);
    }
    // Sticky: no one else may rename or remove this user's entries, as in /tmp.
    const sticky = join(base, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    expect((await files().write(join(sticky, 'f'), Buffer.from('x'), {})).after.size).toBe(1);
  });

  it('writes an empty file', async () => {
    const p = join(base, 'empty');
    const w = await files().write(p, Buffer.alloc(0), {});
    expect(w.after).toMatchObject({ size: 0, sha256: sha('') });
  });

  it('a TERM to the script alone, while dd still waits for stdin, removes the temp file at once', async () => {
    const dir = join(base, 'term-sh');
    mkdirSync(dir);
    const { runner, pid } = hangingRunner();
    const abort = new AbortController();
    const writing = files(runner, abort.signal).write(join(dir, 'f'), Buffer.from('x'), {});
    const until = Date.now() + 5000;
    while (spawnSync('pgrep', ['-g', String(pid()), '-x', 'dd']).status !== 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(dir)).toHaveLength(1);
    // Only the shell: sh runs a trap between commands, and the wait for dd is one it leaves at once.
    abort.abort();
    process.kill(pid(), 'SIGTERM');
    try {
      await expect(writing).rejects.toMatchObject({ code: 'timeout' });
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      spawnSync('pkill', ['-KILL', '-g', String(pid())]);
    }
  });

  it('streams an upload on stdin and a download into a slow sink, byte-exact, and hashes on the host', async () => {
    const data = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 11 }, (_, i) => (i * 31 + (i >> 9)) % 256));
    const p = join(base, 'streamed.bin');
    async function* pieces(): AsyncGenerator<Buffer> {
      for (let at = 0; at < data.length; at += 100_000) yield await Promise.resolve(data.subarray(at, at + 100_000));
    }
    const seen: number[] = [];
    const up = await files().upload(p, pieces(), data.length, {
      sha256: sha(data),
      maxBytes: data.length,
      mode: 0o600,
      onProgress: (b) => void seen.push(b),
    });
    expect(up.after).toMatchObject({ sha256: sha(data), size: data.length, mode: 0o600 });
    expect(readFileSync(p).equals(data)).toBe(true);
    expect(seen.at(-1)).toBe(data.length);
    expect(await files().hostSha256(p)).toEqual({ sha256: sha(data), by: 'openssl' });

    const got: Buffer[] = [];
    // A sink slower than the pipe: the reader waits for it, and nothing overlaps or is lost.
    let busy = false;
    const sink = async (chunk: Buffer) => {
      expect(busy).toBe(false);
      busy = true;
      await new Promise((r) => setTimeout(r, 2));
      got.push(Buffer.from(chunk));
      busy = false;
    };
    const down = await files().download(p, sink, { maxBytes: data.length });
    expect(down).toEqual({ size: data.length, sha256: sha(data) });
    expect(Buffer.concat(got).equals(data)).toBe(true);

    // Resumed: the bytes before the offset are the caller's, hashed by it.
    const offset = 1_234_567;
    const prefix = createHash('sha256').update(data.subarray(0, offset));
    const rest: Buffer[] = [];
    const resumed = await files().download(p, (c) => Promise.resolve(void rest.push(Buffer.from(c))), {
      offset,
      prefix,
      maxBytes: data.length,
    });
    expect(resumed).toEqual({ size: data.length, sha256: sha(data) });
    expect(Buffer.concat(rest).equals(data.subarray(offset))).toBe(true);
  });

  it('refuses a download over max_file_bytes, an upload whose bytes are not the declared ones, and a resume without a prefix', async () => {
    const p = join(base, 'limits.bin');
    writeFileSync(p, Buffer.alloc(5000, 1));
    await expect(files().download(p, () => Promise.resolve(), { maxBytes: 4000 })).rejects.toMatchObject({ code: 'file_too_large' });
    await expect(files().download(p, () => Promise.resolve(), { offset: 10, maxBytes: 10_000 })).rejects.toMatchObject({
      code: 'internal',
    });
    async function* once(): AsyncGenerator<Buffer> {
      yield await Promise.resolve(Buffer.from('what was sent'));
    }
    const q = join(base, 'declared.bin');
    await expect(files().upload(q, once(), 13, { sha256: sha('something else!'), maxBytes: 100 })).rejects.toMatchObject({
      code: 'file_changed',
      message: expect.stringMatching(/are not the ones hashed before the transfer/) as unknown,
    });
    expect(readdirSync(base).filter((n) => n.includes('declared'))).toEqual([]);
    await expect(files().upload(q, once(), 13, { maxBytes: 100 })).rejects.toMatchObject({ code: 'internal' });
    await expect(files().upload(q, once(), 13, { sha256: sha('what was sent'), maxBytes: 5 })).rejects.toMatchObject({
      code: 'file_too_large',
    });
  });

  it('a TERM while the content is awaited removes the temp file', async () => {
    const dir = join(base, 'term');
    mkdirSync(dir);
    const { runner, pid } = hangingRunner();
    const abort = new AbortController();
    const writing = files(runner, abort.signal).write(join(dir, 'f'), Buffer.from('x'), {});
    const until = Date.now() + 5000;
    while (!readdirSync(dir).some((n) => n.endsWith('.tmp')) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(dir)).toHaveLength(1);
    // Once dd reads the content: a TERM before dd starts is handled when it ends (sh runs a trap
    // between commands), and dd, started after the signal, would wait for stdin for ever.
    while (spawnSync('pgrep', ['-g', String(pid()), '-x', 'dd']).status !== 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    // As the cancel sweep does: TERM to every process of the session.
    abort.abort();
    process.kill(-pid(), 'SIGTERM');
    await expect(writing).rejects.toMatchObject({ code: 'timeout' });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('stat on this machine', () => {
  it('lstat names a symlink; stat follows it, and finds nothing at the end of a dangling one', async () => {
    const dir = mkdtempSync(join(base, 's-'));
    writeFileSync(join(dir, 'f'), 'hello');
    symlinkSync(join(dir, 'f'), join(dir, 'to-f'));
    symlinkSync(join(dir, 'none'), join(dir, 'dangling'));
    expect(await files().lstat(join(dir, 'to-f'))).toMatchObject({ type: 'symlink' });
    expect(await files().stat(join(dir, 'to-f'))).toMatchObject({ type: 'file', size: 5 });
    expect(await files().lstat(join(dir, 'dangling'))).toMatchObject({ type: 'symlink' });
    expect(await files().stat(join(dir, 'dangling'))).toBeNull();
    expect(await files().stat(join(dir, 'none'))).toBeNull();
    expect(await files().lstat('/')).toMatchObject({ type: 'directory' });
  });

  it('reports a path through a file as not_found', async () => {
    const p = join(base, 'plain');
    writeFileSync(p, 'x');
    await expect(files().lstat(join(p, 'x'))).rejects.toMatchObject({ code: 'not_found' });
    await expect(files().list(join(p, 'x'), 10)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a write over a directory, naming what is there', async () => {
    const dir = mkdtempSync(join(base, 'w-'));
    mkdirSync(join(dir, 'sub'));
    await expect(files().write(join(dir, 'sub'), Buffer.from('x'), {})).rejects.toMatchObject({
      code: 'not_a_file',
      message: /is a directory, not a regular file/,
    });
  });

  it('cuts a range out of a whole file read in many chunks', async () => {
    const data = Buffer.from(Array.from({ length: 400_000 }, (_, i) => (i * 11) % 256));
    const p = join(base, 'ranged');
    writeFileSync(p, data);
    const r = await files().read(p, { offset: 350_000, length: 20_000 }, data.length);
    expect(r.data.equals(data.subarray(350_000, 370_000))).toBe(true);
    expect(r.sha256).toBe(sha(data));
    const beyond = await files().read(p, { offset: 500_000, length: 10 }, data.length);
    expect(beyond.data.length).toBe(0);
    expect(beyond.sha256).toBe(sha(data));
  });

  it('runs nothing once the operation has stopped', async () => {
    const abort = new AbortController();
    abort.abort('timed_out');
    let ran = false;
    const f = files(() => ((ran = true), Promise.resolve({ exitCode: 0, signal: null })), abort.signal);
    await expect(f.lstat(base)).rejects.toMatchObject({ code: 'timeout', message: /ran out of time/ });
    expect(ran).toBe(false);
  });
});

/**
 * A host that answers every script with what the test says: `out` after the frame (null: no
 * frame at all), its stderr and status. For what a real script prints only when the host is odd.
 */
function host(reply: {
  out?: string | Buffer | null;
  stderr?: string;
  exitCode?: number | null;
  lost?: string;
  noise?: string;
}): ScriptRunner {
  return (command, io) => {
    const frame = /sshgate-files '([^']+)'/.exec(command)?.[1] ?? '';
    const out =
      reply.out === null ? Buffer.alloc(0) : Buffer.concat([Buffer.from(`${reply.noise ?? ''}${frame}\n`), Buffer.from(reply.out ?? '')]);
    if (out.length > 0) void io.stdout(out);
    if (reply.stderr) void io.stderr(Buffer.from(reply.stderr));
    return Promise.resolve({
      exitCode: reply.exitCode === undefined ? 0 : reply.exitCode,
      signal: null,
      ...(reply.lost ? { lost: reply.lost } : {}),
    });
  };
}

describe('what the host says', () => {
  const p = '/srv/app.conf';

  it('tells a failure apart by its status, then by what the tool said', async () => {
    await expect(files(host({ exitCode: 88, stderr: 'the directory moved: /srv is now /tmp\n' })).lstat(p)).rejects.toMatchObject({
      code: 'file_changed',
      message: expect.stringContaining('changed while it was being worked on (the directory moved: /srv is now /tmp)'),
    });
    await expect(files(host({ exitCode: 80, stderr: "find: '/srv': Permission denied\n" })).lstat(p)).rejects.toMatchObject({
      code: 'permission_denied',
      message: `root may not do this to ${p} on host "local" (find: '/srv': Permission denied)`,
    });
    await expect(files(host({ exitCode: 80, stderr: 'chmod: Operation not permitted' })).realpath(p)).rejects.toMatchObject({
      code: 'permission_denied',
    });
    await expect(files(host({ exitCode: 80, stderr: 'realpath: /srv/x: No such file or directory' })).realpath(p)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(files(host({ out: null, exitCode: 127, stderr: 'sh: 1: find: not found\n' })).lstat(p)).rejects.toMatchObject({
      code: 'internal',
      message: `a tool of sshgate's file script is missing on host "local" (sh: 1: find: not found)`,
    });
    await expect(files(host({ exitCode: 80, stderr: 'dd: error reading: Input/output error\n\n' })).realpath(p)).rejects.toMatchObject({
      code: 'internal',
      message: `the file operation on ${p} as root failed on host "local" (dd: error reading: Input/output error)`,
    });
    await expect(files(host({ out: null, exitCode: 2 })).realpath(p)).rejects.toMatchObject({
      message: `the file operation on ${p} as root failed on host "local" (exit status 2)`,
    });
    await expect(files(host({ out: null, exitCode: null })).lstat(p)).rejects.toMatchObject({ message: /\(exit status -1\)$/ });
  });

  it('shows the last line the tool said, its control characters blanked, cut at 300 characters', async () => {
    const said = `first line\n${'e\x1b[31m'.repeat(100)}\n  \n`;
    const err = (await files(host({ exitCode: 80, stderr: said }))
      .realpath(p)
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`(${'e [31m'.repeat(50)}…)`);
    expect(err.message).not.toContain('first line');
    expect(err.message).not.toContain('\x1b');
  });

  it('keeps the first 8 KiB of stderr', async () => {
    const runner: ScriptRunner = (command, io) => {
      for (let i = 0; i < 20; i++) void io.stderr(Buffer.from(`${' '.repeat(1016)}line ${String(i).padStart(2, '0')}\n`));
      return Promise.resolve({ exitCode: 80, signal: null });
    };
    const err = (await files(runner)
      .realpath(p)
      .catch((e: unknown) => e)) as Error;
    // Eight lines of 1024 bytes are kept; the ninth would start past 8192 bytes.
    expect(err.message).toMatch(/\(line 07\)$/);
  });

  it('reports a connection lost during the script', async () => {
    await expect(files(host({ out: '', exitCode: null, lost: 'the connection closed' })).lstat(p)).rejects.toMatchObject({
      code: 'lost',
      message: 'the connection to host "local" closed during the file operation (the connection closed)',
    });
  });

  it('refuses output out of shape, once the script has ended', async () => {
    await expect(files(host({ out: 'not a stat\n' })).lstat(p)).rejects.toMatchObject({ code: 'internal', message: /stat line/ });
    await expect(files(host({ out: null })).realpath(p)).rejects.toMatchObject({ message: /could not read the frame/ });
    // The login noise before the frame is dropped.
    expect(await files(host({ noise: 'Welcome!\n', out: 'f 1 644 0 0 1.0 1 1\n' })).lstat(p)).toMatchObject({ type: 'file', size: 1 });
    let ended = false;
    const reading: ScriptRunner = (command, io) => {
      const frame = /sshgate-files '([^']+)'/.exec(command)?.[1] ?? '';
      void io.stdout(Buffer.from(`${frame}\nnot a stat\n`));
      // What comes after a refused parse is not parsed; the script still runs to its end.
      void io.stdout(Buffer.from('more'));
      ended = true;
      return Promise.resolve({ exitCode: 0, signal: null });
    };
    await expect(files(reading).read(p, { offset: 0, length: 1 }, 10)).rejects.toMatchObject({ message: /stat line/ });
    expect(ended).toBe(true);
  });

  it('refuses a listing larger than 64 MiB without keeping it', async () => {
    const block = Buffer.alloc(1024 * 1024, 'a');
    const runner: ScriptRunner = (command, io) => {
      const frame = /sshgate-files '([^']+)'/.exec(command)?.[1] ?? '';
      void io.stdout(Buffer.from(`${frame}\n`));
      for (let i = 0; i < 65; i++) void io.stdout(block);
      return Promise.resolve({ exitCode: 0, signal: null });
    };
    await expect(files(runner).list('/srv', 10)).rejects.toMatchObject({
      code: 'internal',
      message: `the list of /srv on host "local" printed more than ${64 * 1024 * 1024} bytes`,
    });
  });

  it('finds a file changed while it was read: another version, another type, or bytes missing', async () => {
    const stat = (size: number, inode = 1, type = 'f') => `${type} ${size} 644 0 0 1.0 ${inode} 1`;
    // A read prints the frame twice: before its header and before its trailer.
    const reading =
      (header: string, data: string, trailer: string): ScriptRunner =>
      (command, io) => {
        const frame = /sshgate-files '([^']+)'/.exec(command)?.[1] ?? '';
        void io.stdout(Buffer.from(`${frame}\n${header}\n${data}${frame}\n${trailer}\n`));
        return Promise.resolve({ exitCode: 0, signal: null });
      };
    expect((await files(reading(stat(3), 'abc', stat(3))).read(p, { offset: 1, length: 5 }, 10)).data.toString()).toBe('bc');
    for (const [what, runner] of [
      ['replaced', reading(stat(3), 'abc', stat(3, 2))],
      ['gone', reading(stat(3), 'abc', '')],
      ['now a directory', reading(stat(3), 'abc', stat(3, 1, 'd'))],
      ['cut short', reading(stat(3), 'ab', stat(3))],
      ['a range cut short', reading(stat(100), 'ab', stat(100))],
    ] as const)
      await expect(files(runner).read(p, { offset: 0, length: 5 }, what === 'a range cut short' ? 10 : 1000), what).rejects.toMatchObject({
        code: 'file_changed',
        message: `${p} on host "local" changed while it was being read`,
      });
  });

  it('names what a read found that is not a file, or unknown without a header', async () => {
    await expect(files(host({ out: 'p 0 644 0 0 1.0 1 1\n', exitCode: 82 })).read(p, { offset: 0, length: 1 }, 1)).rejects.toMatchObject({
      code: 'not_a_file',
      message: `${p} on host "local" is a fifo, not a regular file`,
    });
    await expect(files(host({ out: 'c 0 644 0 0 1.0 1 1\n', exitCode: 82 })).read(p, { offset: 0, length: 1 }, 1)).rejects.toMatchObject({
      message: /is a char device, not/,
    });
    await expect(files(host({ out: null, exitCode: 82 })).read(p, { offset: 0, length: 1 }, 1)).rejects.toMatchObject({
      message: `${p} on host "local" is a unknown, not a regular file`,
    });
  });

  it("reports a write whose temp file did not get the content, and a failure of the script's own", async () => {
    await expect(files(host({ exitCode: 87 })).write(p, Buffer.from('x'), {})).rejects.toMatchObject({
      code: 'internal',
      message: `the temp file for ${p} on host "local" did not receive the content whole; nothing was written`,
    });
    await expect(
      files(host({ exitCode: 80, stderr: 'mktemp: No space left on device' })).write(p, Buffer.from('x'), {}),
    ).rejects.toMatchObject({
      code: 'internal',
      message: /\(mktemp: No space left on device\)$/,
    });
    await expect(files(host({ exitCode: 85 })).write(p, Buffer.from('x'), {})).rejects.toMatchObject({
      code: 'not_found',
      message: `the directory of ${p} does not exist on host "local"`,
    });
  });
});
