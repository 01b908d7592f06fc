import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goneWithin, removeConfig, writeConfig, presentWithin } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let dir: string;
beforeAll(async () => {
  fleet = await startFleet(2, { subnet: 74 });
  // A third host whose secret is missing: it must not be spoken of when the command runs elsewhere.
  const [h1] = fleet.hosts as [Fleet['hosts'][number]];
  dir = writeConfig(fleet, {
    hosts: [...fleet.hosts.map((h) => ({ ...h, tags: ['pair'] })), { ...h1, alias: 'locked', credentials: 'nosecret' }],
    credentials: [`{ name: nosecret, username: ${fleet.user}, password_secret: never_set }`],
    // A line sshgate ignores: serve logs it, run (whose stderr is the command's) does not.
    knownHosts: `${readFileSync(fleet.knownHostsPath, 'utf8')}garbage line\n`,
  });
});
afterAll(async () => {
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

const args = (...rest: string[]) => [resolve('dist/cli.js'), 'run', '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), ...rest];
const run = (...rest: string[]) => spawnSync(process.execPath, args(...rest), { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });

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

  it('exits 2 for a target that names no host, as plan does, and names a forgotten --', () => {
    expect(run('nosuch', '--', 'uptime')).toMatchObject({ status: 2, stderr: expect.stringContaining('no host "nosuch"') });
    expect(run('@nosuch', '--', 'uptime')).toMatchObject({ status: 2, stderr: expect.stringContaining('no host has the tag "nosuch"') });
    expect(run('h1', 'uptime')).toMatchObject({ status: 2, stderr: expect.stringContaining('run needs "--" between the target and the command: sshgate run h1 -- uptime') });
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
    const r = spawnSync('bash', ['-c', `${cli} 2>&1 | head -c 10 >/dev/null; echo "status \${PIPESTATUS[0]}"`], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
    // Ended by the cancel it made itself (the command died of TERM), not by an unhandled EPIPE (1).
    expect(r.stdout).toBe('status 143\n');
    expect(await goneWithin(fleet.user, sleep, 5000)).toBe(true);
  });

  it('stops the remote command on Ctrl-C', async () => {
    const child = spawn(process.execPath, args('h2', '--', 'sleep 360 & sleep 361; wait'), { env: { PATH: process.env.PATH ?? '' }, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    expect(await presentWithin(fleet.user, 'sleep 36[01]')).not.toBe('');
    child.kill('SIGINT');
    expect(await exited).toBeGreaterThan(128);
    expect(await goneWithin(fleet.user, 'sleep 36[01]', 3000)).toBe(true);
  });
});
