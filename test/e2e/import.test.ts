/**
 * From an operator's ~/.ssh/config to a working sshgate: `sshgate import ssh-config` on a config
 * describing loopback fleet hosts (one behind a bastion, by ProxyJump), `sshgate check` on what it
 * wrote, and one ssh_run through the imported inventory, over the jump. Then issue 19's three
 * commands from nothing: import, keyscan --yes (the bastion's key first, then through it), and
 * check --connect passing on every host.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW_ALL_POLICY, removeConfig, startGate } from '../support/mcp.js';
import { tempDir } from '../support/policy.js';
import { startFleet, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let dir: string;
beforeAll(async () => {
  fleet = await startFleet(3, { subnet: 150 });
  dir = tempDir('sshgate-import-e2e-');
});
afterAll(async () => {
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

const sshgate = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, [resolve('dist/cli.js'), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 30_000,
  });

describe('import ssh-config, then check, then run', () => {
  it('turns a ~/.ssh/config with a bastion into an inventory that checks and runs through the jump', async () => {
    const [bastion, app1, app2] = fleet.hosts as [Fleet['hosts'][number], Fleet['hosts'][number], Fleet['hosts'][number]];
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh', 'conf.d'), { recursive: true });
    writeFileSync(
      join(home, '.ssh', 'config'),
      [
        'Include conf.d/*.conf',
        'Host *',
        `  Port ${bastion.port}`,
        `  User ${fleet.user}`,
        `  IdentityFile ${fleet.userKeyPath}`,
        '  ServerAliveInterval 15',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(home, '.ssh', 'conf.d', 'fleet.conf'),
      [
        'Host bastion',
        `  HostName ${bastion.host}`,
        'Host app1',
        `  HostName ${app1.host}`,
        'Host app2',
        `  HostName ${app2.host}`,
        '  ProxyJump bastion',
        '',
      ].join('\n'),
    );
    const config = join(dir, 'config');
    const imported = sshgate({ HOME: home }, 'import', 'ssh-config', '--out', config, '--keys-dir', fleet.dir, '--tag', 'fleet');
    expect(imported.stderr).toContain('3 hosts imported, 1 credential');
    expect(imported.stderr).toContain(`give sshgate SSHGATE_KEYS_DIR=${fleet.dir}`);
    expect(imported.status).toBe(0);
    expect(readFileSync(join(config, 'servers.yml'), 'utf8')).toContain('jump: bastion');

    // The host keys: the fleet's known_hosts, as keyscan or the operator would provide them.
    copyFileSync(fleet.knownHostsPath, join(config, 'known_hosts'));
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'test.yml'), ALLOW_ALL_POLICY);
    const env = { SSHGATE_KEYS_DIR: fleet.dir };
    const checked = sshgate(env, 'check', '--config', config, '--policy', join(dir, 'policies'));
    expect(checked.stderr).toBe('');
    expect(checked.stdout).toContain('3 hosts: bastion, app1, app2');
    expect(checked.stdout).not.toContain('warnings:');
    expect(checked.stdout).toMatch(/OK\n$/);
    expect(checked.status).toBe(0);

    const log = join(fleet.dir, 'sshd.0.log');
    const before = readFileSync(log, 'utf8').length;
    const gate = await startGate(dir, env);
    try {
      expect((await gate.ok<{ jump_chain: string[] }>('ssh_describe_host', { alias: 'app2' })).jump_chain).toEqual(['bastion']);
      const r = await gate.ok<{ stdout: string; exit_code: number }>('ssh_run', { alias: 'app2', command: 'echo through $USER' });
      expect(r).toMatchObject({ stdout: `through ${fleet.user}\n`, exit_code: 0 });
    } finally {
      await gate.close();
    }
    // Both logins happened, the bastion's first: app2 was reached through it.
    const sessions = readFileSync(log, 'utf8').slice(before);
    const viaBastion = sessions.indexOf(`on ${bastion.host} port ${bastion.port}`);
    expect(viaBastion).toBeGreaterThanOrEqual(0);
    expect(sessions.indexOf(`on ${app2.host} port ${app2.port}`)).toBeGreaterThan(viaBastion);
    expect(sessions).not.toContain(`on ${app1.host} port`);
  });

  it('takes three commands from a ~/.ssh/config behind a bastion to a passing check --connect, known_hosts empty at first', () => {
    const [bastion, app1, app2] = fleet.hosts as [Fleet['hosts'][number], Fleet['hosts'][number], Fleet['hosts'][number]];
    const home = join(dir, 'home3');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(
      join(home, '.ssh', 'config'),
      [
        'Host bastion',
        `  HostName ${bastion.host}`,
        'Host app*',
        '  ProxyJump bastion',
        'Host app1',
        `  HostName ${app1.host}`,
        'Host app2',
        `  HostName ${app2.host}`,
        'Host *',
        `  Port ${bastion.port}`,
        `  User ${fleet.user}`,
        `  IdentityFile ${fleet.userKeyPath}`,
        '',
      ].join('\n'),
    );
    const config = join(dir, 'config3');
    const policies = join(dir, 'policies3');
    mkdirSync(policies);
    writeFileSync(join(policies, 'test.yml'), ALLOW_ALL_POLICY);
    const env = { HOME: home, SSHGATE_KEYS_DIR: fleet.dir, SSHGATE_POLICY: policies };

    const imported = sshgate(env, 'import', 'ssh-config', '--out', config, '--keys-dir', fleet.dir);
    expect(imported.status).toBe(0);
    expect(existsSync(join(config, 'known_hosts'))).toBe(false);

    const scanned = sshgate(env, 'keyscan', '--config', config, '--yes');
    expect(scanned.stderr).toContain('3 added');
    expect(scanned.status).toBe(0);
    // Each host's key as ssh-keygen prints it; app1 and app2 were scanned through the bastion.
    for (const alias of ['bastion', 'app1', 'app2']) expect(scanned.stdout).toMatch(new RegExp(`^${alias} .* SHA256:`, 'm'));

    const connected = sshgate(env, 'check', '--config', config, '--connect');
    expect(connected.stdout).toContain('connect: 3 of 3 hosts passed');
    expect(connected.stdout).not.toContain('FAILED');
    expect(connected.status).toBe(0);
  });
});
