/**
 * Review 18 (adversarial) of `become` on ssh_put_file and ssh_get_file, against a real sshd and
 * the real sudo. Each test says what it shows; all three findings are fixed and their tests pass.
 *
 * 1. A local user of the host who owns the target directory (an app user owning /srv/app/conf,
 *    under a files: rule that lets root write there) turns an allowed elevated put into root
 *    chowning and chmodding any file of the host (fixed). The write script
 *    pins the directory, but its temp file is still a name in a directory that user may write:
 *    once the script has hashed the temp (dd closes it: inotify IN_CLOSE_NOWRITE, no timing
 *    needed), the user renames a symlink over it, and the script's `chown -- "+UID:+GID" "$tmp"`
 *    and `chmod -- MODE "$tmp"` follow it, with the owner and mode of the file being replaced —
 *    the user's own, 0666. The size check before them (`find -P`) does not look at the type, and
 *    a symlink whose text is padded to the content's size passes it. The put reports success.
 * 2. The local file changes during an elevated put's stream (after its pre-hash): nothing wrong
 *    lands (the script's sha256 check holds), but the error is `internal` with the hint
 *    "something on the host read or cut stdin before the script (a login script?)", where the
 *    plain put says `file_changed` (fixed).
 * 3. A login user whose start files print on stderr, a NOPASSWD sudoers rule and a become password
 *    configured: stdin is closed before the feed may start (documented). An elevated put of an
 *    EMPTY file then lands (the script got 0 bytes, which is all there was), yet the call says
 *    become_failed, "without the call's stdin", and no file_put record is written: BecomeRun judges
 *    a StdinFeed by `this.data.length`, the function's arity (fixed).
 * 4. Held: sudo refusing the password of an elevated put is become_failed, no temp file is left,
 *    and nothing of the file is sent to sudo (the feed never starts).
 * 5. Held: a 512 MiB elevated put and get grow the server's peak memory by less than 128 MB.
 * 6. Held: an elevated get cancelled mid-stream leaves no local partial; a put cancelled during
 *    its local pre-hash ends cancelled with nothing on the host (but only once the pre-hash is
 *    done: about 3 s for 1000 MiB here, since hashPrefix does not look at the signal).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBody, removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { ensureUser, startFleet, TEST_USER, type Fleet } from '../support/sshd.js';
import { installSudoers, setPasswords, type Sudoers } from '../support/sudoers.js';
import { startTempSwapper } from '../support/script-runner.js';

/** Login user whose sudo asks for its password. */
const LOGIN = `${TEST_USER}-rv18`;
/** Login user with a NOPASSWD rule and a start file that prints on stderr. */
const NOISY = `${TEST_USER}-rv18n`;
/** An unprivileged local user of the host: owns the app's directory, may not sudo. */
const APP = `${TEST_USER}-rv18app`;
const PASSWORD = `Rv18-${randomBytes(9).toString('hex')}`;
const base = `/tmp/sshgate-rv18-${process.pid}`;
/** The app user's directory, which root may write by the policy. */
const appDir = `${base}/app`;
/** Root's own directory: 0700. */
const rootDir = `${base}/root`;
const MiB = 1024 * 1024;

const POLICY = `
limits: { max_file_bytes: ${1024 * MiB} }
rules:
  - { name: tools, action: allow, commands: ["true"] }
files:
  - name: app confs, as root
    action: allow
    become: root
    read: ["${appDir}/*"]
    write: ["${appDir}/*"]
  - name: root files
    action: allow
    become: root
    read: ["${rootDir}/*"]
    write: ["${rootDir}/*"]
`;

let fleet: Fleet;
let gate: Gate;
let dir: string;
let sudoers: Sudoers | undefined;
let audit: string;
let local: string;

function idOf(user: string, flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
}

function temps(d: string): string[] {
  return readdirSync(d).filter((n) => n.includes('.sshgate-'));
}

