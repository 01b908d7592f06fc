import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const PASSPHRASE = 'correct horse battery';
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;

let fleet: Fleet;
let work: string;
let agentSock: string;
let agentPid: string;
let gate: Gate;
let dir: string;
beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 67, passwordAuthentication: true });
  work = mkdtempSync(join(tmpdir(), 'sshgate-auth-'));
  const keygen = (file: string, passphrase: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', file]);
  keygen(join(work, 'locked'), PASSPHRASE);
  keygen(join(work, 'agent'), '');
  for (const k of ['locked', 'agent']) appendFileSync(join(fleet.dir, 'authorized_keys'), readFileSync(join(work, `${k}.pub`)));
  execFileSync('chpasswd', { input: `${fleet.user}:${PASSWORD}\n` });

  agentSock = join(work, 'agent.sock');
  const started = execFileSync('ssh-agent', ['-s', '-a', agentSock], { encoding: 'utf8' });
  agentPid = /SSH_AGENT_PID=(\d+)/.exec(started)?.[1] ?? '';
  execFileSync('ssh-add', ['-q', join(work, 'agent')], { env: { ...process.env, SSH_AUTH_SOCK: agentSock } });

  const secrets = join(work, 'secrets');
  mkdirSync(secrets);
  writeFileSync(join(secrets, 'login_pw'), `${PASSWORD}\n`);
  writeFileSync(join(secrets, 'wrong_pw'), 'not-the-password\n');
  const h = fleet.hosts[0] as Fleet['hosts'][number];
  dir = writeConfig(fleet, {
    hosts: [
      { ...h, alias: 'by-passphrase', credentials: 'locked-key' },
      { ...h, alias: 'by-agent', credentials: 'agent' },
      { ...h, alias: 'by-password', credentials: 'password' },
      { ...h, alias: 'bad-password', credentials: 'wrong-password' },
    ],
    keys: { locked: join(work, 'locked') },
    credentials: [
      `{ name: locked-key, username: ${fleet.user}, key_path: locked, key_passphrase_secret: key_pass }`,
      `{ name: agent, username: ${fleet.user}, agent: true }`,
      `{ name: password, username: ${fleet.user}, password_secret: login_pw }`,
      `{ name: wrong-password, username: ${fleet.user}, password_secret: wrong_pw }`,
    ],
  });
  gate = await startGate(dir, { SSHGATE_SECRET_KEY_PASS: PASSPHRASE, SSHGATE_SECRETS_DIR: secrets, SSH_AUTH_SOCK: agentSock });
});
afterAll(async () => {
  await gate?.close();
  if (agentPid) execFileSync('kill', [agentPid]);
  execFileSync('usermod', ['-p', '*', fleet.user]);
  await fleet?.stop();
  if (dir) removeConfig(dir);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('logging in as credentials.yml says', () => {
  it('with a key file decrypted by its passphrase secret', async () => {
    const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'by-passphrase', command: 'echo key' });
    expect(r.stdout).toBe('key\n');
  });

  it('with the keys of ssh-agent', async () => {
    const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'by-agent', command: 'echo agent' });
    expect(r.stdout).toBe('agent\n');
  });

  it('with a password secret', async () => {
    const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'by-password', command: 'echo password' });
    expect(r.stdout).toBe('password\n');
  });

  it('refuses a wrong password with connect_failed, and never shows a secret', async () => {
    const e = await gate.fails('ssh_run', { alias: 'bad-password', command: 'echo never' });
    expect(e.code).toBe('connect_failed');
    expect(e.message).toContain('refused the credentials');
    for (const secret of [PASSWORD, 'not-the-password', PASSPHRASE]) {
      expect(JSON.stringify(e)).not.toContain(secret);
      expect(gate.log()).not.toContain(secret);
    }
  });
});

describe('the first publickey request (src/ssh/signed-publickey.ts), as sshd logged it', () => {
  /** How many times sshd answered "would you take this key?" before the login of the key `name` (by port). */
  function questionsBefore(name: 'locked' | 'agent'): number[] {
    const fingerprint = execFileSync('ssh-keygen', ['-lf', join(work, `${name}.pub`)], { encoding: 'utf8' }).split(' ')[1] as string;
    const log = readFileSync(join(fleet.dir, 'sshd.0.log'), 'utf8').split('\n');
    const ports = log.flatMap((l) => (l.includes('Accepted publickey') && l.includes(fingerprint) ? [/ port (\d+) /.exec(l)?.[1]] : []));
    expect(ports.length).toBeGreaterThan(0);
    // sshd (LogLevel VERBOSE) logs a question it said yes to as "Postponed publickey".
    return ports.map((port) => log.filter((l) => l.includes('Postponed publickey') && l.includes(` port ${port} `)).length);
  }

  it('is signed at once for a key file: the host is never asked about the key first', async () => {
    await gate.ok('ssh_run', { alias: 'by-passphrase', command: 'true' });
    for (const asked of questionsBefore('locked')) expect(asked).toBe(0);
  });

  it("asks about an ssh-agent's key first, as ssh2 does (an agent may ask its user per signature)", async () => {
    await gate.ok('ssh_run', { alias: 'by-agent', command: 'true' });
    for (const asked of questionsBefore('agent')) expect(asked).toBe(1);
  });
});
