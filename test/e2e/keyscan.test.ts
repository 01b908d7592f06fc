/**
 * `sshgate keyscan` against real sshd hosts on loopback, behind jump hosts: an empty known_hosts
 * filled from the bastion inwards, a changed key refused, hashed files, --yes, a terminal's answer
 * and the refusal without one. Every host has an ed25519 and an ECDSA host key.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, writeConfig, type HostSpec } from '../support/mcp.js';
import { acceptedLogins, startFleet, type Fleet } from '../support/sshd.js';

const keysDir = mkdtempSync(join(tmpdir(), 'sshgate-keyscan-keys-'));
const ecdsaKey = join(keysDir, 'host_ecdsa');
execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '256', '-N', '', '-f', ecdsaKey]);

let fleet: Fleet;
let hosts: HostSpec[];
const dirs: string[] = [];

beforeAll(async () => {
  fleet = await startFleet(3, { subnet: 152, sshdConfig: [`HostKey ${ecdsaKey}`] });
  const [h1, h2, h3] = fleet.hosts as [Fleet['hosts'][0], Fleet['hosts'][0], Fleet['hosts'][0]];
  hosts = [
    { ...h3, alias: 'deep', jump: 'inner' },
    { ...h1, alias: 'bastion' },
    { ...h2, alias: 'inner', jump: 'bastion' },
  ];
});
afterAll(async () => {
  await fleet?.stop();
  for (const d of dirs) removeConfig(d);
  rmSync(keysDir, { recursive: true, force: true });
});

function gate(knownHosts: string): { dir: string; knownHosts: string } {
  const dir = writeConfig(fleet, { hosts, knownHosts });
  dirs.push(dir);
  return { dir, knownHosts: join(dir, 'config', 'known_hosts') };
}

const cli = (dir: string, command: string, ...rest: string[]) =>
  spawnSync(
    process.execPath,
    [resolve('dist/cli.js'), command, '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), ...rest],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
      timeout: 60_000,
    },
  );

/** `alias host:port type fingerprint state` for each host key of the fleet, as ssh-keygen -l prints the fingerprints. */
function lines(alias: string, state: string): string[] {
  const h = hosts.find((x) => x.alias === alias) as HostSpec;
  const fp = (pub: string) => execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub], { encoding: 'utf8' }).split(' ')[1];
  return [
    `${alias} ${h.host}:${h.port} ssh-ed25519 ${fp(join(fleet.dir, 'host_ed25519.pub'))} ${state}`,
    `${alias} ${h.host}:${h.port} ecdsa-sha2-nistp256 ${fp(`${ecdsaKey}.pub`)} ${state}`,
  ];
}

const entry = (alias: string, key: string) => {
  const h = hosts.find((x) => x.alias === alias) as HostSpec;
  return `[${h.host}]:${h.port} ${key}\n`;
};
const sshdLog = () => readFileSync(join(fleet.dir, 'sshd.0.log'), 'utf8');

