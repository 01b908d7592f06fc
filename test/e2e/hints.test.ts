/**
 * What `sshgate run` says when it cannot log in, against a real sshd: the refusal a person meets
 * first, and a hint that points at the thing to change.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, writeConfig } from '../support/mcp.js';
import { staleSocket } from '../support/sockets.js';
import { startFleet, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let dir: string;
let keys: string;
beforeAll(async () => {
  fleet = await startFleet(2, { subnet: 131 });
  const [h, h2] = fleet.hosts as [Fleet['hosts'][number], Fleet['hosts'][number]];
  dir = writeConfig(fleet, {
    hosts: [
      { ...h, alias: 'open-key', credentials: 'open-key' },
      { ...h, alias: 'pub-key', credentials: 'pub-key' },
      { ...h, alias: 'by-agent', credentials: 'agent' },
      { ...h, alias: 'user-from-servers', user: 'no-such-user' },
      { ...h, alias: 'user-from-credentials', credentials: 'no-such-username' },
      { ...h2, alias: 'recorded-for-22' },
    ],
    // The second host's key recorded as a plain ssh-keyscan (no -p) records it: for port 22.
    knownHosts: `[${h.host}]:${h.port} ${fleet.hostPublicKey}\n${h2.host} ${fleet.hostPublicKey}\n`,
    credentials: [
      `{ name: open-key, username: ${fleet.user}, key_path: open }`,
      `{ name: pub-key, username: ${fleet.user}, key_path: fleet.pub }`,
      `{ name: agent, username: ${fleet.user}, agent: true }`,
      '{ name: no-such-username, username: no-such-user, key_path: fleet }',
    ],
  });
  keys = join(dir, 'config', 'keys');
  copyFileSync(fleet.userKeyPath, join(keys, 'open'));
  chmodSync(join(keys, 'open'), 0o644);
  copyFileSync(`${fleet.userKeyPath}.pub`, join(keys, 'fleet.pub'));
});
afterAll(async () => {
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

function run(alias: string, env: Record<string, string> = {}) {
  const args = [resolve('dist/cli.js'), 'run', '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), alias, '--', 'echo in'];
  return spawnSync(process.execPath, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 });
}

describe('sshgate run, refused before it logs in', () => {
  it('refuses a key open to group and others, and the chmod in its hint is the fix', () => {
    const key = join(keys, 'open');
    const r = run('open-key');
    expect(r.status).toBe(255);
    expect(r.stderr).toBe(
      `sshgate: the key of credential "open-key" (${key}) has mode 0644, open to others than its owner; OpenSSH refuses such a key, and so does sshgate\n` +
        `  hint: chmod 600 ${key}\n`,
    );
    expect(spawnSync('sh', ['-c', (/hint: (.*)/.exec(r.stderr) as RegExpExecArray)[1] as string]).status).toBe(0);
    expect(run('open-key')).toMatchObject({ status: 0, stdout: 'in\n', stderr: '' });
  });

  it('refuses a key_path naming the .pub file, and names the private key beside it', () => {
    const r = run('pub-key');
    expect(r.status).toBe(255);
    expect(r.stderr).toBe(
      `sshgate: key_path of credential "pub-key" names a public key (${join(keys, 'fleet.pub')}); sshgate logs in with the private key\n` +
        '  hint: set key_path: fleet, the private key beside it\n',
    );
  });
});

describe('sshgate run, refused at the login', () => {
  it('says that the ssh-agent could not be used, not that the port may not speak SSH', () => {
    const sock = staleSocket(join(dir, 'agent.sock'));
    const r = run('by-agent', { SSH_AUTH_SOCK: sock });
    expect(r.status).toBe(255);
    expect(r.stderr).toBe(
      `sshgate: cannot log in to host "by-agent" as "${fleet.user}": the ssh-agent at SSH_AUTH_SOCK (${sock}) could not be used (Failed to connect to agent)\n` +
        '  hint: start ssh-agent and ssh-add the key, then give sshgate the SSH_AUTH_SOCK that ssh-agent prints\n',
    );
    // Where nothing is at all, it is refused before connecting.
    const gone = run('by-agent', { SSH_AUTH_SOCK: join(dir, 'gone.sock') });
    expect(gone).toMatchObject({
      status: 255,
      stderr: expect.stringMatching(
        /^sshgate: credential "agent" uses the agent, but nothing is at SSH_AUTH_SOCK \(.*gone\.sock\)\n {2}hint: start ssh-agent/,
      ),
    });
  });

  it('points at servers.yml for a user set there, and at credentials.yml for one set there', () => {
    expect(run('user-from-servers')).toMatchObject({
      status: 255,
      stderr:
        'sshgate: host "user-from-servers" refused the credentials for user "no-such-user"\n' +
        '  hint: check user "no-such-user" of host "user-from-servers" in servers.yml, and credential "fleet" in credentials.yml: the account must exist on the host and accept the key fleet\n',
    });
    expect(run('user-from-credentials')).toMatchObject({
      status: 255,
      stderr:
        'sshgate: host "user-from-credentials" refused the credentials for user "no-such-user"\n' +
        '  hint: check credential "no-such-username" in credentials.yml, whose username "no-such-user" is the login: the account must exist on the host and accept the key fleet\n',
    });
  });

  it('names the known_hosts line recorded for port 22 when the host listens on another port', () => {
    const h2 = fleet.hosts[1] as Fleet['hosts'][number];
    const known = join(dir, 'config', 'known_hosts');
    expect(run('recorded-for-22')).toMatchObject({
      status: 255,
      stderr:
        `sshgate: host "recorded-for-22" (${h2.host}:${h2.port}) is not in known_hosts (${known}): line 2 records ${h2.host} on port 22, but the host listens on port ${h2.port}, where its key is looked up as [${h2.host}]:${h2.port}\n` +
        `  hint: if that key is the one on port ${h2.port}, write the line's host as [${h2.host}]:${h2.port}; else add the key, checked out of band (ssh-keyscan -t ed25519 -p ${h2.port} ${h2.host})\n`,
    });
  });
});
