/**
 * Approval requests end to end in one process: the real policy, Gateway, TaskManager and MCP
 * server over scripted hosts; the operator's answers go in as the control socket gives them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../src/approvals/broker.js';
import type { ApprovalView, RunResult, TaskStatus } from '../../../src/gateway/tool-contract.js';
import type { Principal } from '../../../src/principal.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../support/in-process.js';
import { taskReaches } from '../../support/mcp.js';

const POLICY = `
rules:
  - { name: reads, action: allow, commands: ["uptime", "cat *", "systemctl status *"] }
  - { name: restarts, action: ask, commands: ["systemctl restart *"] }
  - name: grants
    action: ask
    commands: ["systemctl reload *"]
    grant_minutes: 5
  - name: four eyes
    action: ask
    commands: ["truncate -s 0 /srv/cache/*"]
    four_eyes: true
    approve_by: either
  - name: quick
    action: ask
    commands: ["touch /tmp/flag"]
    approval_timeout_seconds: 5
  - { name: never, action: deny, commands: ["systemctl restart sshd"] }
`;

const ALICE: Principal = { name: 'alice', roles: [], via: 'command-line' };
const OPERATOR: Answerer = { name: 'root', via: 'os-user', channel: 'control-socket' };

let gate: InProcessGate;
let alice: Awaited<ReturnType<InProcessGate['as']>>;

beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web']), scriptedHost(2, ['web'])], { policy: POLICY });
  gate.hosts.script((c) => ({ steps: [{ stdout: `ran ${c.command}\n` }] }));
  alice = await alice_();
});
afterAll(async () => {
  await alice.close();
  await gate.close();
});

async function alice_() {
  return gate.as(ALICE);
}

function pendingFor(command: string): ApprovalView {
  const found = gate.gateway.listApprovals().find((a) => a.command === command);
  if (!found) throw new Error(`no pending approval for ${command}`);
  return found;
}

function waitState(taskId: string, state: string): Promise<TaskStatus> {
  return taskReaches(alice, taskId, state);
}

describe('ask rules wait for a person', () => {
  it('a command an ask rule matches waits in awaiting_approval, and runs once an operator approves it', async () => {
    const before = gate.hosts.calls.length;
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl restart nginx', wait_seconds: 0 });
    expect(r.state).toBe('awaiting_approval');
    expect(r.approval?.approval_id).toMatch(/^apr-[0-9a-f]{16}$/);
    expect(r.approval?.note).toMatch(/approve/);
    expect(gate.hosts.calls.length).toBe(before);

    const req = pendingFor('systemctl restart nginx');
    expect(req).toMatchObject({
      approval_id: r.approval?.approval_id,
      principal: 'alice',
      hosts: ['h1'],
      task_ids: [r.task_id],
      approve_by: 'operator',
      four_eyes: false,
      grant_minutes: null,
      rules: [{ name: 'restarts', source: expect.stringMatching(/test.yml:4:5$/) as unknown }],
    });
    gate.gateway.answerApproval(req.approval_id, OPERATOR, true);
    await waitState(r.task_id, 'succeeded');
    expect(gate.hosts.calls.length).toBe(before + 1);
    expect(gate.hosts.calls.at(-1)?.command).toContain('systemctl restart nginx');

    // Used once: the same call asks again.
    const again = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl restart nginx', wait_seconds: 0 });
    expect(again.state).toBe('awaiting_approval');
    expect(again.approval?.approval_id).not.toBe(r.approval?.approval_id);
    await alice.ok('ssh_cancel', { task_id: again.task_id });
  });

  it('an answered request takes no second answer', async () => {
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl restart redis', wait_seconds: 0 });
    const id = r.approval?.approval_id as string;
    gate.gateway.answerApproval(id, OPERATOR, false, 'not during business hours');
    expect(() => gate.gateway.answerApproval(id, OPERATOR, true)).toThrow(/already denied/);
    const s = await waitState(r.task_id, 'denied');
    expect(s.error).toMatchObject({
      code: 'approval_denied',
      message: expect.stringMatching(/by root: not during business hours/) as unknown,
    });
  });

  it('ssh_run waits through the approval within wait_seconds and returns the result', async () => {
    const pending = alice.ok<RunResult>('ssh_run', { alias: 'h2', command: 'systemctl restart php-fpm', wait_seconds: 20 });
    let req: ApprovalView | undefined;
    for (let i = 0; i < 200 && !req; i++) {
      req = gate.gateway.listApprovals().find((a) => a.command === 'systemctl restart php-fpm');
      await new Promise((r) => setTimeout(r, 10));
    }
    gate.gateway.answerApproval((req as ApprovalView).approval_id, OPERATOR, true);
    const r = await pending;
    expect(r.state).toBe('succeeded');
    expect(r.stdout).toContain('systemctl restart php-fpm');
    expect(r.approval?.approval_id).toBe(req?.approval_id);
  });

  it('a waiting ssh_run says in its first progress message which approval it awaits', async () => {
    const bob = await gate.as({ name: 'bob', roles: [], via: 'command-line' });
    const seen: string[] = [];
    const calls = gate.hosts.calls.length;
    const pending = bob.client.callTool(
      { name: 'ssh_run', arguments: { alias: 'h1', command: 'systemctl restart named', wait_seconds: 10 } },
      { onprogress: (p) => void seen.push(p.message ?? ''), timeout: 30_000 },
    );
    for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const req = pendingFor('systemctl restart named');
    expect(seen[0]).toMatch(
      new RegExp(`^task_id h1:[0-9a-f]{12}:\\d+; awaiting approval ${req.approval_id} until \\S+Z: it runs once a person approves it$`),
    );
    gate.gateway.answerApproval(req.approval_id, OPERATOR, true);
    expect(((await pending).structuredContent as RunResult).state).toBe('succeeded');
    expect(gate.hosts.calls.length).toBe(calls + 1);
    await bob.close();
  });

  it('the caller cancels its own request: the task ends cancelled and the request is withdrawn', async () => {
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl restart cron', wait_seconds: 0 });
    const id = r.approval?.approval_id as string;
    const c = await alice.ok<{ state: string }>('ssh_cancel', { task_id: r.task_id });
    expect(c.state).toBe('cancelled');
    await new Promise((res) => setTimeout(res, 20));
    expect(gate.gateway.listApprovals(true).find((a) => a.approval_id === id)?.state).toBe('withdrawn');
    expect(() => gate.gateway.answerApproval(id, OPERATOR, true)).toThrow(/already withdrawn/);
    expect(gate.log()).toMatch(/"event":"approval_withdrawn"/);
  });

  it('four eyes: the caller cannot approve its own request; another person can', async () => {
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'truncate -s 0 /srv/cache/x', wait_seconds: 0 });
    const id = r.approval?.approval_id as string;
    const self: Answerer = { name: 'alice', via: 'os-user', channel: 'control-socket' };
    expect(() => gate.gateway.answerApproval(id, self, true)).toThrow(/cannot approve it: the ask rule says four_eyes: true/);
    // Refusing one's own request is fine.
    expect(gate.gateway.listApprovals().some((a) => a.approval_id === id)).toBe(true);
    gate.gateway.answerApproval(id, { ...self, name: 'bob' }, true);
    await waitState(r.task_id, 'succeeded');
    const log = gate.log();
    expect(log).toMatch(new RegExp(`"event":"approval_approved","approval_id":"${id}".*"answered_by":"bob"`));
  });

  it('a grant covers the same command on the same host for its minutes, and nothing wider', async () => {
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl reload nginx', wait_seconds: 0 });
    gate.gateway.answerApproval(r.approval?.approval_id as string, OPERATOR, true);
    await waitState(r.task_id, 'succeeded');
    const same = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl reload nginx' });
    expect(same.state).toBe('succeeded');
    expect(same.approval).toBeUndefined();
    expect(gate.log()).toMatch(/"event":"approval_grant_used"/);
    // Another host, another command, another principal: each asks.
    const otherHost = await alice.ok<RunResult>('ssh_run', { alias: 'h2', command: 'systemctl reload nginx', wait_seconds: 0 });
    expect(otherHost.state).toBe('awaiting_approval');
    const otherCommand = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl reload  nginx', wait_seconds: 0 });
    expect(otherCommand.state).toBe('awaiting_approval');
    const bob = await gate.as({ name: 'bob', roles: [], via: 'command-line' });
    const otherCaller = await bob.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl reload nginx', wait_seconds: 0 });
    expect(otherCaller.state).toBe('awaiting_approval');
    await bob.ok('ssh_cancel', { task_id: otherCaller.task_id });
    await bob.close();
    for (const t of [otherHost, otherCommand]) await alice.ok('ssh_cancel', { task_id: t.task_id });
  });

  it('a fan-out asks once for all its hosts', async () => {
    const r = await alice.ok<{ results: { alias: string; status: string; task_id: string }[] }>('ssh_run_on_tag', {
      tag: 'web',
      command: 'systemctl restart haproxy',
      wait_seconds: 0,
    });
    expect(r.results.map((h) => h.status)).toEqual(['awaiting_approval', 'awaiting_approval']);
    const req = pendingFor('systemctl restart haproxy');
    expect(req.hosts).toEqual(['h1', 'h2']);
    gate.gateway.answerApproval(req.approval_id, OPERATOR, true);
    for (const h of r.results) await waitState(h.task_id, 'succeeded');
  });

  it('deny still wins, and a command needing approval runs with neither a terminal nor stdin', async () => {
    const denied = await alice.fails('ssh_run', { alias: 'h1', command: 'systemctl restart sshd' });
    expect(denied.code).toBe('policy_denied');
    const tty = await alice.fails('ssh_run', { alias: 'h1', command: 'systemctl restart nginx', tty: true });
    expect(tty.message).toMatch(/needs approval.*never runs with a terminal/);
    expect(gate.gateway.listApprovals().some((a) => a.command === 'systemctl restart nginx')).toBe(false);
  });

  it('unanswered by its deadline, the request expires and the task ends denied with approval_timeout', async () => {
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h2', command: 'touch /tmp/flag', wait_seconds: 0 });
    const id = r.approval?.approval_id as string;
    expect(Date.parse(r.approval?.deadline as string) - Date.now()).toBeLessThanOrEqual(5000);
    const s = await alice.ok<RunResult>('ssh_run', { alias: 'h2', command: 'uptime' });
    expect(s.state).toBe('succeeded');
    for (let i = 0; i < 100 && gate.gateway.listApprovals().some((a) => a.approval_id === id); i++)
      await new Promise((res) => setTimeout(res, 100));
    const st = await waitState(r.task_id, 'denied');
    expect(st.error).toMatchObject({ code: 'approval_timeout', message: expect.stringMatching(/within 5 s/) as unknown });
    expect(() => gate.gateway.answerApproval(id, OPERATOR, true)).toThrow(/already expired/);
    expect(gate.log()).toMatch(new RegExp(`"event":"approval_expired","approval_id":"${id}"`));
  }, 15_000);

  it('sshgate own view (sshgate run) cannot ask: it refuses', async () => {
    const e = await gate.fails('ssh_run', { alias: 'h1', command: 'systemctl restart nginx' });
    expect(e).toMatchObject({ code: 'policy_denied', message: expect.stringMatching(/cannot ask a person/) as unknown });
  });

  it('a reload that denies the command while it waits: the approval runs nothing', async () => {
    const file = join(gate.dir, 'policies', 'test.yml');
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl restart exim', wait_seconds: 0 });
    writeFileSync(file, `${POLICY}  - { name: no exim, action: deny, commands: ["systemctl restart exim"] }\n`);
    try {
      await gate.ok('ssh_reload_config');
      const before = gate.hosts.calls.length;
      gate.gateway.answerApproval(r.approval?.approval_id as string, OPERATOR, true);
      const s = await waitState(r.task_id, 'denied');
      expect(s.error).toMatchObject({ code: 'policy_denied', message: expect.stringMatching(/policy in force now refuses/) as unknown });
      expect(gate.hosts.calls.length).toBe(before);
    } finally {
      writeFileSync(file, POLICY);
      await gate.ok('ssh_reload_config');
    }
  });
});
