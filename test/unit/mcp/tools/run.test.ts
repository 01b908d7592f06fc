/**
 * ssh_run and ssh_cancel, in process: the real gateway, policy and task manager over a scripted
 * host. What reaches the host is read from what the scripted host was asked.
 */
import type { Progress } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as S from '../../../../src/gateway/tool-contract.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';
import { ALLOW_ALL_POLICY } from '../../../support/mcp.js';

const POLICY = `workdirs: ["/srv/*"]
env: [APP_ENV]
${ALLOW_ALL_POLICY}  - { name: "reads stdin", action: allow, stdin: true, commands: ["cat", "tee /srv/*"] }
  - { name: "terminal views", action: allow, tty: true, commands: ["top -b -n 1"] }
`;

let gate: InProcessGate;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1), scriptedHost(2)], { policy: POLICY, graceMs: 300 });
});
afterAll(() => gate?.close());
beforeEach(() => gate.hosts.reset());

/** A task's state once it has ended, or its state after `ms`. */
async function endedWithin(taskId: string, ms = 2000): Promise<S.TaskStatus> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await gate.ok<S.TaskStatus>('ssh_get_task_status', { task_id: taskId });
    if (!['queued', 'running'].includes(s.state) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ssh_run', () => {
  it('returns the scripted stdout, stderr and exit code; a non-zero exit is a result, not an error', async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: 'out\n' }, { stderr: 'err\n' }], exitCode: 3 }));
    const r = await gate.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'systemctl is-active nginx' });
    expect(r).toMatchObject({
      state: 'failed',
      exit_code: 3,
      stdout: 'out\n',
      stderr: 'err\n',
      stdout_bytes: 4,
      stderr_bytes: 4,
      truncated: false,
    });
    expect(r.task_id).toMatch(/^h1:[0-9a-f]{12}:\d+$/);
    expect(gate.hosts.calls).toMatchObject([
      { alias: 'h1', host: '192.0.2.1', user: 'deploy', command: 'systemctl is-active nginx', graceMs: 300 },
    ]);
  });

  it('sends the command with no stdin, no terminal and no prelude when the call gives none', async () => {
    await gate.ok('ssh_run', { alias: 'h1', command: 'uptime' });
    const [call] = gate.hosts.calls;
    expect(call?.command).toBe('uptime');
    expect(call).not.toHaveProperty('stdin');
    expect(call).not.toHaveProperty('tty');
  });

  it('denies what the policy denies with policy_denied and a hint, and nothing reaches the host', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'uptime; reboot' });
    expect(e.code).toBe('policy_denied');
    expect(e.message).toMatch(/^host "h1": .*no reboots/);
    expect(e.hint).toContain('ssh_plan');
    expect(gate.hosts.calls).toEqual([]);
  });

  it.each([
    ['an alias not in the inventory', { alias: 'h9', command: 'uptime' }, 'unknown_host'],
    ['an empty command', { alias: 'h1', command: '' }, 'invalid_input'],
    ['a control character', { alias: 'h1', command: 'uptime\u001b[2J' }, 'invalid_input'],
    ['a backslash-newline', { alias: 'h1', command: 'upti\\\nme' }, 'invalid_input'],
    ['a non-ASCII character glued to a backquote', { alias: 'h1', command: 'echo é`uptime`' }, 'invalid_input'],
    ['a negative wait', { alias: 'h1', command: 'uptime', wait_seconds: -1 }, 'invalid_input'],
    ['an argument the tool does not take', { alias: 'h1', command: 'uptime', sudo: true }, 'invalid_input'],
  ])('answers %s with %s, and nothing reaches the host', async (_, args, code) => {
    expect((await gate.fails('ssh_run', args)).code).toBe(code);
    expect(gate.hosts.calls).toEqual([]);
  });

  it('reports a host that refuses the login as the error, with the task id to look it up by', async () => {
    gate.hosts.takeDown('h2');
    const e = await gate.fails('ssh_run', { alias: 'h2', command: 'uptime' });
    expect(e).toMatchObject({ code: 'connect_failed', message: 'connecting to host "h2" failed: connection refused' });
    const id = /\(task (\S+)\)$/.exec(e.hint ?? '')?.[1] as string;
    expect((await gate.ok<S.TaskStatus>('ssh_get_task_status', { task_id: id })).state).toBe('failed');
  });

  it('reports a connection lost under the command as lost: whether it ran is unknown', async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: 'half' }], lost: 'the connection closed before the command ended' }));
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'uptime' });
    expect(e).toMatchObject({ code: 'lost', message: 'the connection closed before the command ended' });
  });

  it('sends progress: the task id first, then the output as it comes, all before the result', async () => {
    gate.hosts.script(() => ({ steps: [{ wait: 50 }, { stdout: 'first\n' }, { wait: 300 }, { stderr: 'second\n' }, { wait: 50 }] }));
    const seen: Progress[] = [];
    const r = (
      await gate.client.callTool(
        { name: 'ssh_run', arguments: { alias: 'h1', command: 'uptime' } },
        {
          onprogress: (p) => void seen.push(p),
        },
      )
    ).structuredContent as S.RunResult;
    expect(r.state).toBe('succeeded');
    expect(seen[0]?.message).toBe(`task_id ${r.task_id}`);
    expect(seen.slice(1).map((p) => p.message)).toEqual(['first\n', '[stderr] second\n']);
    expect(seen.map((p) => p.progress)).toEqual([0, 6, 13]);
  });

  it('returns a command still running after wait_seconds as running, with its task id', async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: 'started\n' }], hang: true }));
    const r = await gate.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'sleep 600', wait_seconds: 0.1 });
    expect(r).toMatchObject({ state: 'running', stdout: 'started\n' });
    expect(r).not.toHaveProperty('exit_code');
    await gate.ok('ssh_cancel', { task_id: r.task_id });
  });

  it('cancels the task when the caller gives up on the call', async () => {
    gate.hosts.script(() => ({ hang: true }));
    const gaveUp = new AbortController();
    const call = gate.client.callTool(
      { name: 'ssh_run', arguments: { alias: 'h1', command: 'sleep 600' } },
      {
        signal: gaveUp.signal,
      },
    );
    while (gate.hosts.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    gaveUp.abort();
    await expect(call).rejects.toThrow();
    const [task] = await gate.ok<S.ListTasksResult>('ssh_list_tasks', { limit: 1 }).then((l) => l.tasks);
    expect((await endedWithin(task?.task_id as string)).state).toBe('cancelled');
    expect(gate.hosts.calls[0]?.aborted).toBe('cancelled');
  });
});

