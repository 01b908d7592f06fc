/**
 * Elevation (`become`) against real OpenSSH hosts and the real sudo of the Debian package, with a
 * sudoers file this test writes: a rule that wants the login user's password, a NOPASSWD rule, a
 * user sudoers does not allow, a wrong password, the cancel of an elevated tree, and the password
 * looked for everywhere it must not be.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endedWithin, removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { ensureUser, startFleet, TEST_USER, type Fleet } from '../support/sshd.js';
import { installSudoers, setPasswords, type Sudoers } from '../support/sudoers.js';

/** A login user of its own: other tests set the fleet user's password. */
const LOGIN = `${TEST_USER}-become`;
const PASSWORD = `Bec0me-${randomBytes(9).toString('hex')}`;
/** doas has one configuration file: written only when there is none, and removed after. */
const DOAS_CONF = '/etc/doas.conf';
const ownDoasConf = !existsSync(DOAS_CONF);

const POLICY = `
rules:
  - { name: "plain", action: allow, commands: ["id -u", "echo *"] }
  - { name: "as root", action: allow, become: root, commands: ["id -u", "id -un", "sh -c *", "cat"], stdin: true }
  - { name: "as daemon", action: allow, become: [daemon, nobody], commands: ["id -un"] }
  - { name: "long work as root", action: allow, become: root, commands: ["sleep *", "sh -c *", "setsid *"] }
  - { name: "never reboot", action: deny, commands: ["reboot*"] }
`;

let fleet: Fleet;
let gate: Gate;
let dir: string;
let audit: string;
let sudoers: Sudoers | undefined;
/** Every tool result of this file, to look for the password in. */
const results: CallToolResult[] = [];

beforeAll(async () => {
  ensureUser(LOGIN);
  setPasswords({ [LOGIN]: PASSWORD });
  sudoers = installSudoers('become', [
    `Defaults:${LOGIN} !lecture`,
    `${LOGIN} ALL=(root) /bin/bash`,
    `${LOGIN} ALL=(daemon) NOPASSWD: /bin/bash`,
  ]);
  if (ownDoasConf) writeFileSync(DOAS_CONF, `permit nopass ${LOGIN} as daemon cmd /bin/bash\n`, { mode: 0o400 });

  fleet = await startFleet(5, { subnet: 101 });
  const [h1, h2, h3, h4, h5] = fleet.hosts as [
    Fleet['hosts'][0],
    Fleet['hosts'][0],
    Fleet['hosts'][0],
    Fleet['hosts'][0],
    Fleet['hosts'][0],
  ];
  dir = writeConfig(fleet, {
    hosts: [
      { ...h1, alias: 'with-pw', credentials: 'become-pw', user: LOGIN, tags: ['pw'] },
      { ...h2, alias: 'no-pw', credentials: 'become-nopw', user: LOGIN },
      { ...h3, alias: 'wrong-pw', credentials: 'become-wrong', user: LOGIN },
      { ...h4, alias: 'sh-host', credentials: 'become-pw', user: LOGIN, shell: 'sh', tags: ['pw'] },
      { ...h5, alias: 'doas-host', credentials: 'become-doas', user: LOGIN },
    ],
    policy: POLICY,
    credentials: [
      `{ name: become-pw, username: ${LOGIN}, key_path: fleet, become_password_secret: become_pw }`,
      `{ name: become-nopw, username: ${LOGIN}, key_path: fleet, become_method: sudo }`,
      `{ name: become-wrong, username: ${LOGIN}, key_path: fleet, become_password_secret: wrong_pw }`,
      `{ name: become-doas, username: ${LOGIN}, key_path: fleet, become_method: doas }`,
    ],
  });
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  writeFileSync(join(secrets, 'become_pw'), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(secrets, 'wrong_pw'), 'not-the-password\n', { mode: 0o600 });
  audit = join(dir, 'audit.jsonl');
  gate = await startGate(dir, { SSHGATE_SECRETS_DIR: secrets, SSHGATE_AUDIT_LOG: audit });
  // Every result is kept, to look for the password in at the end.
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
  if (ownDoasConf) rmSync(DOAS_CONF, { force: true });
  if (dir) removeConfig(dir);
});

