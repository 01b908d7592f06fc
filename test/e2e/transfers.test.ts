/**
 * ssh_put_file and ssh_get_file against a real OpenSSH sshd, driven through the MCP client: bytes
 * streamed between the transfer root and the host, verified at both ends, with progress, a wait
 * that returns a running task, cancel, resume after a time limit, and every way a local path could
 * leave the root.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, startGate, taskReaches, writeConfig, type Gate } from '../support/mcp.js';
import { startFleet, TEST_USER, type Fleet } from '../support/sshd.js';
import type { TransferResult } from '../../src/gateway/file-contract.js';

const MiB = 1024 * 1024;
let fleet: Fleet;
let gate: Gate;
let noRoot: Gate;
let dir: string;
let root: string;
const base = `/tmp/sshgate-transfers-${process.pid}`;
const app = `${base}/app`;

const POLICY = `
limits: { max_file_bytes: 400000000 }
rules:
  - { name: tools, action: allow, commands: ["true"] }
files:
  - { name: app, action: allow, read: ["${app}", "${app}/*"], write: ["${app}/*"] }
  - { name: small, action: allow, read: ["${app}/small/*"], write: ["${app}/small/*"], max_file_bytes: 1000 }
`;

/** What ssh_put_file and ssh_get_file answer. */
type Transfer = TransferResult;

const uid = () => Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());
const sha = (d: Buffer) => createHash('sha256').update(d).digest('hex');
const leftovers = (d: string) => readdirSync(d).filter((n) => n.includes('sshgate-'));

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 114 });
  for (const d of [base, app, `${app}/small`]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid(), uid());
  }
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
  root = join(dir, 'root');
  mkdirSync(root, { mode: 0o700 });
  chmodSync(root, 0o700);
  gate = await startGate(dir, { SSHGATE_TRANSFER_ROOT: root });
  noRoot = await startGate(dir);
});
afterAll(async () => {
  await gate?.close();
  await noRoot?.close();
  await fleet?.stop();
  if (dir) removeConfig(dir);
  rmSync(base, { recursive: true, force: true });
});

describe('round trips', () => {
  const data = randomBytes(8 * MiB + 17);

  it('puts a file byte-exact, verified by the host, and gets it back', async () => {
    writeFileSync(join(root, 'up.bin'), data);
    const started = Date.now();
    const put = await gate.ok<Transfer>('ssh_put_file', { alias: 'h1', local: 'up.bin', path: `${app}/up.bin` });
    const putMs = Date.now() - started;
    expect(put).toMatchObject({
      state: 'succeeded',
      bytes: data.length,
      size: data.length,
      sha256: sha(data),
      verified_by: 'openssl',
      resumed_from: 0,
      created: true,
    });
    expect(sha(readFileSync(`${app}/up.bin`))).toBe(sha(data));
    expect(leftovers(app)).toEqual([]);
    const t0 = Date.now();
    const get = await gate.ok<Transfer>('ssh_get_file', { alias: 'h1', path: `${app}/up.bin`, local: 'down.bin' });
    const getMs = Date.now() - t0;
    expect(get).toMatchObject({ state: 'succeeded', bytes: data.length, sha256: sha(data), verified_by: 'openssl', resumed_from: 0 });
    expect(readFileSync(join(root, 'down.bin')).equals(data)).toBe(true);
    expect(leftovers(root)).toEqual([]);
    console.log(`8 MiB put ${putMs} ms, get ${getMs} ms (whole calls)`);
  });

  it('refuses to overwrite a local file unless asked, then replaces it', async () => {
    expect((await gate.fails('ssh_get_file', { alias: 'h1', path: `${app}/up.bin`, local: 'down.bin' })).code).toBe('file_exists');
    writeFileSync(join(root, 'down.bin'), 'old');
    await gate.ok('ssh_get_file', { alias: 'h1', path: `${app}/up.bin`, local: 'down.bin', overwrite: true });
    expect(sha(readFileSync(join(root, 'down.bin')))).toBe(sha(data));
  });

  it('sends progress notifications with bytes of size', async () => {
    const seen: { progress: number; total?: number }[] = [];
    const r = await gate.client.callTool(
      { name: 'ssh_get_file', arguments: { alias: 'h1', path: `${app}/up.bin`, local: 'progress.bin' } },
      { onprogress: (p) => void seen.push(p), timeout: 60_000 },
    );
    expect(r.isError).toBeFalsy();
    expect(seen[0]?.progress).toBe(0);
    // Every later one carries the size as its total.
    for (const p of seen.slice(1)) expect(p.total).toBe(data.length);
  });
});

