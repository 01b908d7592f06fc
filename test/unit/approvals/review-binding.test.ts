/**
 * Review of issue 16 (adversarial): what an approval and a grant bind. A call's workdir and env
 * change what a command does as much as its text, yet the grant key, the approval view and the
 * recheck at approval ignore them; a reload that makes the terms stricter is not applied to a
 * pending request. Each failed on the code under review; each passes since its fix.
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
workdirs: ["/srv/*"]
env: [APP_ENV]
rules:
  - { name: reads, action: allow, commands: ["uptime"] }
  - name: deploys
    action: ask
    commands: ["./deploy.sh"]
    grant_minutes: 5
  - name: restarts
    action: ask
    commands: ["systemctl restart *"]
`;

const ALICE: Principal = { name: 'alice', roles: [], via: 'command-line' };
const OPERATOR: Answerer = { name: 'root', via: 'os-user', channel: 'control-socket' };

let gate: InProcessGate;
let alice: Awaited<ReturnType<InProcessGate['as']>>;
let policyFile: string;

beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web'])], { policy: POLICY });
  gate.hosts.script((c) => ({ steps: [{ stdout: `ran ${c.command}\n` }] }));
  alice = await gate.as(ALICE);
  policyFile = join(gate.dir, 'policies', 'test.yml');
});
afterAll(async () => {
  await alice.close();
  await gate.close();
});

function waitState(taskId: string, state: string): Promise<TaskStatus> {
  return taskReaches(alice, taskId, state);
}

function view(id: string): ApprovalView {
  const v = gate.gateway.listApprovals(true).find((a) => a.approval_id === id);
  if (!v) throw new Error(`no approval ${id}`);
  return v;
}

describe('review 16: what an approval and a grant bind', () => {
  it('a grant approved for one workdir and env does not cover the same command in another workdir with another env', async () => {
    const first = await alice.ok<RunResult>('ssh_run', {
      alias: 'h1',
      command: './deploy.sh',
      workdir: '/srv/staging',
      env: { APP_ENV: 'staging' },
      wait_seconds: 0,
    });
    expect(first.state).toBe('awaiting_approval');
    gate.gateway.answerApproval(first.approval?.approval_id as string, OPERATOR, true);
    await waitState(first.task_id, 'succeeded');

    const before = gate.hosts.calls.length;
    const second = await alice.ok<RunResult>('ssh_run', {
      alias: 'h1',
      command: './deploy.sh',
      workdir: '/srv/prod',
      env: { APP_ENV: 'production' },
      wait_seconds: 0,
    });
    // What happens today: the grant covers it, and ./deploy.sh runs in /srv/prod with
    // APP_ENV=production without anyone having seen that.
    const ranUnasked = gate.hosts.calls.slice(before).some((c) => c.command.includes('/srv/prod'));
    expect({ state: second.state, ranUnasked }).toEqual({ state: 'awaiting_approval', ranUnasked: false });
    if (second.state === 'awaiting_approval') await alice.ok('ssh_cancel', { task_id: second.task_id });
  });

  it('the approval request an operator sees names the workdir and the env the command will run with', async () => {
    const r = await alice.ok<RunResult>('ssh_run', {
      alias: 'h1',
      command: 'systemctl restart app',
      workdir: '/srv/evil',
      env: { APP_ENV: 'production' },
      wait_seconds: 0,
    });
    const shown = JSON.stringify(view(r.approval?.approval_id as string));
    try {
      // Today the view (and so sshgate approvals list, GET /approvals and the elicitation form)
      // shows only the command: the operator approves "systemctl restart app", not what runs.
      expect(shown).toContain('/srv/evil');
      expect(shown).toContain('APP_ENV');
    } finally {
      await alice.ok('ssh_cancel', { task_id: r.task_id });
    }
  });

  it("a reload that removes the call's workdir from workdirs: while the request waits: the approval runs nothing", async () => {
    const r = await alice.ok<RunResult>('ssh_run', {
      alias: 'h1',
      command: 'systemctl restart worker',
      workdir: '/srv/old',
      wait_seconds: 0,
    });
    writeFileSync(policyFile, POLICY.replace('workdirs: ["/srv/*"]', 'workdirs: ["/opt/*"]'));
    try {
      await gate.ok('ssh_reload_config');
      // A new call with that workdir is refused now...
      const fresh = await alice.fails('ssh_run', { alias: 'h1', command: 'systemctl restart worker', workdir: '/srv/old' });
      expect(fresh.code).toBe('policy_denied');
      const before = gate.hosts.calls.length;
      gate.gateway.answerApproval(r.approval?.approval_id as string, OPERATOR, true);
      await new Promise((res) => setTimeout(res, 100));
      // ...but the held one runs with it: the recheck at approval judges the command, not the call.
      expect(gate.hosts.calls.slice(before).map((c) => c.command)).toEqual([]);
    } finally {
      writeFileSync(policyFile, POLICY);
      await gate.ok('ssh_reload_config');
    }
  });

  it('a reload that makes the rule four_eyes while the request waits: the asker can no longer approve it', async () => {
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl restart db', wait_seconds: 0 });
    writeFileSync(
      policyFile,
      POLICY.replace('commands: ["systemctl restart *"]', 'commands: ["systemctl restart *"]\n    four_eyes: true'),
    );
    try {
      await gate.ok('ssh_reload_config');
      const self: Answerer = { name: 'alice', via: 'os-user', channel: 'control-socket' };
      let refused = false;
      try {
        gate.gateway.answerApproval(r.approval?.approval_id as string, self, true);
      } catch {
        refused = true;
      }
      // Today: approved by the asker, and it runs.
      expect(refused).toBe(true);
    } finally {
      writeFileSync(policyFile, POLICY);
      await gate.ok('ssh_reload_config');
      await alice.ok('ssh_cancel', { task_id: r.task_id }).catch(() => undefined);
    }
  });
});