async function until(seen: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!seen()) {
    if (Date.now() > end) throw new Error('not seen in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  ensureUser(LOGIN);
  ensureUser(NOISY);
  ensureUser(APP);
  setPasswords({ [LOGIN]: PASSWORD, [NOISY]: PASSWORD });
  // The noisy user's bash start file (sourced for commands run by sshd) speaks on stderr.
  const home = execFileSync('getent', ['passwd', NOISY], { encoding: 'utf8' }).trim().split(':')[5] as string;
  writeFileSync(join(home, '.bashrc'), 'echo "rv18: welcome to this host" >&2\n');
  sudoers = installSudoers('rv18', [
    `Defaults:${LOGIN} !lecture`,
    `Defaults:${NOISY} !lecture`,
    `${LOGIN} ALL=(root) /bin/bash`,
    `${NOISY} ALL=(root) NOPASSWD: /bin/bash`,
  ]);
  mkdirSync(base, { mode: 0o755 });
  mkdirSync(appDir, { mode: 0o755 });
  chownSync(appDir, idOf(APP, '-u'), idOf(APP, '-g'));
  mkdirSync(rootDir, { mode: 0o700 });

  fleet = await startFleet(2, { subnet: 132 });
  const [h1, h2] = fleet.hosts as [Fleet['hosts'][0], Fleet['hosts'][0]];
  dir = writeConfig(fleet, {
    hosts: [
      { ...h1, alias: 'rv18', credentials: 'rv18-pw', user: LOGIN },
      { ...h2, alias: 'rv18-noisy', credentials: 'rv18n-pw', user: NOISY },
    ],
    policy: POLICY,
    credentials: [
      `{ name: rv18-pw, username: ${LOGIN}, key_path: fleet, become_password_secret: rv18_pw }`,
      `{ name: rv18n-pw, username: ${NOISY}, key_path: fleet, become_password_secret: rv18_pw }`,
    ],
  });
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  writeFileSync(join(secrets, 'rv18_pw'), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(secrets, 'rv18_wrong'), `not-${PASSWORD}\n`, { mode: 0o600 });
  audit = join(dir, 'audit.jsonl');
  local = join(dir, 'transfers');
  mkdirSync(local, { mode: 0o700 });
  gate = await startGate(dir, { SSHGATE_SECRETS_DIR: secrets, SSHGATE_AUDIT_LOG: audit, SSHGATE_TRANSFER_ROOT: local });
}, 60_000);

afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  sudoers?.remove();
  rmSync(base, { recursive: true, force: true });
  if (dir) removeConfig(dir);
});

describe('an elevated put into a directory a local user owns', () => {
  // Fixed: the write script refuses a directory another user may change (as sudoedit).
  it('never lets that user make root chown or chmod another file', async () => {
    const victim = `${base}/victim-passwd`;
    writeFileSync(victim, 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o600 });
    chownSync(victim, 0, 0);
    chmodSync(victim, 0o600);
    // The file the put replaces: the app user's own, 0666.
    const target = `${appDir}/app.conf`;
    writeFileSync(target, 'old\n');
    chownSync(target, idOf(APP, '-u'), idOf(APP, '-g'));
    chmodSync(target, 0o666);
    // The content, and a symlink text of the same length (padded with slashes).
    const content = Buffer.from(`setting = 1\n${'#'.repeat(300)}\n`);
    const text = `${base}/${'/'.repeat(content.length - base.length - 1 - 'victim-passwd'.length)}victim-passwd`;
    expect(text.length).toBe(content.length);
    writeFileSync(join(local, 'app.conf'), content);

    const watcher = await startTempSwapper(appDir, text, { uid: idOf(APP, '-u'), gid: idOf(APP, '-g') });
    let outcome: unknown;
    try {
      const r = await gate.call('ssh_put_file', { alias: 'rv18', local: 'app.conf', path: target, become: 'root', wait_seconds: 60 });
      outcome = r.isError ? errorBody(r) : r.structuredContent;
    } finally {
      watcher.kill();
    }
    const st = statSync(victim);
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777, outcome }).toMatchObject({ uid: 0, gid: 0, mode: 0o600 });
    expect(lstatSync(target).isSymbolicLink()).toBe(false);
  }, 60_000);
});

