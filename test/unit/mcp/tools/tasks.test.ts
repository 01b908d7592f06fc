/**
 * ssh_run_async, ssh_get_task_status, ssh_get_task_output and ssh_list_tasks, in process: long work
 * as tasks over a scripted host, read by cursor.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as S from '../../../../src/gateway/tool-contract.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';
import { ALLOW_ALL_POLICY } from '../../../support/mcp.js';

const POLICY = `${ALLOW_ALL_POLICY}overrides:
  aliases:
    h2: { max_concurrent_per_host: 1 }
`;
const UNKNOWN_ID = 'h1:0123456789ab:1700000000000000';

let gate: InProcessGate;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1), scriptedHost(2)], { policy: POLICY });
});
afterAll(() => gate?.close());
beforeEach(() => gate.hosts.reset());

async function statusWhen(taskId: string, done: (s: S.TaskStatus) => boolean, ms = 2000): Promise<S.TaskStatus> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await gate.ok<S.TaskStatus>('ssh_get_task_status', { task_id: taskId });
    if (done(s) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
}
const ended = (s: S.TaskStatus) => !['queued', 'running'].includes(s.state);

describe('ssh_run_async', () => {
  it('answers with the task id at once, the command still running', async () => {
    gate.hosts.script(() => ({ hang: true }));
    const r = await gate.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h1', command: 'sleep 600' });
    expect(r.state).toBe('running');
    expect(gate.hosts.calls).toMatchObject([{ alias: 'h1', command: 'sleep 600' }]);
    await gate.ok('ssh_cancel', { task_id: r.task_id });
  });

  it('denies what the policy denies, before a task exists', async () => {
    const before = (await gate.ok<S.ListTasksResult>('ssh_list_tasks', { limit: 1000 })).tasks.length;
    expect((await gate.fails('ssh_run_async', { alias: 'h1', command: 'reboot' })).code).toBe('policy_denied');
    expect((await gate.ok<S.ListTasksResult>('ssh_list_tasks', { limit: 1000 })).tasks).toHaveLength(before);
    expect(gate.hosts.calls).toEqual([]);
  });

  it("queues a task beyond the host's concurrency limit and runs it when the first ends", async () => {
    gate.hosts.script(() => ({ hang: true }));
    const first = await gate.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h2', command: 'sleep 600' });
    const second = await gate.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h2', command: 'sleep 601' });
    expect(second.state).toBe('queued');
    expect(gate.hosts.calls.map((c) => c.command)).toEqual(['sleep 600']);
    await gate.ok('ssh_cancel', { task_id: first.task_id });
    expect((await gate.ok<S.TaskStatus>('ssh_get_task_status', { task_id: second.task_id })).state).toBe('running');
    expect(gate.hosts.calls.map((c) => c.command)).toEqual(['sleep 600', 'sleep 601']);
    await gate.ok('ssh_cancel', { task_id: second.task_id });
  });
});

describe('ssh_get_task_status', () => {
  it('shows the state, exit code, times and byte counts of an ended task', async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: 'abc' }, { stderr: 'de' }], exitCode: 2 }));
    const { task_id } = await gate.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h1', command: 'grep -c x /var/log/syslog' });
    const s = await statusWhen(task_id, ended);
    expect(s).toMatchObject({
      task_id,
      alias: 'h1',
      command: 'grep -c x /var/log/syslog',
      state: 'failed',
      exit_code: 2,
      stdout_bytes: 3,
      stderr_bytes: 2,
    });
    expect(Date.parse(s.ended_at as string)).toBeGreaterThanOrEqual(Date.parse(s.created_at));
  });

  it('leaves out what a running task does not have yet, rather than sending null', async () => {
    gate.hosts.script(() => ({ hang: true }));
    const { task_id } = await gate.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h1', command: 'sleep 600' });
    const s = await gate.ok<Record<string, unknown>>('ssh_get_task_status', { task_id });
    expect(s.state).toBe('running');
    expect(s).not.toHaveProperty('ended_at');
    expect(s).not.toHaveProperty('exit_code');
    await gate.ok('ssh_cancel', { task_id });
  });

  it('answers an id it never gave with not_found, and what is no task id with invalid_input', async () => {
    expect(await gate.fails('ssh_get_task_status', { task_id: UNKNOWN_ID })).toMatchObject({
      code: 'not_found',
      hint: expect.stringContaining('ssh_list_tasks'),
    });
    expect((await gate.fails('ssh_get_task_status', { task_id: 'h1' })).code).toBe('invalid_input');
    expect((await gate.fails('ssh_get_task_status', {})).code).toBe('invalid_input');
  });
});

describe('ssh_get_task_output', () => {
  it('reads the output by cursor, waiting for more: every byte once and in order, then done', async () => {
    const chunks = ['one\n', 'two\n', 'three\n', 'four\n'];
    gate.hosts.script(() => ({ steps: chunks.flatMap((c) => [{ wait: 40 }, { stdout: c }]) }));
    const { task_id } = await gate.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h1', command: 'tail -f app.log' });
    let cursor: S.TaskOutputResult['next_cursor'] | undefined;
    let text = '';
    let reads = 0;
    for (; reads < 20; reads++) {
      const o: S.TaskOutputResult = await gate.ok('ssh_get_task_output', { task_id, wait_seconds: 2, ...(cursor ? { cursor } : {}) });
      text += o.stdout;
      cursor = o.next_cursor;
      if (o.done) break;
    }
    expect(text).toBe(chunks.join(''));
    expect(reads).toBeGreaterThan(1);
    expect(cursor).toEqual({ stdout: text.length, stderr: 0 });
  });

  it('answers at once, empty and not done, when nothing is new and the call does not wait', async () => {
    gate.hosts.script(() => ({ hang: true }));
    const { task_id } = await gate.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h1', command: 'sleep 600' });
    const o = await gate.ok<S.TaskOutputResult>('ssh_get_task_output', { task_id });
    expect(o).toMatchObject({
      stdout: '',
      stderr: '',
      done: false,
      next_cursor: { stdout: 0, stderr: 0 },
      dropped_bytes: { stdout: 0, stderr: 0 },
    });
    await gate.ok('ssh_cancel', { task_id });
  });

  it('answers an id it never gave with not_found, and a max_bytes below 64 with invalid_input', async () => {
    expect((await gate.fails('ssh_get_task_output', { task_id: UNKNOWN_ID })).code).toBe('not_found');
    expect((await gate.fails('ssh_get_task_output', { task_id: UNKNOWN_ID, max_bytes: 1 })).code).toBe('invalid_input');
  });
});

describe('ssh_list_tasks', () => {
  it('lists tasks newest first, optionally in one state', async () => {
    const a = await gate.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'hostname' });
    gate.hosts.script(() => ({ exitCode: 1 }));
    const b = await gate.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'false' });
    const all = await gate.ok<S.ListTasksResult>('ssh_list_tasks');
    expect(all.tasks.slice(0, 2).map((t) => t.task_id)).toEqual([b.task_id, a.task_id]);
    const failed = await gate.ok<S.ListTasksResult>('ssh_list_tasks', { state: 'failed' });
    expect(failed.tasks.map((t) => t.task_id)).toContain(b.task_id);
    expect(failed.tasks.every((t) => t.state === 'failed')).toBe(true);
    expect((await gate.ok<S.ListTasksResult>('ssh_list_tasks', { limit: 1 })).tasks).toHaveLength(1);
  });

  it('refuses a limit below 1 and a state that is none, as invalid_input', async () => {
    expect((await gate.fails('ssh_list_tasks', { limit: 0 })).code).toBe('invalid_input');
    expect((await gate.fails('ssh_list_tasks', { state: 'done' })).code).toBe('invalid_input');
  });
});
