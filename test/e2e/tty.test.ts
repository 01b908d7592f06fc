/**
 * Commands run with a terminal (`tty: true`) on real OpenSSH: only where a policy rule says
 * `tty: true`, with the terminal's output stripped of escape sequences or kept, and a cancel or a
 * timeout still leaving no process on the host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditRecords,
  goneWithin,
  pgrep,
  pkillFleet,
  presentWithin,
  removeConfig,
  startGate,
  writeConfig,
  type Gate,
} from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

interface RunResult {
  task_id: string;
  state: string;
  exit_code?: number;
  stdout: string;
  stderr: string;
  stdout_bytes: number;
  error?: { code: string };
}

const POLICY = `
rules:
  - { name: "no reboots", action: deny, commands: ["reboot*"] }
  - { name: "anything without a terminal", action: allow, commands: ["*", "wait"] }
  - name: "terminal tests"
    action: allow
    tty: true
    commands: ["test -t 1", "echo *", "printf *", "sleep *", "setsid sleep *", "wait"]
`;

let fleet: Fleet;
let gate: Gate;
let dir: string;
beforeAll(async () => {
  // The second host's sshd gives no terminal at all.
  fleet = await startFleet(2, { subnet: 94, sshdConfig: ['Match LocalAddress 127.94.0.21', '  PermitTTY no'] });
  expect(fleet.hosts[1]?.host).toBe('127.94.0.21');
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
  gate = await startGate(dir);
});
afterAll(async () => {
  await gate?.close();
  pkillFleet(fleet.user, 'sleep 39[0-9][0-9]');
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

/** Whether `count` processes of the fleet user match, at some point within `ms`. */
async function allPresentWithin(pattern: string, count: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await presentWithin(fleet.user, pattern, 1000)).split('\n').length >= count) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('a terminal', () => {
  it('is what the command gets with tty: true, and not without', async () => {
    const withTty = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'test -t 1 && echo tty', tty: true });
    expect(withTty).toMatchObject({ state: 'succeeded', exit_code: 0, stdout: 'tty\n' });
    const without = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'test -t 1 && echo tty' });
    expect(without).toMatchObject({ state: 'failed', exit_code: 1, stdout: '' });
  });

  it('carries stderr on stdout, as a terminal does', async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'echo out; echo err >&2', tty: true });
    expect(r).toMatchObject({ state: 'succeeded', stdout: 'out\nerr\n', stderr: '' });
  });

  it('is refused where the rule that allows the command does not say tty: true', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'uname -s', tty: true });
    expect(e.code).toBe('policy_denied');
    expect(e.message).toMatch(
      /with a terminal \(tty: true\): "uname -s" is allowed by rule "anything without a terminal", which does not say tty: true/,
    );
    expect(e.hint).toMatch(/policy rule with tty: true/);
    const async = await gate.fails('ssh_run_async', { alias: 'h1', command: 'test -t 1 && uname -s', tty: true });
    expect(async.code).toBe('policy_denied');
    expect(async.message).toContain('"uname -s"');
    expect((await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'uname -s' })).stdout).toBe('Linux\n');
  });

  it('takes no stdin: on a terminal it would be keys that no rule allows', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'echo x', tty: true, stdin: 'k' });
    expect(e).toMatchObject({ code: 'invalid_input', message: 'stdin cannot be given with tty: true' });
    expect((await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'echo x', tty: true, stdin: '' })).stdout).toBe('x\n');
  });

  it("is named by ssh_describe_host: which of the host's rules give one", async () => {
    const d = await gate.ok<{ rules: { name: string; tty: boolean }[] }>('ssh_describe_host', { alias: 'h1' });
    expect(d.rules.map((r) => [r.name, r.tty])).toEqual([
      ['no reboots', false],
      ['anything without a terminal', false],
      ['terminal tests', true],
    ]);
  });

  it('is shown by ssh_plan: tty_allowed for the command, tty for each part', async () => {
    const yes = await gate.ok<{ allowed: boolean; tty_allowed: boolean; segments: { tty: boolean }[] }>('ssh_plan', {
      alias: 'h1',
      command: 'test -t 1 && echo tty',
    });
    expect(yes).toMatchObject({ allowed: true, tty_allowed: true, segments: [{ tty: true }, { tty: true }] });
    const no = await gate.ok<{ allowed: boolean; tty_allowed: boolean; decisions: { tty_allowed: boolean }[] }>('ssh_plan', {
      tag: 'test',
      command: 'echo a | uname -s',
    });
    expect(no).toMatchObject({ allowed: true, tty_allowed: false, decisions: [{ tty_allowed: false }, { tty_allowed: false }] });
  });

  it('is refused by a host whose sshd gives none, with a hint, and the command runs there without one', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h2', command: 'echo x', tty: true });
    expect(e).toMatchObject({ code: 'connect_failed', message: expect.stringContaining('refused a terminal') });
    expect(e.hint).toMatch(/PermitTTY no.*without tty/);
    expect((await gate.ok<RunResult>('ssh_run', { alias: 'h2', command: 'echo x' })).stdout).toBe('x\n');
  });
});

