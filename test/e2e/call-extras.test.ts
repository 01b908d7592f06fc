/**
 * What a call may give beside its command: stdin, a workdir and environment variables — each only
 * as far as the policy lists — and "@all" as a fan-out target. Run against real OpenSSH hosts.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const POLICY = `
workdirs: ["/tmp", "/var/*"]
env: [GREETING, LANG]
rules:
  - { name: "secrets stay", action: deny, commands: ["cat /var/secret/*"] }
  - { name: "no hostname on h3", action: deny, aliases: [h3], commands: ["hostname"] }
  - { name: "filters", action: allow, stdin: true, commands: ["cat", "wc -c", "true"] }
  - { name: "tools", action: allow, commands: ["cat *", "pwd", "printenv *", "hostname", "uptime"] }
`;

let fleet: Fleet;
let gate: Gate;
let dir: string;

beforeAll(async () => {
  fleet = await startFleet(3, { subnet: 84 });
  dir = writeConfig(fleet, { hosts: fleet.hosts.map((h, i) => ({ ...h, tags: i === 0 ? ['web'] : ['db'] })), policy: POLICY });
  gate = await startGate(dir);
});
afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

interface Run {
  state: string;
  exit_code?: number;
  stdout: string;
  stderr: string;
}

describe('stdin', () => {
  it('is written to the command, then EOF', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'h1', command: 'cat', stdin: 'hello\nwörld ✓\n' });
    expect(r).toMatchObject({ state: 'succeeded', stdout: 'hello\nwörld ✓\n' });
  });

  it('carries 500 KiB whole, and the audit record has its size and digest, never its text', async () => {
    const data = 'abcdefghij\n'.repeat(46_000);
    const r = await gate.ok<Run>('ssh_run', { alias: 'h2', command: 'wc -c', stdin: data });
    expect(r.stdout.trim()).toBe(String(data.length));
    const digest = createHash('sha256').update(data).digest('hex');
    const record = gate
      .log()
      .split('\n')
      .find((l) => l.includes('"event":"decision"') && l.includes(digest));
    expect(record).toContain(`"stdin_bytes":${data.length}`);
    expect(gate.log()).not.toContain('abcdefghij\\nabcdefghij');
  });

  it('does not hold up a command that never reads it', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'h2', command: 'true', stdin: 'x'.repeat(400_000) });
    expect(r.state).toBe('succeeded');
  });

  it('is empty without the argument: a command reading it gets EOF at once', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'h1', command: 'wc -c' });
    expect(r.stdout.trim()).toBe('0');
  });

  it('is refused for a command no rule with stdin: true allows, even where the command is allowed', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'printenv GREETING', stdin: 'data' });
    expect(e.code).toBe('policy_denied');
    expect(e.message).toContain('stdin');
    expect(e.hint).toContain('stdin: true');
    expect((await gate.ok<Run>('ssh_run', { alias: 'h1', command: 'printenv GREETING' })).state).toBe('failed');
  });

  it('refuses more than 512 KiB, naming the limit', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'cat', stdin: 'x'.repeat(524_289) });
    expect(e.code).toBe('invalid_input');
    expect(e.message).toContain('524288');
  });
});

describe('workdir', () => {
  it('starts the command in a directory the policy lists', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'h1', command: 'pwd', workdir: '/tmp' });
    expect(r.stdout).toBe('/tmp\n');
  });

  it('fails the command, not the host, when the directory is missing', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'h1', command: 'pwd', workdir: '/var/no-such-dir-here' });
    expect(r).toMatchObject({ state: 'failed', exit_code: 1, stdout: '' });
    expect(r.stderr).toContain('no-such-dir-here');
  });

  it('refuses a directory the policy does not list, and says which it lists', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'pwd', workdir: '/etc' });
    expect(e).toMatchObject({ code: 'policy_denied' });
    expect(e.hint).toContain('/var/*');
  });

  it.each(['tmp', '/tmp/../etc', '/var/./log', '/tmp/', '/var//log'])('refuses %s, which is no plain absolute path', async (workdir) => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'pwd', workdir });
    expect(e.code).toBe('invalid_input');
  });

  it('judges the command as after a cd: relative paths as under any directory, so a deny rule on an absolute path holds', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'cat key', workdir: '/var/secret' });
    expect(e.code).toBe('policy_denied');
    expect(e.message).toContain('secrets stay');
    expect((await gate.fails('ssh_run', { alias: 'h1', command: 'cat key', workdir: '/tmp' })).code).toBe('policy_denied');
    expect((await gate.ok<Run>('ssh_run', { alias: 'h1', command: 'cat /etc/hosts', workdir: '/var/tmp' })).state).toBe('succeeded');
  });
});

describe('env', () => {
  it('sets a listed variable to exactly the value given, quotes and dollars included', async () => {
    const value = `it's "$HOME" \`id\` ; exit 3 \\ ✓`;
    const r = await gate.ok<Run>('ssh_run', { alias: 'h1', command: 'printenv GREETING', env: { GREETING: value } });
    expect(r).toMatchObject({ state: 'succeeded', stdout: `${value}\n` });
  });

  it('refuses a name the policy does not list, PATH included', async () => {
    for (const name of ['PATH', 'OTHER']) {
      const e = await gate.fails('ssh_run', { alias: 'h1', command: 'true', env: { [name]: 'x' } });
      expect(e.code, name).toBe('policy_denied');
      expect(e.hint).toContain('GREETING');
    }
  });

  it('goes with workdir and stdin in one call', async () => {
    const r = await gate.ok<Run>('ssh_run', { alias: 'h3', command: 'cat', workdir: '/tmp', env: { LANG: 'C' }, stdin: 'in' });
    expect(r.stdout).toBe('in');
  });
});

describe('@all', () => {
  it('runs on every host of the inventory, each decided on its own', async () => {
    const r = await gate.ok<{ results: { alias: string; status: string }[]; summary: { total: number } }>('ssh_run_on_tag', {
      tag: '@all',
      command: 'hostname',
    });
    expect(r.summary.total).toBe(3);
    expect(Object.fromEntries(r.results.map((x) => [x.alias, x.status]))).toEqual({ h1: 'succeeded', h2: 'succeeded', h3: 'denied' });
  });

  it('is "*" too, and ssh_plan takes it', async () => {
    const p = await gate.ok<{ targets: string[]; allowed: boolean }>('ssh_plan', { tag: '*', command: 'uptime' });
    expect(p).toMatchObject({ targets: ['h1', 'h2', 'h3'], allowed: true });
  });
});
