/**
 * The client approval path in one process: the real policy, Gateway, TaskManager and MCP server
 * over scripted hosts, reached by the SDK's own Client in each era — 2025 (the server sends
 * elicitation/create) and 2026-07-28 (input_required, and the client's retry) — and by raw
 * 2026-07-28 JSON-RPC where a test must hold the requestState or poll a Tasks-extension task.
 */
import { createMcpHandler, type AuthInfo } from '@modelcontextprotocol/server';
import type { ElicitRequest, ElicitResult } from '@modelcontextprotocol/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../src/approvals/broker.js';
import type { RunOnTagResult, RunResult, TaskStatus } from '../../../src/gateway/tool-contract.js';
import { createServer } from '../../../src/mcp/server.js';
import { TaskHandles, TASKS_EXTENSION } from '../../../src/mcp/tasks-extension.js';
import type { Principal } from '../../../src/principal.js';
import { taskReaches } from '../../support/mcp.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../support/in-process.js';

const POLICY = `
rules:
  - { name: reads, action: allow, commands: ["uptime"] }
  - { name: restarts, action: ask, approve_by: client, commands: ["systemctl restart *"] }
  - { name: reloads, action: ask, approve_by: either, grant_minutes: 5, commands: ["systemctl reload *"] }
  - { name: stops, action: ask, commands: ["systemctl stop *"] }
  - { name: four eyes, action: ask, approve_by: either, four_eyes: true, commands: ["truncate -s 0 *"] }
`;

const OPERATOR: Answerer = { name: 'root', via: 'os-user', channel: 'control-socket' };

let gate: InProcessGate;

beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web']), scriptedHost(2, ['web'])], { policy: POLICY });
  gate.hosts.script((c) => ({ steps: [{ stdout: `ran ${c.command}\n` }] }));
});
afterAll(async () => {
  await gate?.close();
});

/** How often the scripted hosts were asked to run this exact command. */
const ranTimes = (command: string) => gate.hosts.calls.filter((c) => c.command.endsWith(command)).length;

/** A client of the era, as `name`, that answers every elicitation with `answer` and records the forms it was shown. */
async function clientOf(era: 'legacy' | 'modern', name: string, answer?: (p: ElicitRequest['params']) => ElicitResult) {
  const asked: ElicitRequest['params'][] = [];
  const principal: Principal = { name, roles: [], via: 'token', credentialId: `tok-${name}` };
  const c = await gate.connect({
    principal,
    era,
    ...(answer
      ? {
          onElicit: (p: ElicitRequest['params']) => {
            asked.push(p);
            return answer(p);
          },
        }
      : {}),
  });
  return { ...c, asked, principal };
}

const approve = (): ElicitResult => ({ action: 'accept', content: { approve: true } });

function waitState(c: { ok: InProcessGate['ok'] }, taskId: string, state: string): Promise<TaskStatus> {
  return taskReaches(c, taskId, state);
}

