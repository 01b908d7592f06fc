/**
 * The file tools against a real OpenSSH sshd (its SFTP subsystem), driven through the MCP client:
 * reads by range with checksums, listing, atomic writes under compare-and-swap, edits with a diff,
 * and every way a path could reach past the files: rules — "..", "//", symlinks out of an allowed
 * directory, a symlink at the last component of a write.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chownSync,
} from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { startFleet, TEST_USER, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let gate: Gate;
let dir: string;
/** The host's files live here (the fleet's hosts are this machine, logged in to as TEST_USER). */
const base = `/tmp/sshgate-files-${process.pid}`;
const app = `${base}/app`;
const outside = `${base}/outside`;

const POLICY = `
limits: { max_file_bytes: 2000000 }
rules:
  - { name: tools, action: allow, commands: ["true"] }
files:
  - name: app
    action: allow
    read: ["${app}", "${app}/*"]
    write: ["${app}/*"]
  - name: small
    action: allow
    read: ["${app}/small/*"]
    write: ["${app}/small/*"]
    max_file_bytes: 100
  - name: logs
    action: allow
    read: ["${base}/logs/*"]
  - name: secrets
    action: deny
    read: ["${app}/secret*"]
    write: ["${app}/secret*"]
`;

function uid(): number {
  return Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());
}

/** A file on the host, owned by the login user. */
function put(path: string, data: string | Buffer, mode = 0o644): void {
  writeFileSync(path, data);
  chmodSync(path, mode);
  chownSync(path, uid(), uid());
}

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function mkdirOwned(path: string): void {
  mkdirSync(path, { recursive: true });
  chownSync(path, uid(), uid());
}

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 113 });
  for (const d of [base, app, `${app}/small`, `${base}/logs`, outside]) mkdirOwned(d);
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
  gate = await startGate(dir);
});
afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  if (dir) removeConfig(dir);
  rmSync(base, { recursive: true, force: true });
});

interface ReadResult {
  content: string;
  encoding: string;
  offset: number;
  bytes: number;
  eof: boolean;
  size: number;
  mode: string;
  sha256: string | null;
  range_sha256: string;
  resolved_path: string;
  task_id: string;
}
interface WriteResult {
  created: boolean;
  before: { sha256: string; size: number; mode: string } | null;
  after: { sha256: string; size: number; mode: string };
  resolved_path: string;
}

describe('ssh_read_file', () => {
  it('reads a text file whole, with its size, mode and sha256', async () => {
    const text = 'server {\n  listen 80;\n}\nwörld ✓\n';
    put(`${app}/nginx.conf`, text, 0o640);
    const r = await gate.ok<ReadResult>('ssh_read_file', { alias: 'h1', path: `${app}/nginx.conf` });
    expect(r).toMatchObject({ content: text, encoding: 'utf8', offset: 0, eof: true, size: Buffer.byteLength(text), mode: '0640' });
    expect(r.sha256).toBe(sha(text));
    expect(r.task_id).toMatch(/^h1:[0-9a-f]{12}:\d+$/);
  });

  it('reads by range, cut to a whole character, with the range hashed', async () => {
    const text = 'ab✓cd';
    put(`${app}/range.txt`, text);
    const r = await gate.ok<ReadResult>('ssh_read_file', { alias: 'h1', path: `${app}/range.txt`, offset: 1, max_bytes: 3 });
    // "b" and the first two bytes of "✓": the cut character is left for the next read.
    expect(r).toMatchObject({ content: 'b', bytes: 1, offset: 1, eof: false, size: 7 });
    expect(r.range_sha256).toBe(sha('b'));
    expect(r.sha256).toBe(sha(text));
    const next = await gate.ok<ReadResult>('ssh_read_file', { alias: 'h1', path: `${app}/range.txt`, offset: 2, max_bytes: 100 });
    expect(next).toMatchObject({ content: '✓cd', eof: true });
  });

  it('returns binary bytes as base64, byte-exact', async () => {
    const data = randomBytes(5000);
    put(`${app}/blob.bin`, data);
    const r = await gate.ok<ReadResult>('ssh_read_file', { alias: 'h1', path: `${app}/blob.bin` });
    expect(r.encoding).toBe('base64');
    expect(Buffer.from(r.content, 'base64').equals(data)).toBe(true);
    expect(r.sha256).toBe(sha(data));
  });

  it('refuses a FIFO without blocking, and a directory', async () => {
    execFileSync('mkfifo', [`${app}/pipe`]);
    chownSync(`${app}/pipe`, uid(), uid());
    expect((await gate.fails('ssh_read_file', { alias: 'h1', path: `${app}/pipe` })).code).toBe('not_a_file');
    expect((await gate.fails('ssh_read_file', { alias: 'h1', path: `${app}/small` })).code).toBe('not_a_file');
  });

  it('says not_found for a file that is not there', async () => {
    expect((await gate.fails('ssh_read_file', { alias: 'h1', path: `${app}/nope.txt` })).code).toBe('not_found');
  });
});

