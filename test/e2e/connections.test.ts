import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW_ALL_POLICY, removeConfig, startGate, writeConfig, type Gate, type HostSpec } from '../support/mcp.js';
import { acceptedLogins, startFleet, type Fleet } from '../support/sshd.js';

/** The fingerprint ssh-keygen prints for a public key line. */
function fingerprintOf(publicKeyLine: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sshgate-fp-'));
  try {
    writeFileSync(join(dir, 'k.pub'), `${publicKeyLine}\n`);
    return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'k.pub')], { encoding: 'utf8' }).split(' ')[1] as string;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function otherKey(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sshgate-key-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
    return readFileSync(join(dir, 'k.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let fleet: Fleet;
let gate: Gate;
let hosts: HostSpec[];
const wrongKey = otherKey();
beforeAll(async () => {
  // MaxSessions 2: a third concurrent command on one connection is refused by the server.
  fleet = await startFleet(4, { subnet: 64, maxSessions: 2 });
  const [h1, h2, h3, h4] = fleet.hosts as [Fleet['hosts'][number], Fleet['hosts'][number], Fleet['hosts'][number], Fleet['hosts'][number]];
  hosts = [
    h1,
    { ...h2, alias: 'rekeyed' },
    { ...h3, alias: 'stranger' },
    { ...h4, alias: 'inner', jump: 'h1' },
    // A second hop: the target is h4's address again, reached through h1 and then inner.
    { ...h4, alias: 'innermost', jump: 'inner' },
    { ...h4, alias: 'behind-rekeyed', jump: 'rekeyed' },
  ];
  const line = (h: { host: string; port: number }, key: string) => `[${h.host}]:${h.port} ${key}\n`;
  // Lines 3 and 4 are not host keys: the server says so and uses the others.
  const knownHosts =
    line(h1, fleet.hostPublicKey) +
    line(h2, wrongKey) +
    'garbage line\n' +
    `@not-a-marker * ${fleet.hostPublicKey}\n` +
    line(h4, fleet.hostPublicKey);
  gate = await startGate(writeConfig(fleet, { hosts, knownHosts }));
});
afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  if (gate) removeConfig(gate.dir);
});

describe('host keys', () => {
  it('refuses a host whose key differs from known_hosts, naming both fingerprints', async () => {
    const e = await gate.fails('ssh_run', { alias: 'rekeyed', command: 'echo never' });
    expect(e.code).toBe('host_key_mismatch');
    expect(e.message).toContain(fingerprintOf(wrongKey));
    expect(e.message).toContain(fingerprintOf(fleet.hostPublicKey));
    expect(e.hint).toContain('known_hosts');
  });

  it('logs each known_hosts line it ignores, with the line, and still uses the lines around them', async () => {
    const ignored = gate
      .log()
      .split('\n')
      .filter((l) => l.includes('known_hosts line ignored'))
      .map((l) => JSON.parse(l) as { line: number; msg: string });
    expect(ignored.map((l) => l.line)).toEqual([3, 4]);
    expect(ignored[1]?.msg).toContain('unknown marker @not-a-marker');
    expect((await gate.ok<{ stdout: string }>('ssh_run', { alias: 'inner', command: 'echo after' })).stdout).toBe('after\n');
  });

  it('refuses a host that is not in known_hosts under strict', async () => {
    const e = await gate.fails('ssh_run', { alias: 'stranger', command: 'echo never' });
    expect(e.code).toBe('host_key_unknown');
    // The file it looked in: a known_hosts_path relative to another working directory misleads.
    expect(e.message).toContain(`(${join(gate.dir, 'config', 'known_hosts')})`);
    expect(e.hint).toContain('accept-new');
  });

  it('under accept-new records a new host once, and still refuses a changed key', async () => {
    const dir = writeConfig(fleet, {
      hosts,
      knownHosts: `[${fleet.hosts[1]?.host}]:${fleet.hosts[1]?.port} ${wrongKey}\n`,
      policy: `host_key_policy: accept-new\n${ALLOW_ALL_POLICY}`,
    });
    const g = await startGate(dir);
    try {
      const r = await g.ok<{ stdout: string }>('ssh_run', { alias: 'stranger', command: 'echo welcome' });
      expect(r.stdout).toBe('welcome\n');
      const recorded = readFileSync(join(dir, 'config', 'known_hosts'), 'utf8');
      expect(recorded).toContain(`[${fleet.hosts[2]?.host}]:${fleet.hosts[2]?.port} ${fleet.hostPublicKey}`);
      expect((await g.fails('ssh_run', { alias: 'rekeyed', command: 'echo never' })).code).toBe('host_key_mismatch');
      expect(g.log()).toContain('accept-new');
    } finally {
      await g.close();
      removeConfig(dir);
    }
  });
});

describe('jump hosts', () => {
  it('reaches a host through a jump host', async () => {
    const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'inner', command: 'echo via jump' });
    expect(r.stdout).toBe('via jump\n');
    const d = await gate.ok<{ jump_chain: string[] }>('ssh_describe_host', { alias: 'innermost' });
    expect(d.jump_chain).toEqual(['h1', 'inner']);
  });

  it('follows a chain of two jumps', async () => {
    const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'innermost', command: 'echo two hops' });
    expect(r.stdout).toBe('two hops\n');
  });

  it("checks every hop's host key", async () => {
    const e = await gate.fails('ssh_run', { alias: 'behind-rekeyed', command: 'echo never' });
    expect(e.code).toBe('host_key_mismatch');
    expect(e.message).toContain('"rekeyed"');
  });
});

describe('the pool', () => {
  it('opens a further connection when the server refuses more sessions, and every command runs', async () => {
    const log = () => acceptedLogins(fleet);
    // The earlier tests left a warm connection to h1: these four share it until MaxSessions says no.
    const before = log();
    const runs = await Promise.all(
      [1, 2, 3, 4].map((n) => gate.ok<{ stdout: string; state: string }>('ssh_run', { alias: 'h1', command: `sleep 0.5; echo ${n}` })),
    );
    expect(runs.map((r) => r.stdout)).toEqual(['1\n', '2\n', '3\n', '4\n']);
    expect(log() - before).toBeGreaterThanOrEqual(1);
    expect(gate.log()).toContain('opening a further connection');
  });

  it('reuses the warm connection for the next command', async () => {
    const log = () => acceptedLogins(fleet);
    const before = log();
    await gate.ok('ssh_run', { alias: 'h1', command: 'true' });
    await gate.ok('ssh_run', { alias: 'h1', command: 'true' });
    expect(log()).toBe(before);
  });
});
