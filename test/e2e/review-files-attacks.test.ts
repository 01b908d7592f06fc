/**
 * Review 17 (adversarial): the file tools and the files: policy against a real sshd. Tests that
 * FAIL here demonstrate a problem found in review; tests that pass record what held.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { startFleet, TEST_USER, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let gate: Gate;
let dir: string;
const base = `/tmp/sshgate-r17-${process.pid}`;
const app = `${base}/app`;
const outside = `${base}/outside`;
const full = `${app}/full`;

// h1 logs in as the test user, h2 as root (a common setup for operations work).
const POLICY = `
limits: { max_file_bytes: 4000000 }
overrides:
  aliases: { h3: { host_commands_per_minute: 2 }, h4: { max_file_bytes: 1099511627776, max_seconds: 2 } }
rules:
  - { name: tools, action: allow, commands: ["true"] }
files:
  - name: app
    action: allow
    read: ["${app}", "${app}/*"]
    write: ["${app}/*"]
  - name: keys
    action: deny
    read: ["${app}/ssl/*"]
    write: ["${app}/ssl/*"]
  - name: replacement-char
    action: deny
    read: ["${app}/locked\\uFFFD*"]
    write: ["${app}/locked\\uFFFD*"]
`;

function uid(): number {
  return Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());
}
function put(path: string, data: string | Buffer, mode = 0o644): void {
  writeFileSync(path, data);
  chmodSync(path, mode);
  chownSync(path, uid(), uid());
}
function mkdirOwned(path: string): void {
  mkdirSync(path, { recursive: true });
  chownSync(path, uid(), uid());
}
function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
const temps = (d: string) => readdirSync(d).filter((n) => n.includes('.sshgate-'));

let tmpfsMounted = false;

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 116 });
  for (const d of [base, app, outside, `${app}/ssl`]) mkdirOwned(d);
  const h = fleet.hosts[0] as (typeof fleet.hosts)[number];
  dir = writeConfig(fleet, {
    hosts: [
      { alias: 'h1', host: h.host, port: h.port },
      { alias: 'h2', host: h.host, port: h.port, user: 'root' },
      { alias: 'h3', host: h.host, port: h.port },
      { alias: 'h4', host: h.host, port: h.port },
    ],
    policy: POLICY,
  });
  gate = await startGate(dir);
}, 60_000);

afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  if (dir) removeConfig(dir);
  if (tmpfsMounted) execFileSync('umount', [full]);
  rmSync(base, { recursive: true, force: true });
});

interface WriteResult {
  created: boolean;
  after: { sha256: string; size: number; mode: string };
  resolved_path: string;
}

describe('findings', () => {
  // Found by review 17 (fixed): mode accepts set-id bits; a write rule on a tree lets an agent plant a setuid binary
  // (setuid root where the login user is root). Nothing in the policy can forbid it.
  it('refuses set-id bits on a new file (mode "4755"), or drops them', async () => {
    const path = `${app}/suid-tool`;
    const r = await gate.call('ssh_write_file', { alias: 'h2', path, content: '#!/bin/sh\nid\n', mode: '4755' });
    if (!r.isError) {
      const st = statSync(path);
      expect({ mode: (st.mode & 0o7777).toString(8), uid: st.uid }).toEqual({ mode: '755', uid: 0 });
    }
    expect(existsSync(path) ? statSync(path).mode & 0o6000 : 0).toBe(0);
  });

  // Found by review 17 (fixed): the policy judges the JS string; a lone surrogate is sent as U+FFFD (EF BF BD), so a
  // write lands on another name than the one judged and audited. A deny rule naming that file is
  // bypassed for writes (reads are caught: realpath answers with the U+FFFD name, judged again).
  it('refuses a path with a lone surrogate instead of writing another name than the one judged', async () => {
    const r = await gate.call('ssh_write_file', { alias: 'h1', path: `${app}/locked\uD800`, content: 'planted' });
    expect(readdirSync(app).filter((n) => n.startsWith('locked'))).toEqual([]);
    expect(r.isError).toBe(true);
  });

  // Found by review 17 (fixed): the temp name adds ~30 bytes to the last component, so a file whose name is a valid
  // 226..255 bytes can never be written (ENAMETOOLONG on the temp, reported as "internal").
  it('writes a file whose name is long but valid (240 bytes)', async () => {
    const name = 'n'.repeat(240);
    const r = await gate.call('ssh_write_file', { alias: 'h1', path: `${app}/${name}`, content: 'x' });
    expect(r.isError ? JSON.stringify(r.structuredContent ?? r.content) : 'ok').toBe('ok');
    expect(readFileSync(`${app}/${name}`, 'utf8')).toBe('x');
  });

  // Found by review 17 (fixed; policy): with the documented pattern pair (allow read /dir/*, deny read /dir/ssl/*),
  // the denied directory can still be listed: names, sizes, modes and mtimes of the keys.
  it('does not list a directory whose every entry a deny rule forbids reading', async () => {
    put(`${app}/ssl/server.key`, 'PRIVATE');
    expect((await gate.fails('ssh_read_file', { alias: 'h1', path: `${app}/ssl/server.key` })).code).toBe('policy_denied');
    const r = await gate.call('ssh_list_dir', { alias: 'h1', path: `${app}/ssl` });
    expect(JSON.stringify(r.structuredContent)).not.toContain('server.key');
  });

  // A symlink loop: the message and code should say what it is, not "internal".
  it('a symlink loop is not reported as an internal error', async () => {
    symlinkSync(`${app}/loop2`, `${app}/loop1`);
    symlinkSync(`${app}/loop1`, `${app}/loop2`);
    const e = await gate.fails('ssh_read_file', { alias: 'h1', path: `${app}/loop1` });
    expect(e.code).not.toBe('internal');
  });
});

describe('held', () => {
  it('writing through a hard link to a file outside replaces the link, not the outside file', async () => {
    writeFileSync(`${outside}/protected.txt`, 'protected');
    linkSync(`${outside}/protected.txt`, `${app}/hl`);
    const r = await gate.ok<WriteResult>('ssh_write_file', { alias: 'h1', path: `${app}/hl`, content: 'mine' });
    expect(r.after.sha256).toBe(sha('mine'));
    expect(readFileSync(`${outside}/protected.txt`, 'utf8')).toBe('protected');
    expect(readFileSync(`${app}/hl`, 'utf8')).toBe('mine');
  });

  it('a full disk fails the write and leaves no temp file', async () => {
    mkdirSync(full, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full]);
    tmpfsMounted = true;
    chownSync(full, uid(), uid());
    const big = Buffer.alloc(1_500_000, 0x61).toString('utf8');
    const e = await gate.fails('ssh_write_file', { alias: 'h1', path: `${full}/big.txt`, content: big });
    expect(e.code).not.toBe('');
    expect(readdirSync(full)).toEqual([]);
  });

  it('ten concurrent create_only writers: exactly one wins, no temp files', async () => {
    const path = `${app}/race-create.txt`;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => gate.call('ssh_write_file', { alias: 'h1', path, content: `w${i}`, create_only: true })),
    );
    const ok = results.filter((r) => !r.isError);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((x) => x.isError)) expect(JSON.stringify(r.structuredContent ?? r.content)).toContain('file_exists');
    expect(temps(app)).toEqual([]);
  });

  it('a FIFO at a write target is refused, and the FIFO stays', async () => {
    execFileSync('mkfifo', [`${app}/wpipe`]);
    expect((await gate.fails('ssh_write_file', { alias: 'h1', path: `${app}/wpipe`, content: 'x' })).code).toBe('not_a_file');
    expect(statSync(`${app}/wpipe`).isFIFO()).toBe(true);
  });

  it('an edit through a symlink at the last component is refused without reading the target', async () => {
    writeFileSync(`${outside}/shadow`, 'root:secret\n');
    symlinkSync(`${outside}/shadow`, `${app}/sh-link`);
    const e = await gate.fails('ssh_edit_file', { alias: 'h1', path: `${app}/sh-link`, old: 'root:secret', new: 'x' });
    expect(e.code).toBe('not_a_file');
    expect(e.message).not.toContain('occurs');
  });

  it('a huge offset reads nothing, at eof', async () => {
    put(`${app}/off.txt`, 'abc');
    const r = await gate.ok<{ bytes: number; eof: boolean }>('ssh_read_file', {
      alias: 'h1',
      path: `${app}/off.txt`,
      offset: Number.MAX_SAFE_INTEGER,
    });
    expect(r).toMatchObject({ bytes: 0, eof: true });
  });

  it('overlapping occurrences are counted and replaced alike (non-overlapping, left to right)', async () => {
    put(`${app}/overlap.txt`, 'aaa\r\n');
    const r = await gate.ok<{ replaced: number }>('ssh_edit_file', { alias: 'h1', path: `${app}/overlap.txt`, old: 'aa', new: 'X' });
    expect(r.replaced).toBe(1);
    expect(readFileSync(`${app}/overlap.txt`, 'utf8')).toBe('Xa\r\n');
  });

  it('file calls count against the host quota', async () => {
    put(`${app}/q.txt`, 'q');
    await gate.ok('ssh_read_file', { alias: 'h3', path: `${app}/q.txt` });
    await gate.ok('ssh_read_file', { alias: 'h3', path: `${app}/q.txt` });
    expect((await gate.fails('ssh_read_file', { alias: 'h3', path: `${app}/q.txt` })).code).toBe('rate_limited');
  });

  it('a glob character in a path is a literal name, judged as such', async () => {
    const e = await gate.fails('ssh_write_file', { alias: 'h1', path: `${app}/ssl/*`, content: 'x' });
    expect(e.code).toBe('policy_denied');
  });

  it('a 1-byte read of a huge file (hashed whole) stops at max_seconds', async () => {
    execFileSync('truncate', ['-s', '40G', `${app}/sparse.img`]);
    chownSync(`${app}/sparse.img`, uid(), uid());
    const t0 = Date.now();
    const e = await gate.fails('ssh_read_file', { alias: 'h4', path: `${app}/sparse.img`, max_bytes: 1 });
    expect(e.code).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(8000);
    rmSync(`${app}/sparse.img`);
  });
});