describe('output budgets (max_bytes)', () => {
  const lines = Array.from({ length: 20_000 }, (_, i) => `line ${String(i).padStart(5, '0')}\n`).join('');

  it('shows the head and tail of a large output within max_bytes, and the rest reads by cursor', async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: lines.slice(0, 100_000) }, { stdout: lines.slice(100_000) }] }));
    const r = await gate.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'cat big.log', max_bytes: 1000 });
    expect(r.stdout_bytes).toBe(lines.length);
    expect(r.omitted_bytes.stdout).toBe(lines.length - 1000);
    expect(r.read_cursor.stdout).toBe(500);
    expect(r.stdout.startsWith(lines.slice(0, 500))).toBe(true);
    expect(r.stdout.endsWith(lines.slice(-500))).toBe(true);
    expect(r.stdout).toContain(`[… ${lines.length - 1000} bytes not shown; ssh_get_task_output from read_cursor reads them …]`);
    let cursor = r.read_cursor;
    let rest = '';
    for (let reads = 0; reads < 10; reads++) {
      const o = await gate.ok<S.TaskOutputResult>('ssh_get_task_output', { task_id: r.task_id, cursor, max_bytes: 65_536 });
      expect(Buffer.byteLength(o.stdout)).toBeLessThanOrEqual(65_536);
      rest += o.stdout;
      cursor = o.next_cursor;
      if (o.done) break;
    }
    expect(lines.slice(0, 500) + rest).toBe(lines);
  });

  it('shows at most 16384 bytes per stream by default', async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: lines }, { stderr: lines }] }));
    const r = await gate.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'cat big.log' });
    expect(r.omitted_bytes).toEqual({ stdout: lines.length - 16_384, stderr: lines.length - 16_384 });
    expect(r.read_cursor).toEqual({ stdout: 8192, stderr: 8192 });
    expect(Buffer.byteLength(r.stdout)).toBeLessThan(16_384 + 200);
  });
});