describe.each(['legacy', 'modern'] as const)('the client approves, at %s', (era) => {
  const tag = era === 'legacy' ? '2025' : '2026';

  it('shows the exact command, host and rule; accepted, the command runs once, and the same call asks again', async () => {
    const c = await clientOf(era, `accepts-${tag}`, approve);
    const command = `systemctl restart nginx-${tag}`;
    const r = await c.ok<RunResult>('ssh_run', { alias: 'h1', command });
    expect(r.state).toBe('succeeded');
    expect(r.stdout).toBe(`ran ${command}\n`);
    expect(ranTimes(command)).toBe(1);
    expect(c.asked).toHaveLength(1);
    const form = c.asked[0] as ElicitRequest['params'] & { requestedSchema: { required: string[] } };
    expect(form.message).toContain(`command: ${JSON.stringify(command)}`);
    expect(form.message).toContain('host: h1');
    expect(form.message).toMatch(/rule: restarts \(.*test\.yml:4:5\)/);
    expect(form.requestedSchema.required).toEqual(['approve']);
    expect(r.approval?.approval_id).toMatch(/^apr-/);
    expect(gate.log()).toMatch(
      new RegExp(`"event":"approval_approved","approval_id":"${r.approval?.approval_id}".*"channel":"elicitation"`),
    );

    const again = await c.ok<RunResult>('ssh_run', { alias: 'h1', command });
    expect(again.state).toBe('succeeded');
    expect(again.approval?.approval_id).not.toBe(r.approval?.approval_id);
    expect(c.asked).toHaveLength(2);
    expect(ranTimes(command)).toBe(2);
    await c.close();
  });

  it('declined, the task ends denied with approval_denied and nothing runs', async () => {
    const c = await clientOf(era, `declines-${tag}`, () => ({ action: 'decline' }));
    const command = `systemctl restart redis-${tag}`;
    const e = await c.ok<RunResult>('ssh_run', { alias: 'h1', command });
    expect(e).toMatchObject({ state: 'denied', error: { code: 'approval_denied' } });
    expect(e.error?.message).toMatch(/declined in the MCP client/);
    expect((await c.ok<TaskStatus>('ssh_get_task_status', { task_id: e.task_id })).state).toBe('denied');
    expect(ranTimes(command)).toBe(0);
    await c.close();
  });

  it('accepted with approve: false, the task is denied too', async () => {
    const c = await clientOf(era, `says-no-${tag}`, () => ({ action: 'accept', content: { approve: false, reason: 'not now' } }));
    const command = `systemctl restart cron-${tag}`;
    const e = await c.ok<RunResult>('ssh_run', { alias: 'h1', command });
    expect(e).toMatchObject({
      state: 'denied',
      error: { code: 'approval_denied', message: expect.stringMatching(/: not now$/) as unknown },
    });
    expect(ranTimes(command)).toBe(0);
    await c.close();
  });

  it('dismissed (cancel), the request waits for an operator, who approves it; then it runs', async () => {
    const c = await clientOf(era, `dismisses-${tag}`, () => ({ action: 'cancel' }));
    const command = `systemctl restart php-${tag}`;
    const r = await c.ok<RunResult>('ssh_run', { alias: 'h1', command, wait_seconds: 1 });
    expect(r.state).toBe('awaiting_approval');
    expect(c.asked).toHaveLength(1);
    gate.gateway.answerApproval(r.approval?.approval_id as string, OPERATOR, true);
    await waitState(c, r.task_id, 'succeeded');
    expect(ranTimes(command)).toBe(1);
    await c.close();
  });

  // At 2026-07-28 the client's retry carries the answer whenever its user gives it (see below).
  it.runIf(era === 'legacy')('an answer given after ssh_run returned awaiting_approval still counts', async () => {
    let release: () => void = () => undefined;
    const later = new Promise<void>((r) => (release = r));
    const c = await clientOf(era, `late-${tag}`, approve);
    c.client.setRequestHandler('elicitation/create', async () => {
      await later;
      return approve();
    });
    const command = `systemctl restart late-${tag}`;
    const r = await c.ok<RunResult>('ssh_run', { alias: 'h1', command, wait_seconds: 0 });
    expect(r.state).toBe('awaiting_approval');
    release();
    await waitState(c, r.task_id, 'succeeded');
    expect(ranTimes(command)).toBe(1);
    await c.close();
  });

  it('a client without elicitation gets awaiting_approval: the operator path', async () => {
    const c = await clientOf(era, `no-elicitation-${tag}`);
    const r = await c.ok<RunResult>('ssh_run', { alias: 'h1', command: `systemctl restart mysql-${tag}`, wait_seconds: 0 });
    expect(r.state).toBe('awaiting_approval');
    expect(r.approval?.note).toMatch(/approve/);
    gate.gateway.answerApproval(r.approval?.approval_id as string, OPERATOR, false);
    await c.close();
  });

  it('approve_by operator and four_eyes send no elicitation', async () => {
    const c = await clientOf(era, `operator-only-${tag}`, approve);
    const byOperator = await c.ok<RunResult>('ssh_run', { alias: 'h1', command: `systemctl stop nginx-${tag}`, wait_seconds: 0 });
    expect(byOperator.state).toBe('awaiting_approval');
    const fourEyes = await c.ok<RunResult>('ssh_run', { alias: 'h1', command: `truncate -s 0 /srv/${tag}`, wait_seconds: 0 });
    expect(fourEyes.state).toBe('awaiting_approval');
    expect(c.asked).toHaveLength(0);
    for (const r of [byOperator, fourEyes]) await c.ok('ssh_cancel', { task_id: r.task_id });
    await c.close();
  });

  it('with grant_minutes, the second identical call runs without asking', async () => {
    const c = await clientOf(era, `grants-${tag}`, approve);
    const command = `systemctl reload nginx-${tag}`;
    expect((await c.ok<RunResult>('ssh_run', { alias: 'h1', command })).state).toBe('succeeded');
    const second = await c.ok<RunResult>('ssh_run', { alias: 'h1', command });
    expect(second.state).toBe('succeeded');
    expect(second.approval).toBeUndefined();
    expect(c.asked).toHaveLength(1);
    expect(ranTimes(command)).toBe(2);
    await c.close();
  });

  it('a fan-out asks once for all its hosts', async () => {
    const c = await clientOf(era, `fans-out-${tag}`, approve);
    const command = `systemctl restart haproxy-${tag}`;
    const r = await c.ok<RunOnTagResult>('ssh_run_on_tag', { tag: 'web', command });
    expect(r.summary).toMatchObject({ total: 2, succeeded: 2 });
    expect(c.asked).toHaveLength(1);
    expect(c.asked[0]?.message).toContain('hosts: h1, h2');
    expect(ranTimes(command)).toBe(2);
    await c.close();
  });

  it('ssh_run_async asks no one: the call returns at once and the operator path applies', async () => {
    const c = await clientOf(era, `async-${tag}`, approve);
    const r = await c.ok<{ task_id: string; state: string }>('ssh_run_async', { alias: 'h1', command: `systemctl restart async-${tag}` });
    expect(r.state).toBe('awaiting_approval');
    expect(c.asked).toHaveLength(0);
    await c.ok('ssh_cancel', { task_id: r.task_id });
    await c.close();
  });
});