interface Run {
  task_id: string;
  state: string;
  exit_code: number | null;
  stdout: string;
  stderr: string;
  become?: string;
}

describe('become with a password', () => {
  it('runs the command as root: sudo gets the password from stdin, and its prompt never reaches the output', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'with-pw', command: 'id -u', become: 'root' });
    expect(r).toMatchObject({ state: 'succeeded', exit_code: 0, stdout: '0\n', stderr: '', become: 'root' });
  });

  it('still runs the host pinned interpreter, and passes the call stdin after the password', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'with-pw', command: 'cat', become: 'root', stdin: 'after the password\n' });
    expect(r).toMatchObject({ state: 'succeeded', stdout: 'after the password\n' });
  });

  it('a host whose pinned interpreter sudoers does not allow fails with become_failed, naming it', async () => {
    const e = await gate.fails('ssh_run', { alias: 'sh-host', command: 'id -u', become: 'root' });
    expect(e.code).toBe('become_failed');
    expect(e.message).toMatch(/sudo said: .*not allowed to execute '\/bin\/sh/);
    expect(e.hint).toMatch(/run \/bin\/sh as root/);
  });

  it('a wrong password fails fast with become_failed and a hint, and sudo does not wait for another', async () => {
    const started = Date.now();
    const e = await gate.fails('ssh_run', { alias: 'wrong-pw', command: 'id -u', become: 'root', wait_seconds: 30 });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(e.code).toBe('become_failed');
    expect(e.message).toMatch(/^sudo refused the password for root on host "wrong-pw" \(sudo said: Sorry, try again\.\)$/);
    expect(e.hint).toMatch(/become_password_secret/);
  });

  it('a user sudoers does not allow fails with become_failed naming what sudo said', async () => {
    const e = await gate.fails('ssh_run', { alias: 'with-pw', command: 'id -un', become: 'nobody' });
    expect(e.code).toBe('become_failed');
    expect(e.message).toMatch(/^sudo did not run the command as nobody on host "with-pw" \(sudo said: .*not allowed/);
    expect(e.hint).toMatch(/pinned interpreter/);
  });
});

describe('become without a password', () => {
  it('runs where sudoers says NOPASSWD', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'no-pw', command: 'id -un', become: 'daemon' });
    expect(r).toMatchObject({ state: 'succeeded', stdout: 'daemon\n' });
  });

  it('fails at once where sudoers wants a password (sudo -n), saying how to fix it', async () => {
    const started = Date.now();
    const e = await gate.fails('ssh_run', { alias: 'no-pw', command: 'id -u', become: 'root' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(e.code).toBe('become_failed');
    expect(e.message).toMatch(/^sudo did not run the command as root on host "no-pw" \(sudo said: .*password is required/);
    expect(e.hint).toMatch(/sudo -n/);
  });
});

describe('doas and fan-out', () => {
  it.skipIf(!ownDoasConf)('doas runs a passwordless rule, and refuses a user doas.conf does not permit', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'doas-host', command: 'id -un', become: 'daemon' });
    expect(r).toMatchObject({ state: 'succeeded', stdout: 'daemon\n', become: 'daemon' });
    const e = await gate.fails('ssh_run', { alias: 'doas-host', command: 'id -u', become: 'root' });
    expect(e.code).toBe('become_failed');
    expect(e.message).toMatch(/^doas did not run the command as root on host "doas-host"/);
    expect(e.hint).toMatch(/doas -n.*nopass/);
  });

  it('ssh_run_on_tag elevates on every host, each decided and answered on its own', async () => {
    const r = await gate.ok<{ results: { alias: string; status: string; stdout: string; error?: { code: string } }[] }>('ssh_run_on_tag', {
      tag: 'pw',
      command: 'id -u',
      become: 'root',
    });
    const by = Object.fromEntries(r.results.map((h) => [h.alias, h]));
    expect(by['with-pw']).toMatchObject({ status: 'succeeded', stdout: '0\n' });
    // sh-host pins /bin/sh, which the sudoers rule does not allow.
    expect(by['sh-host']?.error?.code).toBe('become_failed');
  });
});