describe("the terminal's escape sequences", () => {
  const COLOURED = "printf '\\033[31mred\\033[0m\\n'";

  it('are stripped by default, with \\r\\n made \\n', async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: COLOURED, tty: true });
    expect(r).toMatchObject({ state: 'succeeded', stdout: 'red\n', stdout_bytes: 4 });
  });

  it('are kept, with the terminal line end, by ansi: "keep"', async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: COLOURED, tty: true, ansi: 'keep' });
    expect(r.stdout).toBe('\x1b[31mred\x1b[0m\r\n');
  });

  it("are left alone without a terminal, where the output is the command's own bytes", async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: COLOURED, ansi: 'strip' });
    expect(r.stdout).toBe('\x1b[31mred\x1b[0m\n');
  });
});

describe('stopping a command that has a terminal', () => {
  it('ssh_cancel leaves no process of it, a child in a session of its own included', async () => {
    const { task_id } = await gate.ok<{ task_id: string }>('ssh_run_async', {
      alias: 'h1',
      command: 'sleep 3901 & setsid sleep 3902 & sleep 3903; wait',
      tty: true,
    });
    expect(await allPresentWithin('sleep 390[123]', 3, 10_000)).toBe(true);
    const c = await gate.ok<{ state: string; final: boolean }>('ssh_cancel', { task_id });
    expect(c).toMatchObject({ state: 'cancelled', final: true });
    expect(await goneWithin(fleet.user, 'sleep 390[123]', 10_000), pgrep(fleet.user, 'sleep 390')).toBe(true);
    const status = await gate.ok<{ state: string }>('ssh_get_task_status', { task_id });
    expect(status.state).toBe('cancelled');
  });

  it('a timeout leaves no process of it either', async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'sleep 3911 & sleep 3912; wait', tty: true, timeout_seconds: 2 });
    expect(r).toMatchObject({ state: 'timed_out', error: { code: 'timeout' } });
    expect(await goneWithin(fleet.user, 'sleep 391[12]', 10_000), pgrep(fleet.user, 'sleep 391')).toBe(true);
  });
});

describe('the record of a command with a terminal', () => {
  it('the audit log says a terminal was asked for, allowed or refused, and records the task end', async () => {
    await gate.ok('ssh_run', { alias: 'h1', command: 'echo audited tty', tty: true });
    await gate.fails('ssh_run', { alias: 'h1', command: 'uname -n', tty: true });
    const records = await auditRecords(gate, (r) => r.command === 'echo audited tty' || r.command === 'uname -n', 3);
    expect(records.map((r) => [r.event, r.command])).toEqual([
      ['decision', 'echo audited tty'],
      ['task_end', 'echo audited tty'],
      ['decision', 'uname -n'],
    ]);
    expect(records[0]).toMatchObject({ tty: true, allowed: true });
    expect(records[1]).toMatchObject({ state: 'succeeded', exit_code: 0, stdout_bytes: 12 });
    expect(records[2]).toMatchObject({ tty: true, allowed: false, reason: expect.stringContaining('with a terminal') });
  });

  it('ssh_get_task_status and ssh_get_task_output read an async task with a terminal', async () => {
    const { task_id } = await gate.ok<{ task_id: string }>('ssh_run_async', {
      alias: 'h1',
      command: "printf '\\033[1mbold\\033[0m\\n'",
      tty: true,
    });
    let out = '';
    let cursor: object | undefined;
    for (;;) {
      const o = await gate.ok<{ stdout: string; done: boolean; next_cursor: object }>('ssh_get_task_output', {
        task_id,
        wait_seconds: 5,
        ...(cursor ? { cursor } : {}),
      });
      out += o.stdout;
      cursor = o.next_cursor;
      if (o.done) break;
    }
    expect(out).toBe('bold\n');
    expect(await gate.ok('ssh_get_task_status', { task_id })).toMatchObject({
      state: 'succeeded',
      exit_code: 0,
      stdout_bytes: 5,
      stderr_bytes: 0,
    });
  });
});