describe('paths past the rules', () => {
  it('refuses "..", ".", "//" and a trailing "/" before anything connects', async () => {
    for (const path of [`${app}/../outside/x`, `${app}/./nginx.conf`, `${app}//nginx.conf`, `${app}/small/`, 'etc/passwd']) {
      const e = await gate.fails('ssh_read_file', { alias: 'h1', path });
      expect(e.code, path).toBe('invalid_input');
    }
  });

  it('refuses what no rule allows, and what a deny rule names even inside an allowed tree', async () => {
    expect((await gate.fails('ssh_read_file', { alias: 'h1', path: '/etc/passwd' })).code).toBe('policy_denied');
    put(`${app}/secret.key`, 'k');
    expect((await gate.fails('ssh_read_file', { alias: 'h1', path: `${app}/secret.key` })).code).toBe('policy_denied');
    expect((await gate.fails('ssh_write_file', { alias: 'h1', path: `${base}/logs/x.log`, content: 'x' })).code).toBe('policy_denied');
  });

  it('judges where a symlink leads: one out of the allowed tree is refused for read and write', async () => {
    put(`${outside}/target.txt`, 'outside');
    symlinkSync(`${outside}/target.txt`, `${app}/link-out`);
    symlinkSync(outside, `${app}/dir-out`);
    const read = await gate.fails('ssh_read_file', { alias: 'h1', path: `${app}/link-out` });
    expect(read.code).toBe('policy_denied');
    expect(read.message).toContain(`${outside}/target.txt`);
    expect((await gate.fails('ssh_read_file', { alias: 'h1', path: `${app}/dir-out/target.txt` })).code).toBe('policy_denied');
    expect((await gate.fails('ssh_write_file', { alias: 'h1', path: `${app}/dir-out/new.txt`, content: 'x' })).code).toBe('policy_denied');
    expect(readdirSync(outside)).toEqual(['target.txt']);
  });

  it('never writes through a symlink at the last component, even one that stays inside', async () => {
    put(`${app}/real.txt`, 'real');
    symlinkSync(`${app}/real.txt`, `${app}/link-in`);
    const e = await gate.fails('ssh_write_file', { alias: 'h1', path: `${app}/link-in`, content: 'changed' });
    expect(e.code).toBe('not_a_file');
    expect(readFileSync(`${app}/real.txt`, 'utf8')).toBe('real');
    expect(lstatSync(`${app}/link-in`).isSymbolicLink()).toBe(true);
  });

  it('a symlink that stays inside is read as its target', async () => {
    const r = await gate.ok<ReadResult>('ssh_read_file', { alias: 'h1', path: `${app}/link-in` });
    expect(r).toMatchObject({ content: 'real', resolved_path: `${app}/real.txt` });
  });
});

