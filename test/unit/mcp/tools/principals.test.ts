/**
 * Callers with names and rights, in process: two principals with different roles get different
 * decisions for the same command, neither sees or cancels the other's tasks, an admin sees both,
 * and the audit names who decided what.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as S from '../../../../src/gateway/tool-contract.js';
import type { Principal } from '../../../../src/principal.js';
import { logRecords, scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';
import type { ToolCalls } from '../../../support/mcp.js';

const POLICY = `
rules:
  - { name: "anyone reads", action: allow, commands: ["uptime", "sleep *"] }
  - { name: "ops restart", action: allow, commands: ["systemctl restart *"], callers: [role:ops] }
  - { name: "no interns on db", action: deny, commands: ["sleep 9*"], callers: [role:intern] }
`;

const alice: Principal = { name: 'alice', roles: ['ops'], via: 'token', credentialId: 'tok-alice' };
const bob: Principal = { name: 'bob', roles: ['intern'], via: 'oauth', credentialId: 'jti-bob' };
const root: Principal = { name: 'carol', roles: ['admin'], via: 'command-line' };

let gate: InProcessGate;
let asAlice: ToolCalls;
let asBob: ToolCalls;
let asAdmin: ToolCalls;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1)], { policy: POLICY });
  asAlice = await gate.as(alice);
  asBob = await gate.as(bob);
  asAdmin = await gate.as(root);
});
afterAll(() => gate?.close());
beforeEach(() => gate.hosts.reset());

describe('principals', () => {
  it('decide the same command differently by role: ssh_plan and ssh_run', async () => {
    const cmd = { alias: 'h1', command: 'systemctl restart nginx' };
    const forAlice = await asAlice.ok<S.PlanResult>('ssh_plan', cmd);
    expect(forAlice).toMatchObject({ allowed: true, caller: { name: 'alice', roles: ['ops'] } });
    const forBob = await asBob.ok<S.PlanResult>('ssh_plan', cmd);
    expect(forBob).toMatchObject({ allowed: false, caller: { name: 'bob', roles: ['intern'] } });
    expect((await asBob.fails('ssh_run', cmd)).code).toBe('policy_denied');
    gate.hosts.script(() => ({ steps: [{ stdout: 'restarted\n' }] }));
    expect(await asAlice.ok<S.RunResult>('ssh_run', cmd)).toMatchObject({ state: 'succeeded', stdout: 'restarted\n' });
    expect(gate.hosts.calls.map((c) => c.command)).toEqual(['systemctl restart nginx']);
  });

  it('apply a deny rule only to the callers it names', async () => {
    gate.hosts.script(() => ({}));
    expect((await asBob.fails('ssh_run', { alias: 'h1', command: 'sleep 91' })).code).toBe('policy_denied');
    expect(await asAlice.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'sleep 91' })).toMatchObject({ state: 'succeeded' });
  });

  it("see and cancel only their own tasks; an admin sees and cancels anyone's", async () => {
    gate.hosts.script(() => ({ hang: true }));
    const a = await asAlice.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h1', command: 'sleep 600' });
    const b = await asBob.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h1', command: 'sleep 601' });
    const ids = async (calls: ToolCalls) =>
      (await calls.ok<S.ListTasksResult>('ssh_list_tasks', { state: 'running' })).tasks.map((t) => t.task_id);
    expect(await ids(asAlice)).toEqual([a.task_id]);
    expect(await ids(asBob)).toEqual([b.task_id]);
    expect((await ids(asAdmin)).sort()).toEqual([a.task_id, b.task_id].sort());
    // Another caller's task is as unknown as one that never was.
    expect((await asBob.fails('ssh_get_task_status', { task_id: a.task_id })).code).toBe('not_found');
    expect((await asBob.fails('ssh_cancel', { task_id: a.task_id })).code).toBe('not_found');
    expect((await asBob.fails('ssh_get_task_output', { task_id: a.task_id })).code).toBe('not_found');
    expect(await asAlice.ok<S.TaskStatus>('ssh_get_task_status', { task_id: a.task_id })).toMatchObject({ state: 'running' });
    expect(await asAdmin.ok<S.CancelResult>('ssh_cancel', { task_id: a.task_id })).toMatchObject({ result: 'cancelled' });
    expect(await asBob.ok<S.CancelResult>('ssh_cancel', { task_id: b.task_id })).toMatchObject({ result: 'cancelled' });
  });

  it("never make an admin of an OAuth token's role claim", async () => {
    const claimed = await gate.as({ name: 'mallory', roles: ['admin'], via: 'oauth', credentialId: 'jti-m' });
    gate.hosts.script(() => ({ hang: true }));
    const a = await asAlice.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h1', command: 'sleep 602' });
    expect((await claimed.fails('ssh_get_task_status', { task_id: a.task_id })).code).toBe('not_found');
    expect((await claimed.fails('ssh_cancel', { task_id: a.task_id })).code).toBe('not_found');
    await asAlice.ok('ssh_cancel', { task_id: a.task_id });
  });

  it("own the tasks of an earlier run as the journal recorded them; a task with no owner is an admin's to see", async () => {
    const earlier = {
      alias: 'h1',
      command: 'uptime',
      limits: { max_seconds: 60, max_output_bytes: 1024, max_concurrent_per_host: 4, task_result_ttl: 600 },
    };
    const ended = { state: 'succeeded' as const, createdAt: Date.now() - 1000, endedAt: Date.now(), exitCode: 0, signal: null };
    gate.tasks.restore([
      { id: 'h1:0123456789ab:1700000000000001', ...earlier, ...ended, owner: 'alice' },
      { id: 'h1:0123456789ab:1700000000000002', ...earlier, ...ended },
    ]);
    expect(await asAlice.ok<S.TaskStatus>('ssh_get_task_status', { task_id: 'h1:0123456789ab:1700000000000001' })).toMatchObject({
      state: 'succeeded',
    });
    expect((await asBob.fails('ssh_get_task_status', { task_id: 'h1:0123456789ab:1700000000000001' })).code).toBe('not_found');
    expect((await asAlice.fails('ssh_get_task_status', { task_id: 'h1:0123456789ab:1700000000000002' })).code).toBe('not_found');
    expect(await asAdmin.ok<S.TaskStatus>('ssh_get_task_status', { task_id: 'h1:0123456789ab:1700000000000002' })).toMatchObject({
      state: 'succeeded',
    });
  });

  it('are named in every audit record, with how they authenticated and their credential id', async () => {
    await asBob.ok<S.PlanResult>('ssh_plan', { alias: 'h1', command: 'uptime' });
    const decision = logRecords(gate)
      .filter((r) => r.event === 'decision' && r.tool === 'ssh_plan')
      .pop();
    expect(decision).toMatchObject({ principal: 'bob', auth: 'oauth', credential_id: 'jti-bob' });
    const ended = logRecords(gate).filter((r) => r.event === 'task_end');
    expect(ended.map((r) => r.principal)).toEqual(expect.arrayContaining(['alice', 'bob']));
  });
});
