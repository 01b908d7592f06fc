/**
 * request_id, in process: a retried run call with the same idempotency key runs its command once
 * and answers with the first call's task; the same key with other arguments is refused; another
 * principal's key is its own.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as S from '../../../../src/gateway/tool-contract.js';
import type { Principal } from '../../../../src/principal.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';
import type { ToolCalls } from '../../../support/mcp.js';

const alice: Principal = { name: 'alice', roles: [], via: 'token' };
const bob: Principal = { name: 'bob', roles: [], via: 'token' };

let gate: InProcessGate;
let asAlice: ToolCalls;
let asBob: ToolCalls;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web']), scriptedHost(2, ['web'])]);
  asAlice = await gate.as(alice);
  asBob = await gate.as(bob);
});
afterAll(() => gate?.close());
beforeEach(() => gate.hosts.reset());

describe('request_id', () => {
  it('runs an ssh_run once: the retry gets the first task and its result', async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: 'once\n' }] }));
    const call = { alias: 'h1', command: 'echo once', request_id: 'deploy-42' };
    const first = await asAlice.ok<S.RunResult>('ssh_run', call);
    const retry = await asAlice.ok<S.RunResult>('ssh_run', { ...call, wait_seconds: 5, max_bytes: 100 });
    expect(retry).toMatchObject({ task_id: first.task_id, state: 'succeeded', stdout: 'once\n' });
    expect(gate.hosts.calls).toHaveLength(1);
  });

  it('runs an ssh_run_async once, and a retry of a still running one answers with its task', async () => {
    gate.hosts.script(() => ({ hang: true }));
    const call = { alias: 'h1', command: 'sleep 600', request_id: 'async-1' };
    const first = await asAlice.ok<S.RunAsyncResult>('ssh_run_async', call);
    const retry = await asAlice.ok<S.RunAsyncResult>('ssh_run_async', call);
    expect(retry).toEqual(first);
    expect(gate.hosts.calls).toHaveLength(1);
    await asAlice.ok('ssh_cancel', { task_id: first.task_id });
  });

  it('runs an ssh_run_on_tag once on every host', async () => {
    gate.hosts.script(() => ({}));
    const call = { tag: 'web', command: 'echo fan', request_id: 'fan-1' };
    const first = await asAlice.ok<S.RunOnTagResult>('ssh_run_on_tag', call);
    const retry = await asAlice.ok<S.RunOnTagResult>('ssh_run_on_tag', call);
    expect(retry.results.map((r) => r.task_id).sort()).toEqual(first.results.map((r) => r.task_id).sort());
    expect(gate.hosts.calls).toHaveLength(2);
  });

  it('refuses the same key with other arguments, and leaves another principal its own keys', async () => {
    gate.hosts.script(() => ({}));
    await asAlice.ok('ssh_run', { alias: 'h1', command: 'echo a', request_id: 'k-1' });
    const clash = await asAlice.fails('ssh_run', { alias: 'h1', command: 'echo b', request_id: 'k-1' });
    expect(clash.code).toBe('invalid_input');
    expect(clash.message).toContain('request_id "k-1" was already used for another call');
    // Bob's k-1 is not Alice's: it runs.
    await asBob.ok('ssh_run', { alias: 'h1', command: 'echo b', request_id: 'k-1' });
    expect(gate.hosts.calls.map((c) => c.command)).toEqual(['echo a', 'echo b']);
  });

  it('keeps a key while a long task runs past task_result_ttl: its retry never runs it twice', async () => {
    const short = await startInProcessGate([scriptedHost(3)], {
      policy: 'limits: { task_result_ttl: 1, max_seconds: 600 }\nrules:\n  - { name: sleep, action: allow, commands: ["sleep *"] }\n',
    });
    try {
      const calls = await short.as(alice);
      short.hosts.script(() => ({ hang: true }));
      const call = { alias: 'h3', command: 'sleep 600', request_id: 'long-1' };
      const first = await calls.ok<S.RunAsyncResult>('ssh_run_async', call);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await calls.ok<S.RunAsyncResult>('ssh_run_async', call)).toMatchObject({ task_id: first.task_id });
      expect(short.hosts.calls).toHaveLength(1);
      await calls.ok('ssh_cancel', { task_id: first.task_id });
    } finally {
      await short.close();
    }
  });

  it('decides a fan-out retry again for the hosts that did not start, and keeps nothing when none did', async () => {
    gate.hosts.script(() => ({}));
    const denied = await asAlice.ok<S.RunOnTagResult>('ssh_run_on_tag', { tag: 'web', command: 'reboot', request_id: 'fan-denied' });
    expect(denied.summary.denied).toBe(2);
    // Nothing started: the same key may be used for another call, which runs.
    const other = await asAlice.ok<S.RunOnTagResult>('ssh_run_on_tag', { tag: 'web', command: 'echo ok', request_id: 'fan-denied' });
    expect(other.summary.succeeded).toBe(2);
  });

  it('never remembers a denied call: a retry is decided again', async () => {
    const denied = await asAlice.fails('ssh_run', { alias: 'h1', command: 'reboot', request_id: 'r-1' });
    expect(denied.code).toBe('policy_denied');
    expect((await asAlice.fails('ssh_run', { alias: 'h1', command: 'reboot', request_id: 'r-1' })).code).toBe('policy_denied');
  });
});
