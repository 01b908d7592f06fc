/**
 * The file tools with `become` against a real sshd and the real sudo: root-only files read and
 * written through sshgate's fixed scripts, owner and mode kept, compare-and-swap, create_only, a
 * symlink refused, the files: rules' become: scoping, a cancel mid-write, and the password looked
 * for everywhere it must not be.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endedWithin, removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { ensureUser, startFleet, TEST_USER, type Fleet } from '../support/sshd.js';
import { installSudoers, setPasswords, type Sudoers } from '../support/sudoers.js';
import type { TransferResult } from '../../src/gateway/file-contract.js';

/** A login user of its own, with a password sudo asks for. */
const LOGIN = `${TEST_USER}-fbecome`;
const PASSWORD = `F1les-${randomBytes(9).toString('hex')}`;
const base = `/tmp/sshgate-files-become-${process.pid}`;
/** Root's: 0700, so the login user cannot even look inside. */
const rootDir = `${base}/root`;
/** The login user's own. */
const plainDir = `${base}/plain`;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const POLICY = `
limits: { max_file_bytes: ${2 * GiB} }
rules:
  - { name: tools, action: allow, commands: ["true"] }
files:
  - name: plain files
    action: allow
    read: ["${plainDir}", "${plainDir}/*"]
    write: ["${plainDir}/*"]
  - name: root files
    action: allow
    become: root
    read: ["${rootDir}", "${rootDir}/*"]
    write: ["${rootDir}/*"]
  - name: never the shadow file
    action: deny
    read: ["${rootDir}/shadow*"]
    write: ["${rootDir}/shadow*"]
`;

let fleet: Fleet;
let gate: Gate;
let dir: string;
let sudoers: Sudoers | undefined;
let audit: string;
/** The transfer root of the server (serve --transfer-root). */
let local: string;
const results: CallToolResult[] = [];

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

/** Leftover temp files of writes in a directory. */
function temps(d: string): string[] {
  return readdirSync(d).filter((n) => n.includes('.sshgate-'));
}

beforeAll(async () => {
  ensureUser(LOGIN);
  setPasswords({ [LOGIN]: PASSWORD });
  sudoers = installSudoers('files-become', [`Defaults:${LOGIN} !lecture`, `${LOGIN} ALL=(root) /bin/bash`]);
  mkdirSync(base, { mode: 0o755 });
  mkdirSync(rootDir, { mode: 0o700 });
  mkdirSync(plainDir, { mode: 0o755 });
  chownSync(plainDir, uidOf(LOGIN), uidOf(LOGIN));

  fleet = await startFleet(2, { subnet: 115 });
  const [h1, h2] = fleet.hosts as [Fleet['hosts'][0], Fleet['hosts'][0]];
  dir = writeConfig(fleet, {
    hosts: [
      { ...h1, alias: 'with-pw', credentials: 'become-pw', user: LOGIN },
      { ...h2, alias: 'no-pw', credentials: 'become-nopw', user: LOGIN },
    ],
    policy: POLICY,
    credentials: [
      `{ name: become-pw, username: ${LOGIN}, key_path: fleet, become_password_secret: become_pw }`,
      `{ name: become-nopw, username: ${LOGIN}, key_path: fleet }`,
    ],
  });
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  writeFileSync(join(secrets, 'become_pw'), `${PASSWORD}\n`, { mode: 0o600 });
  audit = join(dir, 'audit.jsonl');
  local = join(dir, 'transfers');
  mkdirSync(local, { mode: 0o700 });
  gate = await startGate(dir, { SSHGATE_SECRETS_DIR: secrets, SSHGATE_AUDIT_LOG: audit, SSHGATE_TRANSFER_ROOT: local });
  const callTool = gate.client.callTool.bind(gate.client);
  gate.client.callTool = async (...args: Parameters<typeof callTool>) => {
    const r = await callTool(...args);
    results.push(r);
    return r;
  };
}, 60_000);

afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  sudoers?.remove();
  rmSync(base, { recursive: true, force: true });
  if (dir) removeConfig(dir);
});

interface ReadResult {
  content: string;
  sha256: string;
  mode: string;
  uid: number;
  resolved_path: string;
  become?: string;
}
interface WriteResult {
  created: boolean;
  before: { sha256: string; size: number; mode: string } | null;
  after: { sha256: string; size: number; mode: string };
  become?: string;
}

