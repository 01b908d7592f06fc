/**
 * Review of issue 16 (adversarial): held tasks and quotas, and the grant-use audit. Each test
 * Failed on the code under review; passes since its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../src/approvals/broker.js';
import type { RunResult, TaskStatus } from '../../../src/gateway/tool-contract.js';
import type { Principal } from '../../../src/principal.js';
import { taskReaches } from '../../support/mcp.js';
import { logRecords, scriptedHost, startInProcessGate, type InProcessGate } from '../../support/in-process.js';

const POLICY = `
limits:
  commands_per_day: 2
rules:
  - { name: reads, action: allow, commands: ["uptime"] }
  - { name: restarts, action: ask, commands: ["systemctl restart *"] }
  - { name: grants, action: ask, commands: ["systemctl reload *"], grant_minutes: 5 }
`;
const OPERATOR: Answerer = { name: 'root', via: 'os-user', channel: 'control-socket' };

let gate: InProcessGate;

beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web'])], { policy: POLICY });
  gate.hosts.script((c) => ({ steps: [{ stdout: `ran ${c.command}\n` }] }));
});
afterAll(async () => {
  await gate.close();
});

function waitState(who: Awaited<ReturnType<InProcessGate['as']>>, taskId: string, state: string): Promise<TaskStatus> {
  return taskReaches(who, taskId, state);
}

describe('review 16: held tasks and quotas', () => {
  it('approval_grant_used is recorded only for a run that starts, not for one the quota refuses', async () => {
    const dave = await gate.as({ name: 'dave', roles: [], via: 'command-line' } satisfies Principal);
    try {
      const r = await dave.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl reload nginx', wait_seconds: 0 });
      gate.gateway.answerApproval(r.approval?.approval_id as string, OPERATOR, true);
      await waitState(dave, r.task_id, 'succeeded');
      const second = await dave.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl reload nginx' });
      expect(second.state).toBe('succeeded');
      const third = await dave.fails('ssh_run', { alias: 'h1', command: 'systemctl reload nginx' });
      expect(third.code).toBe('rate_limited');
      const used = logRecords(gate).filter((l) => l.event === 'approval_grant_used' && l.principal === 'dave');
      // Today: 2 — the third, refused over quota, is audited as a run under the grant.
      expect(used.length).toBe(1);
    } finally {
      await dave.close();
    }
  });
});
