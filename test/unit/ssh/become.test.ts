import { describe, expect, it } from 'vitest';
import { BecomeRun, type Elevation } from '../../../src/ssh/become.js';

const PASSWORD = 'pw-Secret-123';
const withPassword: Elevation = { method: 'sudo', user: 'root', password: PASSWORD };

/** A BecomeRun attached to a recorded stdin. */
function started(e: Elevation, data?: Buffer) {
  const run = new BecomeRun(e, data);
  const written: string[] = [];
  let ended = false;
  run.attach({ write: (d) => Promise.resolve(written.push(d.toString()) > 0), end: () => void (ended = true) });
  const okLine = /echo (sshgate-become-ok-[0-9a-f]+);/.exec(run.script('bash', 'id -u', 'echo m $$'))?.[1] as string;
  return { run, written, ended: () => ended, okLine: `${okLine}\n` };
}

describe('the elevated request', () => {
  it('runs the pinned interpreter through sudo -S -k with a nonce prompt, after the pid line', () => {
    const run = new BecomeRun(withPassword);
    const script = run.script('bash', "echo 'a b'", 'echo m $$');
    expect(script).toMatch(
      /^echo m \$\$; PATH=\/usr\/sbin:\/usr\/bin:\/sbin:\/bin; export PATH; exec sudo -S -k -p 'sshgate-become-prompt-[0-9a-f]{24}' -u root -- \/bin\/bash --noprofile --norc -c -- 'echo sshgate-become-ok-[0-9a-f]{24}; echo '\\''a b'\\''' bash$/,
    );
    expect(script).not.toContain(PASSWORD);
    expect(run.command('bash', 'id -u', 'echo m $$')).not.toContain(PASSWORD);
  });

  it('uses sudo -n without a password, and doas -n for doas', () => {
    expect(new BecomeRun({ method: 'sudo', user: 'postgres' }).script('sh', 'id', ':')).toMatch(
      /exec sudo -n -u postgres -- \/bin\/sh -c -- /,
    );
    expect(new BecomeRun({ method: 'doas', user: 'root' }).script('sh', 'id', ':')).toMatch(/exec doas -n -u root -- \/bin\/sh -c -- /);
  });

  it.each(['root;id', '-u', '../x', '#0', '%adm', 'a b', ''])('refuses the user %j however it got here', (user) => {
    expect(() => new BecomeRun({ method: 'sudo', user }).script('bash', 'id', ':')).toThrow(/not a user name/);
  });
});

describe('the answer to the prompt', () => {
  it('writes the password once, when the prompt is the first thing on stderr, takes the prompt off and closes stdin', () => {
    const { run, written, ended } = started(withPassword);
    expect(run.stderr(Buffer.from(run.prompt.slice(0, 10))).length).toBe(0);
    expect(written).toEqual([]);
    expect(run.stderr(Buffer.from(run.prompt.slice(10))).toString()).toBe('');
    expect(written).toEqual([`${PASSWORD}\n`]);
    expect(ended()).toBe(true);
  });

  it('a second prompt means a refused password: it is not given again, and the failure says so', () => {
    const { run, written } = started(withPassword);
    run.stderr(Buffer.from(run.prompt));
    const rest = run.stderr(Buffer.from(`Sorry, try again.\n${run.prompt}`));
    expect(rest.toString()).toBe('Sorry, try again.\n');
    expect(written).toEqual([`${PASSWORD}\n`]);
    expect(run.failure('web1', 'bash')).toMatchObject({
      code: 'become_failed',
      message: 'sudo refused the password for root on host "web1" (sudo said: Sorry, try again.)',
    });
  });

  it('does not answer a prompt that is not the first thing on stderr, and closes stdin so sudo cannot wait', () => {
    const { run, written, ended } = started(withPassword);
    expect(run.stderr(Buffer.from(`We trust you have received the usual lecture\n${run.prompt}`)).toString()).toContain('lecture');
    expect(written).toEqual([]);
    expect(ended()).toBe(true);
    expect(run.failure('web1', 'bash')?.message).toMatch(/stderr began with "We trust you have received the usual lecture"/);
  });

  it('never answers the prompt once the elevated command runs, and gives it the call stdin only then', () => {
    const { run, written, ended, okLine } = started(withPassword, Buffer.from('input'));
    run.stderr(Buffer.from(run.prompt));
    expect(written).toEqual([`${PASSWORD}\n`]);
    expect(ended()).toBe(false);
    expect(run.stdout(Buffer.from(`${okLine.slice(0, 5)}`)).toString()).toBe('');
    expect(run.stdout(Buffer.from(`${okLine.slice(5)}out\n`)).toString()).toBe('out\n');
    expect(written).toEqual([`${PASSWORD}\n`, 'input']);
    expect(ended()).toBe(true);
    // The command itself prints the prompt: nothing more is written.
    expect(run.stderr(Buffer.from(run.prompt)).toString()).toBe(run.prompt);
    expect(written).toHaveLength(2);
    expect(run.failure('web1', 'bash')).toBeUndefined();
  });

  it('passwordless: stdin is the call data at once, and a refusal names sudo -n and NOPASSWD', () => {
    const { run, written, ended } = started({ method: 'sudo', user: 'root' }, Buffer.from('x'));
    expect(written).toEqual(['x']);
    expect(ended()).toBe(true);
    run.stderr(Buffer.from('sudo: a password is required\n'));
    const f = run.failure('web1', 'sh');
    expect(f?.message).toBe('sudo did not run the command as root on host "web1" (sudo said: sudo: a password is required)');
    expect(f?.hint).toMatch(/sudo -n: the sudoers rule must let the login user run \/bin\/sh as root without a password \(NOPASSWD\)/);
  });

  it('output before the ok line passes through; the line itself never reaches the task', () => {
    const { run, okLine } = started({ method: 'sudo', user: 'root' });
    expect(Buffer.concat([run.stdout(Buffer.from(`motd\n${okLine}`)), run.stdout(Buffer.from('0\n'))]).toString()).toBe('motd\n0\n');
    expect(run.elevated).toBe(true);
  });
});

describe('what sudo said', () => {
  it('is read whole when it arrives in pieces', () => {
    const { run } = started({ method: 'sudo', user: 'root' });
    run.stderr(Buffer.from('sudo'));
    run.stderr(Buffer.from(': a password is required\n'));
    expect(run.failure('web1', 'bash')?.message).toMatch(/\(sudo said: sudo: a password is required\)$/);
  });
});