describe('what a call gives beside its command reaches the host only where the policy allows it', () => {
  it('passes stdin to a command an allow rule with stdin: true allows', async () => {
    gate.hosts.script((call) => ({ steps: [{ stdout: call.stdin ?? '' }] }));
    const r = await gate.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'cat', stdin: 'hello\n' });
    expect(r.stdout).toBe('hello\n');
    expect(gate.hosts.calls[0]).toMatchObject({ command: 'cat', stdin: 'hello\n' });
  });

  it('refuses stdin for a command no such rule allows, and sends nothing', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'wc -l', stdin: 'hello\n' });
    expect(e.code).toBe('policy_denied');
    expect(e.message).toContain('with stdin');
    expect(gate.hosts.calls).toEqual([]);
  });

  it('starts the command in a listed workdir, and refuses any other', async () => {
    await gate.ok('ssh_run', { alias: 'h1', command: 'ls', workdir: '/srv/app' });
    expect(gate.hosts.calls[0]?.command).toBe('cd -- /srv/app || exit 1; ls');
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'ls', workdir: '/etc' });
    expect(e).toMatchObject({ code: 'policy_denied', message: 'the policy does not list "/etc" as a workdir' });
    expect(gate.hosts.calls).toHaveLength(1);
  });

  it('exports a listed variable, quoted, and refuses one the policy does not list', async () => {
    await gate.ok('ssh_run', { alias: 'h1', command: 'printenv APP_ENV', env: { APP_ENV: "it's staging" } });
    expect(gate.hosts.calls[0]?.command).toBe(`export APP_ENV='it'\\''s staging'; printenv APP_ENV`);
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'printenv APP_ENV', env: { APP_ENV: 'x', LD_PRELOAD: '/tmp/x.so' } });
    expect(e).toMatchObject({ code: 'policy_denied', message: 'the policy does not let a call set "LD_PRELOAD"' });
    expect(gate.hosts.calls).toHaveLength(1);
  });

  it('asks for a terminal only for a command a rule with tty: true allows', async () => {
    await gate.ok('ssh_run', { alias: 'h1', command: 'top -b -n 1', tty: true });
    expect(gate.hosts.calls[0]?.tty).toBe('strip');
    expect((await gate.fails('ssh_run', { alias: 'h1', command: 'uptime', tty: true })).code).toBe('policy_denied');
    expect((await gate.fails('ssh_run', { alias: 'h1', command: 'cat', tty: true, stdin: 'q' })).code).toBe('invalid_input');
    expect(gate.hosts.calls).toHaveLength(1);
  });
});

describe('ssh_cancel', () => {
  it('ends a running task and answers once it has: cancelled, final, the command stopped by TERM', async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: 'working\n' }], hang: true }));
    const { task_id } = await gate.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h2', command: 'sleep 600' });
    while (gate.hosts.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    const c = await gate.ok<S.CancelResult>('ssh_cancel', { task_id });
    expect(c).toMatchObject({ task_id, result: 'cancelled', state: 'cancelled', final: true });
    expect(c).not.toHaveProperty('note');
    expect(gate.hosts.calls[0]).toMatchObject({ aborted: 'cancelled', outcome: { exitCode: null, signal: 'TERM' } });
    const s = await gate.ok<S.TaskStatus>('ssh_get_task_status', { task_id });
    expect(s).toMatchObject({ state: 'cancelled', signal: 'TERM', stdout_bytes: 8 });
  });

  it('answers already_finished for a task that had ended', async () => {
    const { task_id } = await gate.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'uptime' });
    expect(await gate.ok<S.CancelResult>('ssh_cancel', { task_id })).toMatchObject({
      result: 'already_finished',
      state: 'succeeded',
      final: true,
    });
  });

  it('answers a task id it never gave with not_found, and what is no task id with invalid_input', async () => {
    expect(await gate.fails('ssh_cancel', { task_id: 'h1:0123456789ab:1700000000000000' })).toMatchObject({
      code: 'not_found',
      message: 'no task "h1:0123456789ab:1700000000000000"',
    });
    expect((await gate.fails('ssh_cancel', { task_id: 'last one' })).code).toBe('invalid_input');
  });
});