describe('reading as root', () => {
  it('reads a root-only 0600 file the login user cannot', async () => {
    writeFileSync(`${rootDir}/secret.conf`, 'root only\n', { mode: 0o600 });
    const plain = await gate.fails('ssh_read_file', { alias: 'with-pw', path: `${rootDir}/secret.conf` });
    expect(plain.code).toBe('policy_denied');
    const r = await gate.ok<ReadResult>('ssh_read_file', { alias: 'with-pw', path: `${rootDir}/secret.conf`, become: 'root' });
    expect(r).toMatchObject({ content: 'root only\n', sha256: sha('root only\n'), mode: '0600', uid: 0, become: 'root' });
  });

  it('lists a directory only root may read, names with newlines and quotes included', async () => {
    writeFileSync(`${rootDir}/odd\nname 'q' $(x)`, 'x');
    const r = await gate.ok<{ entries: { name: string; type: string }[] }>('ssh_list_dir', {
      alias: 'with-pw',
      path: rootDir,
      become: 'root',
    });
    expect(r.entries.map((e) => e.name)).toContain(`odd\nname 'q' $(x)`);
  });

  it('deny rules without become: still hold for elevated calls', async () => {
    writeFileSync(`${rootDir}/shadow`, 'x', { mode: 0o600 });
    const e = await gate.fails('ssh_read_file', { alias: 'with-pw', path: `${rootDir}/shadow`, become: 'root' });
    expect(e.code).toBe('policy_denied');
  });
});

describe('writing as root', () => {
  it('replaces a root-owned file, keeping owner root, its group and its mode', async () => {
    const p = `${rootDir}/app.conf`;
    writeFileSync(p, 'old\n');
    chownSync(p, 0, 4); // group adm
    chmodSync(p, 0o640);
    const w = await gate.ok<WriteResult>('ssh_write_file', { alias: 'with-pw', path: p, content: 'new\n', become: 'root' });
    expect(w).toMatchObject({
      created: false,
      before: { sha256: sha('old\n'), mode: '0640' },
      after: { sha256: sha('new\n'), mode: '0640' },
    });
    const st = statSync(p);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 4, 0o640]);
    expect(readFileSync(p, 'utf8')).toBe('new\n');
    expect(temps(rootDir)).toEqual([]);
  });

  it('edits under compare-and-swap, and refuses a stale hash', async () => {
    const p = `${rootDir}/edit.conf`;
    writeFileSync(p, 'listen 80;\n', { mode: 0o600 });
    const r = await gate.ok<ReadResult>('ssh_read_file', { alias: 'with-pw', path: p, become: 'root' });
    const e = await gate.ok<WriteResult & { diff: string }>('ssh_edit_file', {
      alias: 'with-pw',
      path: p,
      old: '80',
      new: '8080',
      expected_sha256: r.sha256,
      become: 'root',
    });
    expect(e.diff).toContain('+listen 8080;');
    expect(readFileSync(p, 'utf8')).toBe('listen 8080;\n');
    const stale = await gate.fails('ssh_write_file', {
      alias: 'with-pw',
      path: p,
      content: 'x',
      expected_sha256: r.sha256,
      become: 'root',
    });
    expect(stale.code).toBe('file_changed');
    expect(readFileSync(p, 'utf8')).toBe('listen 8080;\n');
  });

  it('create_only creates a root file once, then refuses', async () => {
    const p = `${rootDir}/new.conf`;
    const w = await gate.ok<WriteResult>('ssh_write_file', {
      alias: 'with-pw',
      path: p,
      content: 'fresh',
      create_only: true,
      mode: '0600',
      become: 'root',
    });
    expect(w).toMatchObject({ created: true, after: { mode: '0600', size: 5 } });
    expect(w.before ?? null).toBeNull();
    expect(statSync(p).uid).toBe(0);
    const again = await gate.fails('ssh_write_file', { alias: 'with-pw', path: p, content: 'x', create_only: true, become: 'root' });
    expect(again.code).toBe('file_exists');
  });

  it('refuses a symlink at the last component and leaves it and its target alone', async () => {
    const target = `${rootDir}/target.conf`;
    writeFileSync(target, 'target\n');
    symlinkSync(target, `${rootDir}/link.conf`);
    const e = await gate.fails('ssh_write_file', { alias: 'with-pw', path: `${rootDir}/link.conf`, content: 'x', become: 'root' });
    expect(e.code).toBe('not_a_file');
    expect(e.message).toMatch(/symlink/);
    expect(readFileSync(target, 'utf8')).toBe('target\n');
  });

  it('a cancel mid-write leaves no temp file and the old content', async () => {
    // A large (sparse) file makes the check before the rename slow: the temp file exists meanwhile.
    const p = `${rootDir}/big.img`;
    execFileSync('truncate', ['-s', '300M', p]);
    const { task_id } = await new Promise<{ task_id: string }>((resolve, reject) => {
      const writing = gate.call('ssh_write_file', { alias: 'with-pw', path: p, content: 'small', become: 'root' });
      const until = Date.now() + 20_000;
      const poll = async () => {
        if (temps(rootDir).length > 0) {
          const tasks = await gate.ok<{ tasks: { task_id: string; command: string; state: string }[] }>('ssh_list_tasks', {});
          const t = tasks.tasks.find((x) => x.command === `write_file ${p}` && x.state === 'running');
          if (t) return resolve({ task_id: t.task_id });
        }
        if (Date.now() > until) return reject(new Error('the temp file never appeared'));
        setTimeout(() => void poll().catch(reject), 20);
      };
      void poll().catch(reject);
      void writing.catch(() => undefined);
    });
    await gate.ok('ssh_cancel', { task_id });
    expect(await endedWithin(gate, task_id, 15_000)).toBe('cancelled');
    const gone = Date.now() + 5000;
    while (temps(rootDir).length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(temps(rootDir)).toEqual([]);
    expect(statSync(p).size).toBe(300 * 1024 ** 2);
    rmSync(p);
  }, 60_000);
});

