import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PidLineReader, sweepScript, withPidLine } from '../../../src/ssh/sweep.js';

/** A PATH with the tools the sweep needs but no `ps`, to exercise the /proc fallback. */
const noPs = mkdtempSync(join(tmpdir(), 'sshgate-sweep-'));
for (const tool of ['awk', 'cat', 'sleep', 'setsid']) symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), join(noPs, tool));
afterAll(() => rmSync(noPs, { recursive: true, force: true }));

function pgrep(pattern: string): string {
  try {
    return execFileSync('pgrep', ['-af', pattern], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** Starts a command the way the SSH executor does (with its pid line) and returns that pid. */
function startTree(shell: string, command: string): Promise<number> {
  const child = spawn(shell, ['-c', withPidLine(command)], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  child.unref();
  return new Promise((resolve, reject) => {
    const reader = new PidLineReader((pid) => (pid ? resolve(pid) : reject(new Error('no pid line'))));
    child.stdout.on('data', (d: Buffer) => reader.push(d));
  });
}

describe('the pid sweep', () => {
  for (const shell of ['bash', 'dash']) {
    for (const table of ['ps', '/proc']) {
      it(`removes a command's whole tree, setsid children included (${shell}, ${table})`, async () => {
        const tag = `${shell === 'bash' ? 47 : 48}${table === 'ps' ? 1 : 2}`;
        const pid = await startTree(shell, `sleep ${tag}1 & setsid sleep ${tag}2 & sleep ${tag}3`);
        await new Promise((r) => setTimeout(r, 200));
        expect(pgrep(`^sleep ${tag}[123]`).split('\n')).toHaveLength(3);
        const env = table === 'ps' ? process.env : { ...process.env, PATH: noPs };
        const out = execFileSync(`/usr/bin/${shell}`, ['-c', sweepScript(pid, 300)], { encoding: 'utf8', env });
        expect(out.trim()).toBe('listed');
        expect(pgrep(`^sleep ${tag}[123]`)).toBe('');
      });
    }
  }

  it('KILLs what ignores TERM once the grace period is over, and returns early when all is gone', async () => {
    const pid = await startTree('dash', `(trap '' TERM; exec sleep 4931) & sleep 4932`);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    execFileSync('/usr/bin/dash', ['-c', sweepScript(pid, 500)]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(pgrep('^sleep 493[12]')).toBe('');
    const quick = await startTree('dash', 'sleep 4933');
    const t0 = Date.now();
    execFileSync('/usr/bin/dash', ['-c', sweepScript(quick, 5000)]);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(pgrep('^sleep 4933')).toBe('');
  });

  it('refuses a pid that is not one', () => {
    expect(() => sweepScript(1, 100)).toThrow(RangeError);
    expect(() => sweepScript(Number.NaN, 100)).toThrow(RangeError);
  });
});

describe('PidLineReader', () => {
  it('takes the pid line off the front, even split across chunks', () => {
    const pids: (number | undefined)[] = [];
    const r = new PidLineReader((p) => pids.push(p));
    expect(r.push(Buffer.from('12')).toString()).toBe('');
    expect(r.push(Buffer.from('34\nhello\n')).toString()).toBe('hello\n');
    expect(r.push(Buffer.from('567\n')).toString()).toBe('567\n');
    expect(pids).toEqual([1234]);
  });

  it('passes a first line that is not a pid through as output', () => {
    const pids: (number | undefined)[] = [];
    const r = new PidLineReader((p) => pids.push(p));
    expect(r.push(Buffer.from('not a pid\n')).toString()).toBe('not a pid\n');
    expect(pids).toEqual([undefined]);
  });

  it('gives up waiting for a newline after a pid-sized prefix', () => {
    const r = new PidLineReader(() => undefined);
    const long = Buffer.alloc(100, 0x31);
    expect(r.push(long)).toHaveLength(100);
  });
});