describe('the policy and the edge', () => {
  it('an allow rule without become: does not allow the elevated call, and ssh_plan says so', async () => {
    const e = await gate.fails('ssh_run', { alias: 'with-pw', command: 'echo hi', become: 'root' });
    expect(e.code).toBe('policy_denied');
    const plan = await gate.ok<{ allowed: boolean; become: string | null }>('ssh_plan', {
      alias: 'with-pw',
      command: 'id -u',
      become: 'root',
    });
    expect(plan).toMatchObject({ allowed: true, become: 'root' });
    const other = await gate.ok<{ allowed: boolean }>('ssh_plan', { alias: 'with-pw', command: 'id -u', become: 'postgres' });
    expect(other.allowed).toBe(false);
  });

  it.each(['root;id', '-u', '../x', '#0', 'root id'])('refuses become %j before anything runs', async (user) => {
    const r = await gate.call('ssh_run', { alias: 'with-pw', command: 'id -u', become: user });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toMatch(/not a user name/);
  });

  it('refuses become with tty', async () => {
    const e = await gate.fails('ssh_run', { alias: 'with-pw', command: 'id -u', become: 'root', tty: true });
    expect(e.code).toBe('invalid_input');
  });
});

/** Processes whose command line matches, any user: `pgrep -af`. */
function pgrepAll(pattern: string): string {
  try {
    return execFileSync('pgrep', ['-af', pattern], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

describe('cancel', () => {
  it('removes the whole elevated tree, root processes and a setsid child included', async () => {
    const tag = 3000 + Math.floor(Math.random() * 900);
    const command = `sh -c 'sleep ${tag}1 & setsid sleep ${tag}2 & sleep ${tag}3'`;
    const { task_id } = await gate.ok<{ task_id: string }>('ssh_run_async', { alias: 'with-pw', command, become: 'root' });
    const deadline = Date.now() + 10_000;
    while ((pgrepAll(`^sleep ${tag}`).match(/\n/g)?.length ?? -1) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const running = pgrepAll(`^sleep ${tag}`);
    expect(running.split('\n')).toHaveLength(3);
    // They run as root: the login user could not signal them.
    const owners = execFileSync(
      'ps',
      [
        '-o',
        'user=',
        '-p',
        running
          .split('\n')
          .map((l) => l.split(' ')[0])
          .join(','),
      ],
      { encoding: 'utf8' },
    );
    expect(owners.trim().split('\n')).toEqual(['root', 'root', 'root']);
    // The password is nowhere in the host's process table while the elevated command runs.
    const table = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(table).toMatch(/sudo -S -k -p sshgate-become-prompt-/);
    expect(table).not.toContain(PASSWORD);

    const cancelled = await gate.ok<{ final: boolean; state: string }>('ssh_cancel', { task_id });
    expect(cancelled).toMatchObject({ final: true, state: 'cancelled' });
    expect(await endedWithin(gate, task_id)).toBe('cancelled');
    const gone = Date.now() + 5000;
    while (pgrepAll(`^sleep ${tag}`) !== '' && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(pgrepAll(`^sleep ${tag}`)).toBe('');
    const status = await gate.ok<{ become?: string }>('ssh_get_task_status', { task_id });
    expect(status.become).toBe('root');
  });
});

describe('the password appears nowhere', () => {
  it('not in any tool result, the server log or the audit file; the audit names the target user', () => {
    expect(results.length).toBeGreaterThan(10);
    expect(JSON.stringify(results)).not.toContain(PASSWORD);
    expect(gate.log()).not.toContain(PASSWORD);
    expect(existsSync(audit)).toBe(true);
    const records = readFileSync(audit, 'utf8');
    expect(records).not.toContain(PASSWORD);
    const decided = records
      .split('\n')
      .filter((l) => l.includes('"event":"decision"') && l.includes('"alias":"with-pw"') && l.includes('"become":"root"'));
    expect(decided.length).toBeGreaterThan(0);
    expect(records).toMatch(/"event":"task_end".*"become":"root"/);
  });
});
