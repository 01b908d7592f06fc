import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureUser, TEST_USER } from '../support/sshd.js';

const STEPS = ['1. ssh_list_hosts', '2. ssh_plan', 'DENIED', '3. ssh_run demo "uname -a"', 'succeeded, exit 0', 'tick 5', '→ done: succeeded', 'ssh_cancel → cancelled', '→ cancelled', 'done: every step worked'];

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
});
