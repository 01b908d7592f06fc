import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { PidLineReader, pidMarker, sweepScript, withPidLine } from '../../../src/ssh/cancel-sweep.js';

/** A PATH with the tools the sweep needs but no `ps` (nor `cat`), to exercise the /proc fallback. */
const noPs = mkdtempSync(join(tmpdir(), 'sshgate-sweep-'));
for (const tool of ['awk', 'sleep', 'setsid'])
  symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), join(noPs, tool));
afterAll(() => rmSync(noPs, { recursive: true, force: true }));

function pgrep(pattern: string): string {
  try {
    return execFileSync('pgrep', ['-af', pattern], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/**
 * pgrep's lines for `pattern` once they are empty, or after 2 s: a process the sweep KILLed as its
 * last act may still be on its way out when the sweep's shell exits (seen on a loaded machine).
 */
async function leftAfterKill(pattern: string): Promise<string> {
  let left = pgrep(pattern);
  for (let i = 0; left !== '' && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    left = pgrep(pattern);
  }
  return left;
}

/** Starts a command the way the SSH executor does (with its pid line) and returns that pid. */
function startTree(shell: string, command: string): Promise<number> {
  const marker = pidMarker();
  // detached: a session of its own, as sshd gives every command.
  const child = spawn(shell, ['-c', withPidLine(command, marker)], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  child.unref();
  return new Promise((resolve, reject) => {
    const reader = new PidLineReader(marker);
    child.stdout.on('data', (d: Buffer) => {
      reader.push(d);
      if (reader.pid) resolve(reader.pid);
    });
    child.stdout.on('end', () => reject(new Error('no pid line')));
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
    expect(await leftAfterKill('^sleep 493[12]')).toBe('');
    const quick = await startTree('dash', 'sleep 4933');
    const t0 = Date.now();
    execFileSync('/usr/bin/dash', ['-c', sweepScript(quick, 5000)]);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(pgrep('^sleep 4933')).toBe('');
  });

  it('looks again 10 ms after the TERM at first, and waits the whole grace period before a KILL', async () => {
    // A `sleep` that notes how long each wait is, ahead of the real one on the PATH.
    const dir = mkdtempSync(join(tmpdir(), 'sshgate-sweep-sleep-'));
    const log = join(dir, 'waits');
    writeFileSync(
      join(dir, 'sleep'),
      `#!/bin/sh\necho "$1" >> ${log}\nexec ${execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim()} "$@"\n`,
      {
        mode: 0o755,
      },
    );
    try {
      const pid = await startTree('dash', `(trap '' TERM; exec sleep 4941) & sleep 4942`);
      await new Promise((r) => setTimeout(r, 200));
      execFileSync('/usr/bin/dash', ['-c', sweepScript(pid, 400)], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
      expect(await leftAfterKill('^sleep 494[12]')).toBe('');
      const waits = readFileSync(log, 'utf8').trim().split('\n').map(Number);
      expect(waits.slice(0, 10)).toEqual(Array(10).fill(0.01));
      expect(waits.slice(10).every((w) => w === 0.1)).toBe(true);
      expect(waits.reduce((a, w) => a + w, 0)).toBeCloseTo(0.4, 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sweeps a session whose shell has already exited: its background job is found by session id', async () => {
    const pid = await startTree('dash', 'sleep 4961 & exit 0');
    await new Promise((r) => setTimeout(r, 200));
    expect(pgrep('^sleep 4961')).not.toBe('');
    execFileSync('/usr/bin/dash', ['-c', sweepScript(pid, 300)]);
    expect(pgrep('^sleep 4961')).toBe('');
  });

  it('touches nothing when the pid is alive but leads no session of its number (a reused pid)', async () => {
    const stranger = spawn('sleep', ['4971'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 100));
    try {
      const out = execFileSync('/usr/bin/dash', ['-c', sweepScript(stranger.pid as number, 300)], { encoding: 'utf8' });
      expect(out.trim()).toBe('listed');
      expect(pgrep('^sleep 4971')).not.toBe('');
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  it('refuses a pid that is not one', () => {
    expect(() => sweepScript(1, 100)).toThrow(RangeError);
    expect(() => sweepScript(Number.NaN, 100)).toThrow(RangeError);
  });
});

describe('PidLineReader', () => {
  const m = 'sshgate-pid-0123456789ab';
  const feed = (r: PidLineReader, ...chunks: string[]) => chunks.map((c) => r.push(Buffer.from(c)).toString()).join('');

  it('takes the marker line off the front, even split across chunks', () => {
    const r = new PidLineReader(m);
    expect(feed(r, 'sshgate-pid-01', '23456789ab 12', '34\nhello\n', '567\n')).toBe('hello\n567\n');
    expect(r.pid).toBe(1234);
  });

  it('passes lines before the marker through as output (a chatty login script)', () => {
    const r = new PidLineReader(m);
    expect(feed(r, 'Welcome!\nsshgate-pid-0123456789ab 42\nreal\n')).toBe('Welcome!\nreal\n');
    expect(r.pid).toBe(42);
  });

  it('is not fooled by a line that only looks like a marker', () => {
    const r = new PidLineReader(m);
    expect(feed(r, 'sshgate-pid-ffffffffffff 666\n', 'sshgate-pid-0123456789ab x\n')).toBe(
      'sshgate-pid-ffffffffffff 666\nsshgate-pid-0123456789ab x\n',
    );
    expect(r.pid).toBeUndefined();
  });

  it('takes the line off when a terminal ends it in \\r\\n, the two split across chunks', () => {
    const r = new PidLineReader(m);
    expect(feed(r, `${m} 4321\r`, '\ntty\r\n')).toBe('tty\r\n');
    expect(r.pid).toBe(4321);
  });

  it('finds the marker after the echo of input on its line, and passes the echo on', () => {
    const r = new PidLineReader(m);
    expect(feed(r, 'yes', `${m} 99\r\nout\r\n`)).toBe('yesout\r\n');
    expect(r.pid).toBe(99);
  });

  it('passes output on at once, holding back only what may be the start of the marker', () => {
    const r = new PidLineReader(m);
    expect(feed(r, 'Welcome')).toBe('Welcome');
    expect(feed(r, ' sshgate-pid-01')).toBe(' ');
    expect(feed(r, '23456789ab 5\n')).toBe('');
    expect(r.pid).toBe(5);
  });

  it('finds the pid wherever the stream is cut, and passes every other byte on once', () => {
    const bytes = fc.string({ unit: fc.constantFrom('a', 's', '-', ' ', '1', '\r', '\n', 'sshgate-pid-', '\u00e9'), maxLength: 40 });
    fc.assert(
      fc.property(
        bytes,
        bytes,
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        (before, after, pid, cuts, crlf) => {
          const whole = Buffer.from(`${before}${m} ${pid}${crlf ? '\r\n' : '\n'}${after}`);
          const at = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
          const r = new PidLineReader(m);
          const out = [...at, whole.length].map((end, i) => r.push(whole.subarray(i === 0 ? 0 : at[i - 1], end)));
          expect(r.pid).toBe(pid);
          expect(Buffer.concat(out).toString()).toBe(`${before}${after}`);
        },
      ),
    );
  });

  it('gives up on a marker after 8 KiB and passes everything through', () => {
    const r = new PidLineReader(m);
    const long = `${'x'.repeat(10_000)}\n`;
    expect(feed(r, long, `${m} 7\n`)).toBe(`${long}${m} 7\n`);
    expect(r.pid).toBeUndefined();
  });
});
