/**
 * become through the tools in one process: the real policy, Gateway, TaskManager, approvals and MCP
 * server over scripted hosts, which record the elevation each command was sent with.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../../src/approvals/broker.js';
import type { ApprovalView, PlanResult, RunResult, TaskStatus } from '../../../../src/gateway/tool-contract.js';
import type { Principal } from '../../../../src/principal.js';
import { taskReaches } from '../../../support/mcp.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';

const POLICY = `
rules:
  - { name: reads, action: allow, commands: ["uptime", "id -u"] }
  - { name: as root, action: allow, become: root, commands: ["id -u", "systemctl restart *"] }
  - name: reloads as root or postgres need a person
    action: ask
    become: [root, postgres]
    commands: ["systemctl reload *"]
    grant_minutes: 5
`;

const ALICE: Principal = { name: 'alice', roles: [], via: 'command-line' };
const OPERATOR: Answerer = { name: 'root', via: 'os-user', channel: 'control-socket' };

let gate: InProcessGate;
let alice: Awaited<ReturnType<InProcessGate['as']>>;

beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web']), scriptedHost(2, ['web'])], { policy: POLICY });
  gate.hosts.script((c) => ({ steps: [{ stdout: `ran ${c.command}\n` }] }));
  alice = await gate.as(ALICE);
});
afterAll(async () => {
  await alice.close();
  await gate.close();
});

function waitState(taskId: string, state: string): Promise<TaskStatus> {
  return taskReaches(alice, taskId, state);
}

describe('become through the tools', () => {
  it('sends the command with the user and the credential method, and names the user in the result and status', async () => {
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'id -u', become: 'root' });
    expect(r).toMatchObject({ state: 'succeeded', become: 'root' });
    expect(gate.hosts.callsTo('h1').at(-1)).toMatchObject({ command: 'id -u', become: { user: 'root', method: 'sudo' } });
    expect((await alice.ok<TaskStatus>('ssh_get_task_status', { task_id: r.task_id })).become).toBe('root');
    const plain = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'id -u' });
    expect(plain.become).toBeUndefined();
    expect(gate.hosts.callsTo('h1').at(-1)?.become).toBeUndefined();
  });

  it('refuses an elevation no rule with become: names, without sending anything', async () => {
    const before = gate.hosts.calls.length;
    const e = await alice.fails('ssh_run', { alias: 'h1', command: 'uptime', become: 'root' });
    expect(e.code).toBe('policy_denied');
    expect((await alice.fails('ssh_run', { alias: 'h1', command: 'id -u', become: 'postgres' })).code).toBe('policy_denied');
    expect(gate.hosts.calls.length).toBe(before);
  });

  it('ssh_plan decides for the elevation and names it', async () => {
    const p = await alice.ok<PlanResult>('ssh_plan', { tag: 'web', command: 'systemctl restart nginx', become: 'root' });
    expect(p).toMatchObject({ allowed: true, become: 'root' });
    expect((await alice.ok<PlanResult>('ssh_plan', { alias: 'h1', command: 'systemctl restart nginx' })).allowed).toBe(false);
  });

  it.each(['root;id', '-u', '../x', '#0', '%wheel', 'ro*t'])('refuses become %j at the edge', async (user) => {
    const before = gate.hosts.calls.length;
    for (const tool of ['ssh_run', 'ssh_run_async', 'ssh_plan']) {
      const e = await alice.fails(tool, { alias: 'h1', command: 'id -u', become: user });
      expect(e.code).toBe('invalid_input');
    }
    expect((await alice.fails('ssh_run_on_tag', { tag: 'web', command: 'id -u', become: user })).code).toBe('invalid_input');
    expect(gate.hosts.calls.length).toBe(before);
  });

  it('refuses become with tty', async () => {
    const e = await alice.fails('ssh_run', { alias: 'h1', command: 'id -u', become: 'root', tty: true });
    expect(e).toMatchObject({ code: 'invalid_input', message: 'become cannot be given with tty: true' });
  });
});

describe('become and approvals', () => {
  it('an approval binds the become target, and its grant covers that target only', async () => {
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h2', command: 'systemctl reload nginx', become: 'root', wait_seconds: 0 });
    expect(r.state).toBe('awaiting_approval');
    const req = gate.gateway.listApprovals().find((a) => a.approval_id === r.approval?.approval_id) as ApprovalView;
    expect(req.become).toBe('root');
    gate.gateway.answerApproval(req.approval_id, OPERATOR, true);
    await waitState(r.task_id, 'succeeded');
    expect(gate.hosts.callsTo('h2').at(-1)).toMatchObject({ command: 'systemctl reload nginx', become: { user: 'root' } });

    // The grant covers the same command as root again, not as postgres.
    const again = await alice.ok<RunResult>('ssh_run', { alias: 'h2', command: 'systemctl reload nginx', become: 'root' });
    expect(again.state).toBe('succeeded');
    const other = await alice.ok<RunResult>('ssh_run', {
      alias: 'h2',
      command: 'systemctl reload nginx',
      become: 'postgres',
      wait_seconds: 0,
    });
    expect(other.state).toBe('awaiting_approval');
    await alice.ok('ssh_cancel', { task_id: other.task_id });
  });

  it('an approval runs only what the policy in force allows for that elevation: a reload may deny it as root', async () => {
    const file = join(gate.dir, 'policies', 'test.yml');
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl reload exim', become: 'root', wait_seconds: 0 });
    expect(r.state).toBe('awaiting_approval');
    // A deny rule for root only: the command is still allowed to a call that does not elevate.
    writeFileSync(
      file,
      `${POLICY}  - { name: no exim as root, action: deny, become: root, commands: ["systemctl reload exim"] }\n` +
        `  - { name: exim reload as the login user, action: allow, commands: ["systemctl reload exim"] }\n`,
    );
    try {
      await gate.ok('ssh_reload_config');
      const before = gate.hosts.calls.length;
      gate.gateway.answerApproval(r.approval?.approval_id as string, OPERATOR, true);
      const s = await waitState(r.task_id, 'denied');
      expect(s.error?.code).toBe('policy_denied');
      expect(gate.hosts.calls.length).toBe(before);
    } finally {
      writeFileSync(file, POLICY);
      await gate.ok('ssh_reload_config');
    }
  });
});
