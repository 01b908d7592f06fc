/**
 * Review of issue 16 (adversarial): a request_id names one call, and a retry must never start a
 * second task ("a retry of a long task never runs it twice"). The key is kept for max_seconds +
 * task_result_ttl from the call (gateway.ts keptFor), but a held task's max_seconds only begin
 * when it is approved: a retry while it still waits for a person starts a second task and a
 * second approval request for the same call. Failed on the code under review; passes since its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunAsyncResult } from '../../../src/gateway/tool-contract.js';
import type { Principal } from '../../../src/principal.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../support/in-process.js';

const POLICY = `
limits:
  max_seconds: 1
  task_result_ttl: 1
rules:
  - { name: restarts, action: ask, commands: ["systemctl restart *"], approval_timeout_seconds: 600 }
`;

const ALICE: Principal = { name: 'alice', roles: [], via: 'command-line' };

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

describe('review 16: request_id retries of a call that waits for approval', () => {
  it('ssh_run_async: a retry while the first task still awaits approval gets that task, not a second request', async () => {
    const call = { alias: 'h1', command: 'systemctl restart nginx', request_id: 'deploy-42' };
    const first = await alice.ok<RunAsyncResult>('ssh_run_async', call);
    expect(first.state).toBe('awaiting_approval');
    // Longer than max_seconds + task_result_ttl, far shorter than the approval's 600 s.
    await new Promise((r) => setTimeout(r, 2300));
    const retry = await alice.ok<RunAsyncResult>('ssh_run_async', call);
    const pending = gate.gateway.listApprovals().filter((a) => a.command === 'systemctl restart nginx');
    try {
      expect({ task: retry.task_id, requests: pending.length }).toEqual({ task: first.task_id, requests: 1 });
    } finally {
      for (const id of new Set([first.task_id, retry.task_id])) await alice.ok('ssh_cancel', { task_id: id });
    }
  }, 15_000);

  it('ssh_run_on_tag: a retry while the hosts still await approval gets their tasks, not a second request', async () => {
    const call = { tag: 'web', command: 'systemctl restart haproxy', request_id: 'fan-7', wait_seconds: 0 };
    type R = { results: { alias: string; status: string; task_id: string | null }[] };
    const first = await alice.ok<R>('ssh_run_on_tag', call);
    expect(first.results.map((h) => h.status)).toEqual(['awaiting_approval', 'awaiting_approval']);
    await new Promise((r) => setTimeout(r, 2300));
    const retry = await alice.ok<R>('ssh_run_on_tag', call);
    const pending = gate.gateway.listApprovals().filter((a) => a.command === 'systemctl restart haproxy');
    try {
      expect({ tasks: retry.results.map((h) => h.task_id), requests: pending.length }).toEqual({
        tasks: first.results.map((h) => h.task_id),
        requests: 1,
      });
    } finally {
      for (const h of [...first.results, ...retry.results]) if (h.task_id) await alice.ok('ssh_cancel', { task_id: h.task_id });
    }
  }, 15_000);
});