/** What ssh_put_file and ssh_get_file answer. */
type Transfer = TransferResult;

/** Waits until `seen` holds, polling every 20 ms, for at most `ms`. */
async function until(seen: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!seen()) {
    if (Date.now() > end) throw new Error('not seen in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('transfers as root', () => {
  it('puts a binary file where only root may write, and gets it back byte-exact, hashed on the host as root', async () => {
    const data = randomBytes(3 * MiB + 5);
    writeFileSync(join(local, 'up.bin'), data);
    const p = `${rootDir}/up.bin`;
    const put = await gate.ok<Transfer>('ssh_put_file', { alias: 'with-pw', local: 'up.bin', path: p, become: 'root', mode: '0600' });
    expect(put).toMatchObject({ state: 'succeeded', become: 'root', sha256: sha(data), verified_by: 'openssl', created: true });
    expect(readFileSync(p).equals(data)).toBe(true);
    const st = statSync(p);
    expect([st.uid, st.mode & 0o7777]).toEqual([0, 0o600]);
    expect(temps(rootDir)).toEqual([]);

    const get = await gate.ok<Transfer>('ssh_get_file', { alias: 'with-pw', path: p, local: 'down.bin', become: 'root' });
    expect(get).toMatchObject({ state: 'succeeded', become: 'root', sha256: sha(data), verified_by: 'openssl', size: data.length });
    expect(readFileSync(join(local, 'down.bin')).equals(data)).toBe(true);

    // Compare-and-swap and create_only hold for an elevated put as for an elevated write.
    const stale = await gate.fails('ssh_put_file', {
      alias: 'with-pw',
      local: 'up.bin',
      path: p,
      become: 'root',
      expected_sha256: sha('something else'),
    });
    expect(stale.code).toBe('file_changed');
    const once = await gate.fails('ssh_put_file', { alias: 'with-pw', local: 'up.bin', path: p, become: 'root', create_only: true });
    expect(once.code).toBe('file_exists');
    expect(temps(rootDir)).toEqual([]);
    // Without become the same path is not the login user's to write, and the policy says so first.
    expect((await gate.fails('ssh_put_file', { alias: 'with-pw', local: 'up.bin', path: p })).code).toBe('policy_denied');
  });

  it('a cancelled elevated put leaves no temp file on the host and nothing in place', async () => {
    execFileSync('sh', ['-c', `head -c ${512 * MiB} /dev/zero > '${join(local, 'big.bin')}'`]);
    const p = `${rootDir}/cancelled.bin`;
    const r = await gate.ok<Transfer>('ssh_put_file', { alias: 'with-pw', local: 'big.bin', path: p, become: 'root', wait_seconds: 0 });
    expect(r).toMatchObject({ state: 'running', become: 'root' });
    await until(() => temps(rootDir).length > 0, 20_000);
    const c = await gate.ok<{ state: string }>('ssh_cancel', { task_id: r.task_id });
    expect(c.state).toBe('cancelled');
    await until(() => temps(rootDir).length === 0, 10_000);
    expect(existsSync(p)).toBe(false);
  }, 60_000);

  it('a get as root cut by its time limit resumes from the local partial and ends verified', async () => {
    const p = `${rootDir}/sparse.img`;
    execFileSync('truncate', ['-s', `${GiB}`, p]);
    chmodSync(p, 0o600);
    const e = await gate.fails('ssh_get_file', { alias: 'with-pw', path: p, local: 'sparse.img', become: 'root', timeout_seconds: 1 });
    expect(e.code).toBe('timeout');
    const kept = statSync(join(local, 'sparse.img.sshgate-partial')).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(GiB);
    const r = await gate.ok<Transfer>('ssh_get_file', {
      alias: 'with-pw',
      path: p,
      local: 'sparse.img',
      become: 'root',
      resume: true,
      wait_seconds: 120,
    });
    expect(r).toMatchObject({ state: 'succeeded', resumed_from: kept, size: GiB, verified_by: 'openssl' });
    const zeros = createHash('sha256');
    const block = Buffer.alloc(MiB);
    for (let i = 0; i < 1024; i++) zeros.update(block);
    expect(r.sha256).toBe(zeros.digest('hex'));
    expect(statSync(join(local, 'sparse.img')).size).toBe(GiB);
    rmSync(p);
    rmSync(join(local, 'sparse.img'));
  }, 180_000);
});