describe('sshgate keyscan through jump hosts', () => {
  it('fills an empty known_hosts from the bastion inwards with --yes, logging in only to the hops', () => {
    const g = gate('');
    const logins = acceptedLogins(fleet);
    const r = cli(g.dir, 'keyscan', 'deep', '--yes');
    expect(r.stderr).toContain('"bastion" is a jump host of the hosts asked for, and not in known_hosts: scanned first');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${[...lines('bastion', 'new'), ...lines('inner', 'new'), ...lines('deep', 'new')].join('\n')}\n`);
    expect(readFileSync(g.knownHosts, 'utf8').trim().split('\n')).toHaveLength(6);
    // A tunnel through bastion and one through inner: deep itself is never logged in to, and no
    // scan ever sent a user name.
    expect(acceptedLogins(fleet) - logins).toBe(2);
    expect(sshdLog()).not.toContain('sshgate-keyscan');
    // What it wrote is what a connection checks, under strict.
    expect(cli(g.dir, 'run', 'deep', '--', 'echo', 'through two hops')).toMatchObject({ status: 0, stdout: 'through two hops\n' });
    const again = cli(g.dir, 'keyscan', '--yes');
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(`${[...lines('bastion', 'known'), ...lines('inner', 'known'), ...lines('deep', 'known')].join('\n')}\n`);
    expect(readFileSync(g.knownHosts, 'utf8').trim().split('\n')).toHaveLength(6);
  });

  it('without a terminal and without --yes prints the keys, writes nothing, and scans nothing behind an unrecorded hop', () => {
    const g = gate('');
    const logins = acceptedLogins(fleet);
    const r = cli(g.dir, 'keyscan', 'deep');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(`${lines('bastion', 'new').join('\n')}\n`);
    expect(r.stderr).toContain('sshgate: inner was not scanned: its jump host "bastion" is not in known_hosts: its keys were not recorded');
    expect(r.stderr).toContain('sshgate: deep was not scanned: its jump host "bastion"');
    expect(r.stderr).toContain('there is no terminal to confirm them on');
    expect(readFileSync(g.knownHosts, 'utf8')).toBe('');
    expect(acceptedLogins(fleet)).toBe(logins);
  });

  it('refuses a changed key loudly, writes nothing, and sends nothing through a hop whose key changed', () => {
    const before = entry('bastion', fleet.hostPublicKey) + entry('inner', otherKey());
    const g = gate(before);
    const logins = acceptedLogins(fleet);
    const changed = cli(g.dir, 'keyscan', 'inner', '--yes');
    expect(changed.status).toBe(1);
    const [ed, ec] = lines('inner', 'X').map((l) => l.slice(0, -1));
    expect(changed.stdout).toBe(`${ed}CHANGED\n${ec}not-recorded\n`);
    expect(changed.stderr).toContain('@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @');
    expect(changed.stderr).toContain('IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!');
    expect(changed.stderr).toContain('Nothing was written for "inner"');
    // deep is reached through inner: the pool checks inner's key before it logs in, and stops.
    const behind = cli(g.dir, 'keyscan', 'deep', '--yes');
    expect(behind.status).toBe(1);
    expect(behind.stdout).toBe('');
    expect(behind.stderr).toMatch(/deep: the host key of "inner" .* has changed/);
    expect(readFileSync(g.knownHosts, 'utf8')).toBe(before);
    // bastion only, for the tunnels to inner: inner was never logged in to.
    expect(acceptedLogins(fleet) - logins).toBe(2);
  });

  it('hashes the names it adds to a file that hashes its names', () => {
    const g = gate(entry('bastion', fleet.hostPublicKey));
    execFileSync('ssh-keygen', ['-H', '-f', g.knownHosts], { stdio: 'ignore' });
    const r = cli(g.dir, 'keyscan', 'inner', '--yes');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('(the host name hashed, as the file has its names)');
    const text = readFileSync(g.knownHosts, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(3);
    expect(text).not.toContain(hosts[2]?.host as string);
    const inner = hosts.find((h) => h.alias === 'inner') as HostSpec;
    expect(execFileSync('ssh-keygen', ['-F', `[${inner.host}]:${inner.port}`, '-f', g.knownHosts], { encoding: 'utf8' })).toContain(
      'found: line 2',
    );
    expect(cli(g.dir, 'run', 'inner', '--', 'echo', 'hashed')).toMatchObject({ status: 0, stdout: 'hashed\n' });
  });

  it('asks on a terminal, host by host, and writes what is answered yes', () => {
    const g = gate('');
    // script(1) gives the command a terminal; the answers wait in it until asked.
    const command = [
      process.execPath,
      resolve('dist/cli.js'),
      'keyscan',
      'inner',
      '--config',
      join(g.dir, 'config'),
      '--policy',
      join(g.dir, 'policies'),
    ]
      .map((w) => `'${w}'`)
      .join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { input: 'y\nn\n', encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout).toContain('add these 2 keys of "bastion"');
    expect(r.stdout).toContain('add these 2 keys of "inner"');
    expect(r.status).toBe(1);
    const text = readFileSync(g.knownHosts, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(text).toContain(entry('bastion', fleet.hostPublicKey).trim());
  });
});

function otherKey(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sshgate-key-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
    return readFileSync(join(dir, 'k.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