describe('long transfers', () => {
  // Large enough that a transfer outlasts the shortest time limit (1 s) on a fast machine too:
  // 380 MiB took 1.5-2 s each way here (put 180-250 MB/s), under the policy's 400 MB.
  const big = randomBytes(380 * MiB);
  beforeAll(() => writeFileSync(join(root, 'big.bin'), big));

  it('returns running after wait_seconds, and the summary is the task output', async () => {
    const r = await gate.ok<Transfer>('ssh_put_file', { alias: 'h1', local: 'big.bin', path: `${app}/big.bin`, wait_seconds: 0.3 });
    expect(r.state).toBe('running');
    expect(r.size).toBe(big.length);
    await taskReaches(gate, r.task_id, 'succeeded', { polls: 600, every: 100 });
    const out = await gate.ok<{ stdout: string }>('ssh_get_task_output', { task_id: r.task_id });
    const summary = JSON.parse(out.stdout) as Transfer;
    expect(summary).toMatchObject({ task_id: r.task_id, state: 'succeeded', sha256: sha(big), bytes: big.length });
  });

  it('one transfer per remote path at a time', async () => {
    const r = await gate.ok<Transfer>('ssh_put_file', { alias: 'h1', local: 'big.bin', path: `${app}/busy.bin`, wait_seconds: 0 });
    expect((await gate.fails('ssh_put_file', { alias: 'h1', local: 'big.bin', path: `${app}/busy.bin` })).code).toBe('busy');
    await gate.ok('ssh_cancel', { task_id: r.task_id });
  });

  it('a cancelled put leaves no partial file on the host', async () => {
    const r = await gate.ok<Transfer>('ssh_put_file', { alias: 'h1', local: 'big.bin', path: `${app}/cancelled.bin`, wait_seconds: 0 });
    for (let i = 0; i < 200; i++) {
      const s = await gate.ok<{ state: string }>('ssh_get_task_status', { task_id: r.task_id });
      if (existsSync(`${app}/.cancelled.bin.sshgate-partial`) && statSync(`${app}/.cancelled.bin.sshgate-partial`).size > 0) break;
      if (s.state !== 'running') break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const c = await gate.ok<{ state: string }>('ssh_cancel', { task_id: r.task_id });
    expect(c.state).toBe('cancelled');
    expect(existsSync(`${app}/cancelled.bin`)).toBe(false);
    expect(leftovers(app)).toEqual([]);
  });

  it('a cancelled get leaves no partial file locally', async () => {
    const r = await gate.ok<Transfer>('ssh_get_file', { alias: 'h1', path: `${app}/big.bin`, local: 'cancelled.bin', wait_seconds: 0 });
    for (let i = 0; i < 200 && !existsSync(join(root, 'cancelled.bin.sshgate-partial')); i++)
      await new Promise((res) => setTimeout(res, 20));
    const c = await gate.ok<{ state: string }>('ssh_cancel', { task_id: r.task_id });
    expect(c.state).toBe('cancelled');
    expect(leftovers(root)).toEqual([]);
    expect(existsSync(join(root, 'cancelled.bin'))).toBe(false);
  });

  it('a put cut by its time limit resumes from the partial and ends verified', async () => {
    const e = await gate.fails('ssh_put_file', { alias: 'h1', local: 'big.bin', path: `${app}/resumed.bin`, timeout_seconds: 1 });
    expect(e.code).toBe('timeout');
    expect(e.hint).toMatch(/resume: true/);
    const kept = statSync(`${app}/.resumed.bin.sshgate-partial`).size;
    expect(kept).toBeGreaterThan(0);
    const r = await gate.ok<Transfer>('ssh_put_file', { alias: 'h1', local: 'big.bin', path: `${app}/resumed.bin`, resume: true });
    expect(r).toMatchObject({ state: 'succeeded', sha256: sha(big), resumed_from: kept, verified_by: 'openssl' });
    expect(sha(readFileSync(`${app}/resumed.bin`))).toBe(sha(big));
    expect(leftovers(app)).toEqual([]);
  });

  it('a get cut by its time limit resumes from the local partial and ends verified', async () => {
    const e = await gate.fails('ssh_get_file', { alias: 'h1', path: `${app}/big.bin`, local: 'resumed.bin', timeout_seconds: 1 });
    expect(e.code).toBe('timeout');
    const kept = statSync(join(root, 'resumed.bin.sshgate-partial')).size;
    expect(kept).toBeGreaterThan(0);
    const r = await gate.ok<Transfer>('ssh_get_file', { alias: 'h1', path: `${app}/big.bin`, local: 'resumed.bin', resume: true });
    expect(r).toMatchObject({ state: 'succeeded', sha256: sha(big), resumed_from: kept });
    expect(sha(readFileSync(join(root, 'resumed.bin')))).toBe(sha(big));
    expect(leftovers(root)).toEqual([]);
  });

  // The host's hash is what checks the bytes a resume did not send again: a partial changed
  // between the cut and the resume must never end in place.
  it('a resumed put whose partial on the host was changed meanwhile is file_changed, and nothing is in place', async () => {
    const e = await gate.fails('ssh_put_file', { alias: 'h1', local: 'big.bin', path: `${app}/tampered.bin`, timeout_seconds: 1 });
    expect(e.code).toBe('timeout');
    const partial = `${app}/.tampered.bin.sshgate-partial`;
    expect(statSync(partial).size).toBeGreaterThan(16);
    tamper(partial);
    const r = await gate.fails('ssh_put_file', { alias: 'h1', local: 'big.bin', path: `${app}/tampered.bin`, resume: true });
    expect(r.code).toBe('file_changed');
    expect(existsSync(`${app}/tampered.bin`)).toBe(false);
    expect(leftovers(app)).toEqual([]);
  });

  it('a resumed get whose local partial was changed meanwhile is file_changed, and nothing is in place', async () => {
    const e = await gate.fails('ssh_get_file', { alias: 'h1', path: `${app}/big.bin`, local: 'tampered.bin', timeout_seconds: 1 });
    expect(e.code).toBe('timeout');
    const partial = join(root, 'tampered.bin.sshgate-partial');
    expect(statSync(partial).size).toBeGreaterThan(16);
    tamper(partial);
    const r = await gate.fails('ssh_get_file', { alias: 'h1', path: `${app}/big.bin`, local: 'tampered.bin', resume: true });
    expect(r.code).toBe('file_changed');
    expect(existsSync(join(root, 'tampered.bin'))).toBe(false);
    expect(leftovers(root)).toEqual([]);
  });
});

/** Overwrites 16 bytes at the start of a file, its size unchanged. */
function tamper(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(16, 0x55), 0, 16, 0);
  } finally {
    closeSync(fd);
  }
}