describe('an elevated put whose local file changes during the stream', () => {
  // Fixed: a streamed write whose bytes are short is file_changed.
  it('lands nothing and says file_changed, as the plain put does', async () => {
    const size = 256 * MiB;
    const file = join(local, 'changing.bin');
    execFileSync('sh', ['-c', `head -c ${size} /dev/zero > '${file}'`]);
    const p = `${rootDir}/changing.bin`;
    const call = gate.call('ssh_put_file', { alias: 'rv18', local: 'changing.bin', path: p, become: 'root', wait_seconds: 120 });
    // The temp file on the host: the pre-hash is done and the stream has begun. The tail changes now.
    await until(() => temps(rootDir).length > 0, 30_000);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(MiB, 0x55), 0, MiB, size - MiB);
    closeSync(fd);
    const r = await call;
    expect(r.isError).toBe(true);
    const e = errorBody(r);
    expect(existsSync(p)).toBe(false);
    await until(() => temps(rootDir).length === 0, 10_000);
    expect({ code: e.code, hint: e.hint }).toMatchObject({ code: 'file_changed' });
    expect(e.hint ?? '').not.toMatch(/login script/);
    rmSync(file);
  }, 120_000);
});

describe('a noisy login, a NOPASSWD rule and a become password', () => {
  it('a non-empty elevated put is become_failed and lands nothing (held)', async () => {
    writeFileSync(join(local, 'some.txt'), 'some\n');
    const p = `${rootDir}/noisy-some.txt`;
    const e = await gate.fails('ssh_put_file', { alias: 'rv18-noisy', local: 'some.txt', path: p, become: 'root' });
    expect(e.code).toBe('become_failed');
    expect(existsSync(p)).toBe(false);
    expect(temps(rootDir)).toEqual([]);
  }, 60_000);

  // Fixed: an empty put closes stdin as an empty write does, and is judged as one.
  it('an empty elevated put is reported as it happened: landed and audited, or refused and not landed', async () => {
    writeFileSync(join(local, 'empty.txt'), '');
    const p = `${rootDir}/noisy-empty.txt`;
    writeFileSync(p, 'precious config\n', { mode: 0o600 });
    const r = await gate.call('ssh_put_file', { alias: 'rv18-noisy', local: 'empty.txt', path: p, become: 'root' });
    const landed = readFileSync(p, 'utf8') === '';
    const records = readFileSync(audit, 'utf8');
    expect({
      failed: r.isError === true,
      landed,
      audited: records.includes(`"resolved_path":"${p}"`) && /"event":"file_put"/.test(records),
    }).toEqual(landed ? { failed: false, landed: true, audited: true } : { failed: true, landed: false, audited: false });
  }, 60_000);
});

describe('sudo refusing the password of an elevated put (held)', () => {
  it('is become_failed, leaves no temp file, and never sends the file as a password', async () => {
    // Another gate whose credential holds a wrong password.
    const wrongDir = writeConfig(fleet, {
      hosts: [{ ...(fleet.hosts[0] as Fleet['hosts'][0]), alias: 'rv18-wrong', credentials: 'rv18-wrong', user: LOGIN }],
      policy: POLICY,
      credentials: [`{ name: rv18-wrong, username: ${LOGIN}, key_path: fleet, become_password_secret: rv18_wrong }`],
    });
    const secrets = join(dir, 'secrets');
    const wrongLocal = join(wrongDir, 'transfers');
    mkdirSync(wrongLocal, { mode: 0o700 });
    // The file's first line is the right password: were it sent to sudo, sudo would take it.
    writeFileSync(join(wrongLocal, 'pw.txt'), `${PASSWORD}\n${PASSWORD}\n${PASSWORD}\n`);
    const wrong = await startGate(wrongDir, { SSHGATE_SECRETS_DIR: secrets, SSHGATE_TRANSFER_ROOT: wrongLocal });
    try {
      const p = `${rootDir}/pw.txt`;
      const e = await wrong.fails('ssh_put_file', { alias: 'rv18-wrong', local: 'pw.txt', path: p, become: 'root' });
      expect(e.code).toBe('become_failed');
      expect(e.message).toMatch(/refused the password/);
      expect(existsSync(p)).toBe(false);
      expect(temps(rootDir)).toEqual([]);
    } finally {
      await wrong.close();
      removeConfig(wrongDir);
    }
  }, 60_000);
});

