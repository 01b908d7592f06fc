import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW_ALL_POLICY, goneWithin, removeConfig, writeConfig, presentWithin } from '../support/mcp.js';
import { closedPort, startFleet, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let dir: string;
let deadPort: number;
beforeAll(async () => {
  fleet = await startFleet(2, { subnet: 74 });
  deadPort = await closedPort();
  // A third host whose secret is missing: it must not be spoken of when the command runs elsewhere.
  const [h1] = fleet.hosts as [Fleet['hosts'][number]];
  dir = writeConfig(fleet, {
    hosts: [
      ...fleet.hosts.map((h) => ({ ...h, tags: ['pair'] })),
      { ...h1, alias: 'locked', credentials: 'nosecret' },
      { alias: 'dead', host: '127.0.0.1', port: deadPort },
    ],
    credentials: [`{ name: nosecret, username: ${fleet.user}, password_secret: never_set }`],
    // A line sshgate ignores: serve logs it, run (whose stderr is the command's) does not.
    knownHosts: `${readFileSync(fleet.knownHostsPath, 'utf8')}garbage line\n`,
  });
});
afterAll(async () => {
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

const args = (...rest: string[]) => [
  resolve('dist/cli.js'),
  'run',
  '--config',
  join(dir, 'config'),
  '--policy',
  join(dir, 'policies'),
  ...rest,
];
const run = (...rest: string[]) =>
  spawnSync(process.execPath, args(...rest), { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
const runWith = (env: Record<string, string>, ...rest: string[]) =>
  spawnSync(process.execPath, args(...rest), { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 });

describe('sshgate run', () => {
  it("prints the command's output and exits with its status", () => {
    const ok = run('h1', '--', 'echo out; echo err >&2');
    // stderr holds the command's own: nothing of the "locked" host's missing secret or known_hosts.
    expect(ok).toMatchObject({ status: 0, stdout: 'out\n', stderr: 'err\n' });
    expect(run('h1', '--', 'exit 7').status).toBe(7);
  });

  it('refuses a denied command with status 255, the reason and a hint', () => {
    const r = run('h1', '--', 'uptime; reboot');
    expect(r.status).toBe(255);
    expect(r.stderr).toContain('reboot');
    expect(r.stderr).toContain('hint:');
  });

  it('says why it could not run in one human line and its hint, with the JSON log only when asked', () => {
    const human = `sshgate: cannot reach host "dead" at 127.0.0.1:${deadPort} (ECONNREFUSED)\n  hint: check the address, the port and the network policy\n`;
    expect(run('dead', '--', 'uptime')).toMatchObject({ status: 255, stdout: '', stderr: human });
    for (const asked of [
      runWith({}, '--log-level', 'warn', 'dead', '--', 'uptime'),
      runWith({ SSHGATE_LOG_LEVEL: 'warn' }, 'dead', '--', 'uptime'),
    ]) {
      const [json, ...rest] = asked.stderr.split('\n');
      expect(JSON.parse(json as string)).toMatchObject({ level: 40, alias: 'dead', code: 'connect_failed' });
      expect(`${rest.join('\n')}`).toBe(human);
    }
  });

  it('says in one human line that it recorded a new host key under accept-new', () => {
    const h1 = fleet.hosts[0] as Fleet['hosts'][number];
    const fresh = writeConfig(fleet, {
      hosts: [{ ...h1, alias: 'fresh' }],
      knownHosts: '',
      policy: `${ALLOW_ALL_POLICY}host_key_policy: accept-new\n`,
    });
    try {
      const cli = (...rest: string[]) =>
        spawnSync(
          process.execPath,
          [resolve('dist/cli.js'), 'run', '--config', join(fresh, 'config'), '--policy', join(fresh, 'policies'), ...rest],
          { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 },
        );
      const known = join(fresh, 'config', 'known_hosts');
      expect(cli('fresh', '--', 'echo in')).toMatchObject({
        status: 0,
        stdout: 'in\n',
        stderr: `sshgate: recorded the ssh-ed25519 host key of [${h1.host}]:${h1.port} in ${known} (host_key_policy: accept-new)\n`,
      });
      expect(cli('fresh', '--', 'echo again')).toMatchObject({ status: 0, stdout: 'again\n', stderr: '' });
    } finally {
      removeConfig(fresh);
    }
  });

  it('exits 2 for a target that names no host, as plan does, and names a forgotten --', () => {
    expect(run('nosuch', '--', 'uptime')).toMatchObject({ status: 2, stderr: expect.stringContaining('no host "nosuch"') });
    expect(run('@nosuch', '--', 'uptime')).toMatchObject({ status: 2, stderr: expect.stringContaining('no host has the tag "nosuch"') });
    expect(run('h1', 'uptime')).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('run needs "--" between the target and the command: sshgate run h1 -- uptime'),
    });
  });

  it('runs on every host of a @tag and sums up', () => {
    const r = run('@pair', '--', 'hostname -I >/dev/null; echo hi');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('== h1: succeeded, exit 0');
    expect(r.stdout).toContain('== h2: succeeded, exit 0');
    expect(r.stdout).toContain('2 hosts: 2 succeeded, 0 failed, 0 denied');
  });

  it('stops the remote command when its reader goes away, also through stderr (2>&1 | head)', async () => {
    // A duration of its own: what an earlier, failed run left behind does not count here.
    const sleep = `sleep 377.${process.pid}`;
    const cli = [process.execPath, ...args('h1', '--', `'${sleep} & seq 1 300000 >&2; wait'`)].join(' ');
    const r = spawnSync('bash', ['-c', `${cli} 2>&1 | head -c 10 >/dev/null; echo "status \${PIPESTATUS[0]}"`], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
      timeout: 30_000,
    });
    // Ended by the cancel it made itself (the command died of TERM), not by an unhandled EPIPE (1).
    expect(r.stdout).toBe('status 143\n');
    expect(await goneWithin(fleet.user, sleep, 5000)).toBe(true);
  });

  it('stops the remote command on Ctrl-C', async () => {
    const child = spawn(process.execPath, args('h2', '--', 'sleep 360 & sleep 361; wait'), {
      env: { PATH: process.env.PATH ?? '' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    expect(await presentWithin(fleet.user, 'sleep 36[01]')).not.toBe('');
    child.kill('SIGINT');
    expect(await exited).toBeGreaterThan(128);
    expect(await goneWithin(fleet.user, 'sleep 36[01]', 3000)).toBe(true);
  });
});
