import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureUser, TEST_USER } from '../support/sshd.js';

const STEPS = [
  '1. ssh_list_hosts',
  '2. ssh_plan',
  'DENIED',
  '3. ssh_run demo "uname -a"',
  'succeeded, exit 0',
  'tick 5',
  '→ done: succeeded',
  'ssh_cancel → cancelled',
  '→ cancelled',
  'done: every step worked',
];

function demo(env: Record<string, string>, asUser?: string) {
  const argv = [process.execPath, resolve('dist/cli.js'), 'demo'];
  const [cmd, ...args] = asUser ? ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--init-groups', ...argv] : argv;
  return spawnSync(cmd as string, args, { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000, cwd: '/tmp' });
}

describe('sshgate demo', () => {
  it('runs its scripted session against the embedded demo host', () => {
    const r = demo({ SSHGATE_DEMO_HOST: 'embedded' });
    expect(r.stderr).not.toMatch(/sshgate demo:/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('embedded ssh2 server');
    for (const step of STEPS) expect(r.stdout).toContain(step);
  });

  it("runs it against the system's sshd as an ordinary user, with nothing set up beforehand", () => {
    ensureUser(TEST_USER);
    const r = demo({ HOME: `/home/${TEST_USER}` }, TEST_USER);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('the system OpenSSH sshd');
    for (const step of STEPS) expect(r.stdout).toContain(step);
  });

  it('leaves no process, listener or key behind when it is interrupted', async () => {
    // The embedded host's commands inherit the demo's environment: this mark tells its `sleep 120`
    // from one of another demo that runs at the same time (the packaging test runs one).
    const mark = `demo-test-${process.pid}-${Date.now()}`;
    const child = spawn(process.execPath, [resolve('dist/cli.js'), 'demo'], {
      env: { PATH: process.env.PATH ?? '', SSHGATE_DEMO_HOST: 'embedded', SSHGATE_TEST_MARK: mark },
      cwd: '/tmp',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r((exitCode = code))));
    // Generous: under a loaded CI machine the scripted steps before this one can take a while.
    const started = Date.now();
    while (Date.now() - started < 45_000 && exitCode === undefined && !out.includes('running after 1 s'))
      await new Promise((r) => setTimeout(r, 50));
    expect(out, `after ${Date.now() - started} ms, exit ${String(exitCode)}, stderr: ${err}`).toContain('running after 1 s');
    const dir = /\[config\] (\S+):/.exec(out)?.[1] as string;
    const port = /DEMO host 127\.0\.0\.1:(\d+)/.exec(out)?.[1] as string;
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(existsSync(dir)).toBe(false);
    const sleeping = spawnSync('pgrep', ['-f', '^sleep 120$'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((pid) => pid !== '' && environOf(pid).includes(`SSHGATE_TEST_MARK=${mark}`));
    expect(sleeping).toEqual([]);
    const listening = spawnSync('sh', ['-c', `ss -ltn 'sport = :${port}' | tail -n +2`], { encoding: 'utf8' });
    expect(listening.stdout.trim()).toBe('');
  }, 60_000);

  it('cleans up the same way when its reader goes away (sshgate demo | head -3), without a word on stderr', async () => {
    // The embedded host's commands inherit the demo's environment: this mark tells its `sleep 120`
    // from one of another demo that runs at the same time (the packaging test runs one).
    const mark = `demo-test-${process.pid}-${Date.now()}`;
    const child = spawn(process.execPath, [resolve('dist/cli.js'), 'demo'], {
      env: { PATH: process.env.PATH ?? '', SSHGATE_DEMO_HOST: 'embedded', SSHGATE_TEST_MARK: mark },
      cwd: '/tmp',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await new Promise<void>((r) =>
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('[config]')) r();
      }),
    );
    const dir = /\[config\] (\S+):/.exec(out)?.[1] as string;
    child.stdout.destroy();
    // A real SIGTERM during that cleanup still finds the demo's handler: it does not kill it midway.
    setTimeout(() => child.kill('SIGTERM'), 20);
    expect(await exited).toBe(143);
    expect(existsSync(dir)).toBe(false);
    expect(err).toBe('');
  }, 60_000);

  it('stops quietly when a pipe closes early: no stack trace (sshgate check | head -c 10)', () => {
    const r = spawnSync(
      'sh',
      [
        '-c',
        `${process.execPath} ${resolve('dist/cli.js')} check --config ${resolve('config')} --policy ${resolve('policies')} | head -c 10`,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.stdout).toHaveLength(10);
    expect(r.stderr).toBe('');
  });
});

/** A process's environment as /proc shows it; '' once it is gone. */
function environOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return '';
  }
}