describe('ssh_write_file', () => {
  it('creates a file atomically, mode 0644 by default, and leaves no temp file', async () => {
    const r = await gate.ok<WriteResult>('ssh_write_file', { alias: 'h1', path: `${app}/new.conf`, content: 'a = 1\n' });
    expect(r).toMatchObject({ created: true, after: { sha256: sha('a = 1\n'), size: 6, mode: '0644' } });
    // No file was there: before is left out, as every field with nothing to say is.
    expect(r).not.toHaveProperty('before');
    expect(readFileSync(`${app}/new.conf`, 'utf8')).toBe('a = 1\n');
    expect(readdirSync(app).filter((n) => n.includes('sshgate'))).toEqual([]);
  });

  it('keeps the mode of the file it replaces, and reports both versions', async () => {
    put(`${app}/keep.conf`, 'old\n', 0o600);
    const r = await gate.ok<WriteResult>('ssh_write_file', { alias: 'h1', path: `${app}/keep.conf`, content: 'new\n' });
    expect(r).toMatchObject({
      created: false,
      before: { sha256: sha('old\n'), mode: '0600' },
      after: { sha256: sha('new\n'), mode: '0600' },
    });
    expect(statSync(`${app}/keep.conf`).mode & 0o7777).toBe(0o600);
  });

  it('round-trips a binary file byte-exact through base64', async () => {
    const data = randomBytes(300_000);
    await gate.ok('ssh_write_file', { alias: 'h1', path: `${app}/round.bin`, content: data.toString('base64'), encoding: 'base64' });
    expect(readFileSync(`${app}/round.bin`).equals(data)).toBe(true);
    const parts: Buffer[] = [];
    for (let offset = 0; offset < data.length;) {
      const r = await gate.ok<ReadResult>('ssh_read_file', {
        alias: 'h1',
        path: `${app}/round.bin`,
        offset,
        max_bytes: 131_072,
        encoding: 'base64',
      });
      parts.push(Buffer.from(r.content, 'base64'));
      offset += r.bytes;
      if (r.eof) {
        expect(r.sha256).toBe(sha(data));
        break;
      }
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('refuses a write racing another writer (compare-and-swap), keeping the other write', async () => {
    put(`${app}/race.conf`, 'v1\n');
    const read = await gate.ok<ReadResult>('ssh_read_file', { alias: 'h1', path: `${app}/race.conf` });
    put(`${app}/race.conf`, 'v2 by someone else\n');
    const e = await gate.fails('ssh_write_file', { alias: 'h1', path: `${app}/race.conf`, content: 'v3\n', expected_sha256: read.sha256 });
    expect(e.code).toBe('file_changed');
    expect(readFileSync(`${app}/race.conf`, 'utf8')).toBe('v2 by someone else\n');
    expect(readdirSync(app).filter((n) => n.includes('sshgate'))).toEqual([]);
    const again = await gate.ok<ReadResult>('ssh_read_file', { alias: 'h1', path: `${app}/race.conf` });
    await gate.ok('ssh_write_file', { alias: 'h1', path: `${app}/race.conf`, content: 'v3\n', expected_sha256: again.sha256 });
    expect(readFileSync(`${app}/race.conf`, 'utf8')).toBe('v3\n');
  });

  it('create_only refuses a path that exists', async () => {
    put(`${app}/exists.conf`, 'here');
    expect((await gate.fails('ssh_write_file', { alias: 'h1', path: `${app}/exists.conf`, content: 'x', create_only: true })).code).toBe(
      'file_exists',
    );
    expect(readFileSync(`${app}/exists.conf`, 'utf8')).toBe('here');
  });

  it('refuses content over max_file_bytes (the rule caps below the limit)', async () => {
    const e = await gate.fails('ssh_write_file', { alias: 'h1', path: `${app}/small/x`, content: 'y'.repeat(101) });
    expect(e.code).toBe('file_too_large');
    expect(e.message).toContain('100');
    await gate.ok('ssh_write_file', { alias: 'h1', path: `${app}/small/x`, content: 'y'.repeat(100) });
  });

  it('refuses content that is not base64 when it says it is', async () => {
    expect((await gate.fails('ssh_write_file', { alias: 'h1', path: `${app}/b64`, content: 'not base64!', encoding: 'base64' })).code).toBe(
      'invalid_input',
    );
  });
});

describe('ssh_edit_file', () => {
  it('replaces the exact text and returns the diff', async () => {
    put(`${app}/site.conf`, 'server {\n  listen 80;\n  root /srv;\n}\n', 0o640);
    const r = await gate.ok<WriteResult & { diff: string; replaced: number }>('ssh_edit_file', {
      alias: 'h1',
      path: `${app}/site.conf`,
      old: 'listen 80;',
      new: 'listen 8080;',
    });
    expect(readFileSync(`${app}/site.conf`, 'utf8')).toBe('server {\n  listen 8080;\n  root /srv;\n}\n');
    expect(r.replaced).toBe(1);
    expect(r.diff).toContain('-  listen 80;\n+  listen 8080;\n');
    expect(r.after.mode).toBe('0640');
    expect(r.before?.sha256).toBe(sha('server {\n  listen 80;\n  root /srv;\n}\n'));
  });

  it('refuses when old occurs another number of times than stated, changing nothing', async () => {
    put(`${app}/twice.conf`, 'a\na\n');
    const e = await gate.fails('ssh_edit_file', { alias: 'h1', path: `${app}/twice.conf`, old: 'a', new: 'b' });
    expect(e).toMatchObject({ code: 'invalid_input' });
    expect(e.message).toContain('2 times');
    expect(readFileSync(`${app}/twice.conf`, 'utf8')).toBe('a\na\n');
  });

  it('refuses a stale expected_sha256', async () => {
    put(`${app}/stale.conf`, 'x\n');
    const e = await gate.fails('ssh_edit_file', {
      alias: 'h1',
      path: `${app}/stale.conf`,
      old: 'x',
      new: 'y',
      expected_sha256: sha('other'),
    });
    expect(e.code).toBe('file_changed');
  });
});

describe('ssh_list_dir', () => {
  it('lists entries by name with their types; a symlink is shown as one', async () => {
    const r = await gate.ok<{ entries: { name: string; type: string }[]; total: number; truncated: boolean }>('ssh_list_dir', {
      alias: 'h1',
      path: app,
    });
    const byName = Object.fromEntries(r.entries.map((e) => [e.name, e.type]));
    expect(byName).toMatchObject({ 'nginx.conf': 'file', small: 'directory', 'link-in': 'symlink', pipe: 'fifo' });
    expect(r.entries.map((e) => e.name)).toEqual([...r.entries.map((e) => e.name)].sort());
    expect(r.truncated).toBe(false);
    const cut = await gate.ok<{ entries: unknown[]; total: number; truncated: boolean }>('ssh_list_dir', {
      alias: 'h1',
      path: app,
      max_entries: 2,
    });
    expect(cut).toMatchObject({ total: r.total, truncated: true });
    expect(cut.entries).toHaveLength(2);
  });

  it('needs a read rule for the directory itself', async () => {
    expect((await gate.fails('ssh_list_dir', { alias: 'h1', path: base })).code).toBe('policy_denied');
  });
});

describe('the audit', () => {
  it('records which bytes were read and which landed', async () => {
    put(`${app}/audited.conf`, 'one\n');
    await gate.ok('ssh_read_file', { alias: 'h1', path: `${app}/audited.conf` });
    await gate.ok('ssh_write_file', { alias: 'h1', path: `${app}/audited.conf`, content: 'two\n' });
    const records = gate
      .log()
      .split('\n')
      .filter((l) => l.includes(`${app}/audited.conf`))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find((r) => r.event === 'file_read')).toMatchObject({
      offset: 0,
      bytes: 4,
      range_sha256: sha('one\n'),
      sha256: sha('one\n'),
    });
    expect(records.find((r) => r.event === 'file_write')).toMatchObject({
      sha256_before: sha('one\n'),
      sha256_after: sha('two\n'),
      size: 4,
      mode: '0644',
    });
    expect(records.filter((r) => r.event === 'file_decision').length).toBeGreaterThanOrEqual(2);
  });
});