describe('refusals', () => {
  it('refuses local paths that leave the root or are spelt loosely', async () => {
    for (const local of ['../x', 'a/../b', './x', '/etc/passwd', 'a//b', 'dir/', '']) {
      const e = await gate.fails('ssh_get_file', { alias: 'h1', path: `${app}/up.bin`, local });
      expect(e.code, local).toBe('invalid_input');
    }
  });

  it('follows no symlink inside the transfer root', async () => {
    writeFileSync(join(base, 'outside.txt'), 'secret');
    symlinkSync(join(base, 'outside.txt'), join(root, 'link.txt'));
    symlinkSync(base, join(root, 'linkdir'));
    expect((await gate.fails('ssh_put_file', { alias: 'h1', local: 'link.txt', path: `${app}/x.txt` })).code).toBe('forbidden');
    expect((await gate.fails('ssh_put_file', { alias: 'h1', local: 'linkdir/outside.txt', path: `${app}/x.txt` })).code).toBe('forbidden');
    expect((await gate.fails('ssh_get_file', { alias: 'h1', path: `${app}/up.bin`, local: 'linkdir/new.bin' })).code).toBe('forbidden');
    expect(existsSync(join(base, 'new.bin'))).toBe(false);
    expect(existsSync(`${app}/x.txt`)).toBe(false);
  });

  it('judges the remote path by the files: rules and bounds it by max_file_bytes', async () => {
    writeFileSync(join(root, 'small.txt'), 'x'.repeat(2000));
    expect((await gate.fails('ssh_put_file', { alias: 'h1', local: 'small.txt', path: '/etc/x.txt' })).code).toBe('policy_denied');
    expect((await gate.fails('ssh_get_file', { alias: 'h1', path: '/etc/passwd', local: 'passwd' })).code).toBe('policy_denied');
    expect((await gate.fails('ssh_put_file', { alias: 'h1', local: 'small.txt', path: `${app}/small/s.txt` })).code).toBe('file_too_large');
    writeFileSync(`${app}/small/big.txt`, 'y'.repeat(2000));
    expect((await gate.fails('ssh_get_file', { alias: 'h1', path: `${app}/small/big.txt`, local: 'big.txt' })).code).toBe('file_too_large');
  });

  it('without a transfer root the tools refuse and say how to set one', async () => {
    const e = await noRoot.fails('ssh_get_file', { alias: 'h1', path: `${app}/up.bin`, local: 'x.bin' });
    expect(e.code).toBe('invalid_config');
    expect(e.hint).toMatch(/--transfer-root/);
  });
});

describe('serve checks the transfer root', () => {
  const serve = (rootDir: string) =>
    spawnSync(
      process.execPath,
      [resolve('dist/cli.js'), 'serve', '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), '--transfer-root', rootDir],
      {
        encoding: 'utf8',
        input: '',
        env: { PATH: process.env.PATH ?? '', SSHGATE_STATE_DIR: join(dir, 'state'), SSHGATE_LOG_LEVEL: 'silent' },
        timeout: 20_000,
      },
    );

  it('refuses a group-readable root, a symlink, and one inside the config dir', () => {
    const loose = join(dir, 'loose');
    mkdirSync(loose, { mode: 0o750 });
    chmodSync(loose, 0o750);
    let r = serve(loose);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/mode 0750.*\n.*chmod 700/);
    symlinkSync(root, join(dir, 'rootlink'));
    r = serve(join(dir, 'rootlink'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is a symlink/);
    const inside = join(dir, 'config', 'transfers');
    mkdirSync(inside, { mode: 0o700 });
    r = serve(inside);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/overlaps the config dir/);
  });
});