describe('memory of an elevated transfer (held)', () => {
  it('a 512 MiB elevated put and get grow the server by far less than the file', async () => {
    const pid = gate.transport.pid as number;
    const peak = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    execFileSync('truncate', ['-s', `${8 * MiB}`, join(local, 'warm.bin')]);
    await gate.ok('ssh_put_file', { alias: 'rv18', local: 'warm.bin', path: `${rootDir}/warm.bin`, become: 'root', wait_seconds: 60 });
    await gate.ok('ssh_get_file', { alias: 'rv18', path: `${rootDir}/warm.bin`, local: 'warm-back.bin', become: 'root', wait_seconds: 60 });
    const before = peak();
    execFileSync('truncate', ['-s', `${512 * MiB}`, join(local, 'half.bin')]);
    const put = await gate.ok<{ state: string }>('ssh_put_file', {
      alias: 'rv18',
      local: 'half.bin',
      path: `${rootDir}/half.bin`,
      become: 'root',
      wait_seconds: 300,
    });
    expect(put.state).toBe('succeeded');
    const get = await gate.ok<{ state: string }>('ssh_get_file', {
      alias: 'rv18',
      path: `${rootDir}/half.bin`,
      local: 'half-back.bin',
      become: 'root',
      wait_seconds: 300,
    });
    expect(get.state).toBe('succeeded');
    expect(statSync(join(local, 'half-back.bin')).size).toBe(512 * MiB);
    expect(peak() - before).toBeLessThan(128);
    rmSync(join(local, 'half-back.bin'));
    rmSync(`${rootDir}/half.bin`);
  }, 400_000);
});

describe('cancels of elevated transfers (held)', () => {
  it('a get cancelled mid-stream ends cancelled and leaves no local partial', async () => {
    const p = `${rootDir}/cancel-get.img`;
    execFileSync('truncate', ['-s', `${1024 * MiB}`, p]);
    const r = await gate.ok<{ state: string; task_id: string }>('ssh_get_file', {
      alias: 'rv18',
      path: p,
      local: 'cancel-get.img',
      become: 'root',
      wait_seconds: 0,
    });
    expect(r.state).toBe('running');
    const partial = join(local, 'cancel-get.img.sshgate-partial');
    await until(() => existsSync(partial) && statSync(partial).size > 8 * MiB, 30_000);
    const started = Date.now();
    const c = await gate.ok<{ state: string }>('ssh_cancel', { task_id: r.task_id });
    expect(c.state).toBe('cancelled');
    await until(() => !existsSync(partial), 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(existsSync(join(local, 'cancel-get.img'))).toBe(false);
    rmSync(p);
  }, 60_000);

  it('a put cancelled during its local pre-hash ends promptly, with nothing on the host', async () => {
    // A large sparse local file: the pre-hash alone takes seconds; the cancel comes during it.
    execFileSync('truncate', ['-s', `${1000 * MiB}`, join(local, 'prehash.bin')]);
    const p = `${rootDir}/prehash.bin`;
    const r = await gate.call('ssh_put_file', { alias: 'rv18', local: 'prehash.bin', path: p, become: 'root', wait_seconds: 0 });
    const body = r.isError ? errorBody(r) : (r.structuredContent as { state: string; task_id: string });
    expect(body).toMatchObject({ state: 'running' });
    const id = (body as { task_id: string }).task_id;
    const started = Date.now();
    await gate.ok('ssh_cancel', { task_id: id });
    let state = '';
    while (Date.now() - started < 30_000) {
      state = (await gate.ok<{ state: string }>('ssh_get_task_status', { task_id: id })).state;
      if (state !== 'running' && state !== 'cancelling') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(state).toBe('cancelled');
    expect(temps(rootDir)).toEqual([]);
    expect(existsSync(p)).toBe(false);
    rmSync(join(local, 'prehash.bin'));
  }, 60_000);
});