describe('the policy', () => {
  it('a files: rule without become: does not allow an elevated write', async () => {
    const e = await gate.fails('ssh_write_file', { alias: 'with-pw', path: `${plainDir}/a`, content: 'x', become: 'root' });
    expect(e.code).toBe('policy_denied');
    expect(existsSync(`${plainDir}/a`)).toBe(false);
  });

  it('a files: rule with become: does not allow a plain write', async () => {
    const e = await gate.fails('ssh_write_file', { alias: 'with-pw', path: `${rootDir}/b`, content: 'x' });
    expect(e.code).toBe('policy_denied');
  });

  it('a plain write where a plain rule allows it still goes over SFTP as the login user', async () => {
    const w = await gate.ok<WriteResult>('ssh_write_file', { alias: 'with-pw', path: `${plainDir}/c`, content: 'x' });
    expect(w.become).toBeUndefined();
    expect(statSync(`${plainDir}/c`).uid).toBe(uidOf(LOGIN));
  });
});

describe('elevation failures', () => {
  it('a host without passwordless sudo and no password fails with become_failed', async () => {
    const e = await gate.fails('ssh_read_file', { alias: 'no-pw', path: `${rootDir}/secret.conf`, become: 'root' });
    expect(e.code).toBe('become_failed');
    expect(e.hint).toMatch(/sudo -n/);
  });
});

describe('the password appears nowhere', () => {
  it('not in any tool result, the server log or the audit file; the audit names the user', () => {
    expect(results.length).toBeGreaterThan(10);
    expect(JSON.stringify(results)).not.toContain(PASSWORD);
    expect(gate.log()).not.toContain(PASSWORD);
    const records = readFileSync(audit, 'utf8');
    expect(records).not.toContain(PASSWORD);
    expect(records).toMatch(/"event":"file_write".*"become":"root"/);
    expect(records).toMatch(/"event":"file_read".*"become":"root"/);
    expect(records).toMatch(/"event":"file_decision".*"become":"root"/);
    expect(records).toMatch(/"event":"task_end".*"become":"root"/);
    expect(records).toMatch(/"event":"file_put".*"become":"root"/);
    expect(records).toMatch(/"event":"file_get".*"become":"root"/);
  });
});
