/**
 * Rate limits and quotas per principal, in process: a runaway loop of calls or commands is stopped
 * by sshgate with `rate_limited` and when to retry, one principal's use never spends another's,
 * a denied command costs only its call, and ssh_cancel is never refused.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as S from '../../../../src/gateway/tool-contract.js';
import type { Principal } from '../../../../src/principal.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';
import type { ToolCalls } from '../../../support/mcp.js';

const POLICY = `
limits:
  calls_per_minute: 1000
  commands_per_day: 3
rules:
  - { name: "echo", action: allow, commands: ["echo *", "sleep *"] }
overrides:
  callers:
    slow: { calls_per_minute: 4 }
`;

const looping: Principal = { name: 'looping', roles: [], via: 'token' };
const other: Principal = { name: 'other', roles: [], via: 'token' };
const slow: Principal = { name: 'slow', roles: [], via: 'token' };

let gate: InProcessGate;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1)], { policy: POLICY });
});
afterAll(() => gate?.close());
beforeEach(() => gate.hosts.reset());

interface Refusal {
  code: string;
  message: string;
  hint?: string;
  retry_after_seconds?: number;
}

describe('rate limits and quotas', () => {
  it("stop a principal's commands at commands_per_day with rate_limited and when to retry; a denied command costs nothing", async () => {
    const calls: ToolCalls = await gate.as(looping);
    gate.hosts.script(() => ({}));
    expect((await calls.fails('ssh_run', { alias: 'h1', command: 'rm -rf /' })).code).toBe('policy_denied');
    for (let i = 0; i < 3; i++)
      expect(await calls.ok<S.RunResult>('ssh_run', { alias: 'h1', command: `echo ${i}` })).toMatchObject({ state: 'succeeded' });
    const refused = (await calls.fails('ssh_run', { alias: 'h1', command: 'echo 4' })) as Refusal;
    expect(refused.code).toBe('rate_limited');
    expect(refused.message).toMatch(/commands_per_day/);
    expect(refused.retry_after_seconds).toBeGreaterThan(0);
    expect(refused.retry_after_seconds).toBeLessThanOrEqual(86_400);
    expect(gate.hosts.calls).toHaveLength(3);
    // Another principal's quota is its own.
    expect(await (await gate.as(other)).ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'echo mine' })).toMatchObject({
      state: 'succeeded',
    });
  });

  it('stop a loop of calls at calls_per_minute, but never ssh_cancel', async () => {
    const calls = await gate.as(slow);
    gate.hosts.script(() => ({ hang: true }));
    const { task_id } = await calls.ok<S.RunAsyncResult>('ssh_run_async', { alias: 'h1', command: 'sleep 600' });
    for (let i = 0; i < 3; i++) await calls.ok('ssh_list_hosts');
    const refused = (await calls.fails('ssh_list_hosts')) as Refusal;
    expect(refused).toMatchObject({ code: 'rate_limited' });
    expect(refused.retry_after_seconds).toBeGreaterThanOrEqual(1);
    expect(refused.retry_after_seconds).toBeLessThanOrEqual(60);
    expect(await calls.ok<S.CancelResult>('ssh_cancel', { task_id })).toMatchObject({ result: 'cancelled' });
  });
});