describe('2026-07-28 round trips by hand', () => {
  const principal: Principal = { name: 'raw', roles: [], via: 'token', credentialId: 'tok-raw' };
  const other: Principal = { name: 'mallory', roles: [], via: 'token', credentialId: 'tok-mallory' };
  let handler: ReturnType<typeof createMcpHandler>;
  let nextId = 1;

  beforeAll(() => {
    const logger = pino({ level: 'silent' });
    const taskHandles = new TaskHandles();
    handler = createMcpHandler(
      ({ authInfo, era }) => {
        const p = authInfo?.extra?.principal as Principal;
        return createServer({ gateway: gate.gateway.forCaller({ principal: p }), logger, version: '0.0.0-test', era, taskHandles });
      },
      { legacy: 'reject' },
    );
  });
  afterAll(async () => {
    await handler?.close();
  });

  interface Rpc {
    result?: Record<string, unknown>;
    error?: { code: number; message: string };
  }

  async function rpc(method: string, params: Record<string, unknown>, o: { as?: Principal; tasks?: boolean; elicit?: boolean } = {}) {
    const capabilities = {
      ...(o.elicit === false ? {} : { elicitation: { form: {} } }),
      ...(o.tasks ? { extensions: { [TASKS_EXTENSION]: {} } } : {}),
    };
    const name = typeof params.name === 'string' ? params.name : typeof params.taskId === 'string' ? params.taskId : undefined;
    const request = new Request('http://localhost/mcp', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        ...(name !== undefined ? { 'mcp-name': name } : {}),
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: nextId++,
        method,
        params: {
          ...params,
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'raw-test', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': capabilities,
          },
        },
      }),
    });
    const p = o.as ?? principal;
    const authInfo: AuthInfo = { token: '', clientId: p.name, scopes: [], extra: { principal: p } };
    return (await (await handler.fetch(request, { authInfo })).json()) as Rpc;
  }

  /** The first round: input_required, its single key and its requestState. */
  async function firstRound(args: Record<string, unknown>) {
    const r = await rpc('tools/call', { name: 'ssh_run', arguments: args });
    expect(r.result).toMatchObject({ resultType: 'input_required' });
    const requests = r.result?.inputRequests as Record<string, { method: string; params: { mode: string; message: string } }>;
    const [key, request] = Object.entries(requests)[0] as [string, { method: string; params: { mode: string; message: string } }];
    return { key, request, state: r.result?.requestState as string };
  }

  it('answers input_required with the form, and the retry with the answer runs the one task it started', async () => {
    const command = 'systemctl restart raw-1';
    const args = { alias: 'h2', command };
    const { key, request, state } = await firstRound(args);
    expect(key).toMatch(/^approve-apr-[0-9a-f]{16}$/);
    expect(request).toMatchObject({ method: 'elicitation/create', params: { mode: 'form' } });
    expect(request.params.message).toContain(`command: ${JSON.stringify(command)}`);
    const [pending] = gate.gateway.listApprovals().filter((a) => a.command === command);
    expect(pending?.task_ids).toHaveLength(1);

    const retry = { name: 'ssh_run', arguments: args, inputResponses: { [key]: approve() }, requestState: state };
    const done = await rpc('tools/call', retry);
    expect(done.result?.structuredContent).toMatchObject({ state: 'succeeded', task_id: pending?.task_ids[0] });
    // The same retry again (a lost answer, say) gets the same task: nothing runs twice.
    const replay = await rpc('tools/call', retry);
    expect(replay.result?.structuredContent).toMatchObject({ state: 'succeeded', task_id: pending?.task_ids[0] });
    expect(ranTimes(command)).toBe(1);
    expect(gate.gateway.listApprovals(true).filter((a) => a.command === command)).toHaveLength(1);
  });

  it('refuses a tampered, foreign or misapplied requestState with -32602, and approves nothing', async () => {
    const command = 'systemctl restart raw-2';
    const args = { alias: 'h2', command };
    const { key, state } = await firstRound(args);
    const answer = { [key]: approve() };
    const [body, mac] = [state.slice(0, state.lastIndexOf('.')), state.slice(state.lastIndexOf('.') + 1)];
    const flipped = `${body}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`;
    for (const attempt of [
      rpc('tools/call', { name: 'ssh_run', arguments: args, inputResponses: answer, requestState: flipped }),
      rpc('tools/call', { name: 'ssh_run', arguments: args, inputResponses: answer, requestState: 'v1.e30.AAAA' }),
      rpc('tools/call', { name: 'ssh_run', arguments: args, inputResponses: answer, requestState: state }, { as: other }),
      rpc('tools/call', {
        name: 'ssh_run',
        arguments: { ...args, command: 'systemctl restart raw-x' },
        inputResponses: answer,
        requestState: state,
      }),
    ]) {
      const r = await attempt;
      expect(r.error?.code).toBe(-32602);
      expect(r.error?.message).toMatch(/invalid requestState/);
    }
    expect(gate.gateway.listApprovals().find((a) => a.command === command)).toBeDefined();
    expect(ranTimes(command)).toBe(0);
    expect(gate.gateway.listApprovals().filter((a) => a.command === 'systemctl restart raw-x')).toHaveLength(0);
    // The real retry still works.
    const ok = await rpc('tools/call', {
      name: 'ssh_run',
      arguments: args,
      inputResponses: { [key]: { action: 'decline' } },
      requestState: state,
    });
    expect(ok.result?.structuredContent).toMatchObject({ state: 'denied', error: { code: 'approval_denied' } });
  });

  it('a retry without the answer is asked again; a client without elicitation is not asked', async () => {
    const args = { alias: 'h2', command: 'systemctl restart raw-3', wait_seconds: 0 };
    const { key, state } = await firstRound(args);
    const again = await rpc('tools/call', { name: 'ssh_run', arguments: args, requestState: state });
    expect(again.result).toMatchObject({ resultType: 'input_required', inputRequests: { [key]: expect.anything() as unknown } });
    const plain = await rpc(
      'tools/call',
      { name: 'ssh_run', arguments: { ...args, command: 'systemctl restart raw-4' } },
      { elicit: false },
    );
    expect(plain.result?.structuredContent).toMatchObject({ state: 'awaiting_approval' });
    for (const a of gate.gateway.listApprovals().filter((x) => x.command.startsWith('systemctl restart raw-')))
      for (const id of a.task_ids) gate.gateway.cancelTask(id);
  });

  it('Tasks extension: tasks/get shows input_required with the form, tasks/update answers it', async () => {
    const command = 'systemctl restart raw-tasks';
    const created = await rpc('tools/call', { name: 'ssh_run', arguments: { alias: 'h1', command } }, { tasks: true });
    expect(created.result).toMatchObject({ resultType: 'task' });
    const taskId = created.result?.taskId as string;
    // Without elicitation the task is just working (the operator path).
    expect((await rpc('tasks/get', { taskId }, { tasks: true, elicit: false })).result).toMatchObject({ status: 'working' });
    const polled = await rpc('tasks/get', { taskId }, { tasks: true });
    expect(polled.result).toMatchObject({ status: 'input_required' });
    const requests = polled.result?.inputRequests as Record<string, { params: { message: string } }>;
    const [key] = Object.keys(requests);
    expect(key).toMatch(/^approve-apr-/);
    expect(requests[key as string]?.params.message).toContain(`command: ${JSON.stringify(command)}`);
    // The same key on every poll until answered.
    expect(Object.keys((await rpc('tasks/get', { taskId }, { tasks: true })).result?.inputRequests as object)).toEqual([key]);
    // Unknown keys are ignored.
    expect(
      (await rpc('tasks/update', { taskId, inputResponses: { 'approve-apr-0000000000000000': approve() } }, { tasks: true })).result,
    ).toEqual(expect.objectContaining({}));
    expect((await rpc('tasks/get', { taskId }, { tasks: true })).result).toMatchObject({ status: 'input_required' });
    await rpc('tasks/update', { taskId, inputResponses: { [key as string]: approve() } }, { tasks: true });
    let status = '';
    for (let i = 0; i < 200 && status !== 'completed'; i++) {
      status = (await rpc('tasks/get', { taskId }, { tasks: true })).result?.status as string;
      expect(status).not.toBe('input_required');
      await new Promise((r) => setTimeout(r, 10));
    }
    const done = await rpc('tasks/get', { taskId }, { tasks: true });
    expect(done.result).toMatchObject({ status: 'completed', result: { structuredContent: { state: 'succeeded' } } });
    expect(ranTimes(command)).toBe(1);
    // Answered: a second answer under the same key is ignored.
    await rpc('tasks/update', { taskId, inputResponses: { [key as string]: { action: 'decline' } } }, { tasks: true });
    expect(gate.gateway.listApprovals(true).find((a) => a.command === command)?.state).toBe('approved');
  });
  it('Tasks extension: dismissed in the client, the task is working again and an operator approves it', async () => {
    const command = 'systemctl restart raw-dismissed';
    const created = await rpc('tools/call', { name: 'ssh_run', arguments: { alias: 'h1', command } }, { tasks: true });
    const taskId = created.result?.taskId as string;
    const polled = await rpc('tasks/get', { taskId }, { tasks: true });
    const [key] = Object.keys(polled.result?.inputRequests as object);
    await rpc('tasks/update', { taskId, inputResponses: { [key as string]: { action: 'cancel' } } }, { tasks: true });
    expect((await rpc('tasks/get', { taskId }, { tasks: true })).result).toMatchObject({ status: 'working' });
    const pending = gate.gateway.listApprovals().find((a) => a.command === command);
    gate.gateway.answerApproval(pending?.approval_id as string, OPERATOR, true);
    let status = '';
    for (let i = 0; i < 200 && status !== 'completed'; i++) {
      status = (await rpc('tasks/get', { taskId }, { tasks: true })).result?.status as string;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(status).toBe('completed');
    expect(ranTimes(command)).toBe(1);
  });
  it('Tasks extension: a fan-out asks once for its hosts through tasks/get, and tasks/update answers for all', async () => {
    const command = 'systemctl restart raw-fan-out';
    const created = await rpc('tools/call', { name: 'ssh_run_on_tag', arguments: { tag: 'web', command } }, { tasks: true });
    const taskId = created.result?.taskId as string;
    expect(taskId).toMatch(/^fan-out:web:/);
    const polled = await rpc('tasks/get', { taskId }, { tasks: true });
    expect(polled.result).toMatchObject({ status: 'input_required' });
    const requests = polled.result?.inputRequests as Record<string, { params: { message: string } }>;
    const [key] = Object.keys(requests);
    expect(requests[key as string]?.params.message).toContain('hosts: h1, h2');
    await rpc('tasks/update', { taskId, inputResponses: { [key as string]: approve() } }, { tasks: true });
    let result: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && result?.status !== 'completed'; i++) {
      result = (await rpc('tasks/get', { taskId }, { tasks: true })).result;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(result).toMatchObject({ status: 'completed', result: { structuredContent: { summary: { total: 2, succeeded: 2 } } } });
    expect(ranTimes(command)).toBe(2);
  });
});
