/**
 * Review 17b (adversarial): elevated file operations and a directory that an unprivileged user of
 * the host controls. EXPECTED TO FAIL until fixed.
 *
 * An elevated read or write resolves the path (realpath, one sudo exec), has the policy judge the
 * resolved path, then runs the read or write script (a second sudo exec) on that path string. The
 * scripts re-walk the path from / and only the last component is protected (find -P, dd
 * iflag=nofollow, mv -T). A local user who owns a directory on the way (the app user owning
 * /srv/app, a common layout for logs and configs that root reads and writes) swaps it for a
 * symlink between the two execs, and root reads, or writes, where the policy never allowed: a
 * local privilege escalation through the agent's legitimate, allowed calls. The SFTP path has the
 * same window (documented: "SFTP has no openat"), but the scripts could close it (one exec; cd -P
 * into the directory and compare `pwd -P` with the judged directory, then use the last component
 * only), and as root the stakes are another user's files, not the login user's own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { ensureUser, startFleet, TEST_USER, type Fleet } from '../support/sshd.js';
import { installSudoers, type Sudoers } from '../support/sudoers.js';

const LOGIN = `${TEST_USER}-rv17b`;
/** An unprivileged local user of the host: owns the app's directories, may not sudo. */
const APP = `${TEST_USER}-rv17app`;
const base = `/tmp/sshgate-rv17b-${process.pid}`;
const srv = `${base}/srv`;
const vault = `${base}/vault`;
const MARKER = 'ROOT-ONLY-MARKER';

const POLICY = `
rules:
  - { name: tools, action: allow, commands: ["true"] }
files:
  - name: app logs and confs, as root
    action: allow
    become: root
    read: ["${srv}/app/logs/*"]
    write: ["${srv}/app/logs/*.conf"]
`;

let fleet: Fleet;
let gate: Gate;
let dir: string;
let swapper: ChildProcess | undefined;
let sudoers: Sudoers | undefined;
const uidOf = (u: string) => Number(execFileSync('id', ['-u', u], { encoding: 'utf8' }).trim());

beforeAll(async () => {
  ensureUser(LOGIN);
  ensureUser(APP);
  sudoers = installSudoers('rv17b', [`Defaults:${LOGIN} !lecture`, `${LOGIN} ALL=(root) NOPASSWD: /bin/bash`]);
  mkdirSync(base, { mode: 0o755 });
  // The app user's tree: srv/app/logs/app.log.
  for (const d of [srv, `${srv}/app`, `${srv}/app/logs`]) {
    mkdirSync(d, { mode: 0o755 });
    chownSync(d, uidOf(APP), uidOf(APP));
  }
  writeFileSync(`${srv}/app/logs/app.log`, 'an app log line\n');
  chownSync(`${srv}/app/logs/app.log`, uidOf(APP), uidOf(APP));
  // Root's: vault/logs/app.log, 0600, that no rule allows.
  mkdirSync(vault, { mode: 0o700 });
  mkdirSync(`${vault}/logs`, { mode: 0o700 });
  writeFileSync(`${vault}/logs/app.log`, `${MARKER}\n`, { mode: 0o600 });

  fleet = await startFleet(1, { subnet: 120 });
  const [h1] = fleet.hosts as [Fleet['hosts'][0]];
  dir = writeConfig(fleet, {
    hosts: [{ ...h1, alias: 'h1', credentials: 'elev', user: LOGIN }],
    policy: POLICY,
    credentials: [`{ name: elev, username: ${LOGIN}, key_path: fleet }`],
  });
  gate = await startGate(dir);
}, 60_000);

afterAll(async () => {
  if (swapper?.pid) {
    try {
      process.kill(-swapper.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await gate?.close();
  await fleet?.stop();
  sudoers?.remove();
  rmSync(base, { recursive: true, force: true });
  if (dir) removeConfig(dir);
});

/** The app user flips srv/app between its real directory and a symlink to root's vault. */
function startSwapping(): void {
  const loop = `cd ${srv} || exit 1
while :; do
  mv app app.real && ln -s ${vault} app; sleep 0.12
  rm -f app && mv app.real app; sleep 0.12
done`;
  swapper = spawn('runuser', ['-u', APP, '--', '/bin/sh', '-c', loop], { detached: true, stdio: 'ignore' });
}

describe('review17b: elevated files and a directory swapped by a local user', { timeout: 240_000 }, () => {
  it('an allowed become-root read never returns a file outside the rule, nor a write land there', async () => {
    // Without the race, the policy holds: the vault is not allowed as given nor as resolved.
    expect((await gate.call('ssh_read_file', { alias: 'h1', path: `${vault}/logs/app.log`, become: 'root' })).isError).toBe(true);
    const plain = await gate.ok<{ content: string }>('ssh_read_file', { alias: 'h1', path: `${srv}/app/logs/app.log`, become: 'root' });
    expect(plain.content).toContain('an app log line');

    startSwapping();
    let readBreach = '';
    let writeBreach = false;
    for (let i = 0; i < 120 && !(readBreach && writeBreach); i++) {
      if (!readBreach) {
        const r = await gate.call('ssh_read_file', { alias: 'h1', path: `${srv}/app/logs/app.log`, become: 'root' });
        const content = (r.structuredContent as { content?: string } | undefined)?.content ?? '';
        if (!r.isError && content.includes(MARKER)) readBreach = content;
      }
      if (!writeBreach) {
        await gate.call('ssh_write_file', { alias: 'h1', path: `${srv}/app/logs/pwn.conf`, become: 'root', content: 'written by root\n' });
        writeBreach = existsSync(`${vault}/logs/pwn.conf`);
      }
    }
    if (swapper?.pid) process.kill(-swapper.pid, 'SIGKILL');
    swapper = undefined;
    console.log(
      `read breach: ${JSON.stringify(readBreach)}; write breach: ${writeBreach}${writeBreach ? ` (${readFileSync(`${vault}/logs/pwn.conf`, 'utf8').trim()})` : ''}`,
    );
    expect(readBreach).toBe('');
    expect(writeBreach).toBe(false);
  });
});
