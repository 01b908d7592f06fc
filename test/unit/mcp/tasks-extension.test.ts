/**
 * The Tasks extension (io.modelcontextprotocol/tasks) in process, at 2026-07-28: the real
 * createServer over the real gateway, served by the SDK's createMcpHandler and reached by raw
 * JSON-RPC requests through its fetch, with only the SSH side scripted. A request that declares the
 * extension gets ssh_run's and ssh_run_on_tag's task at once and polls it; one that does not is
 * answered as before, and tasks/* refuse it.
 */
import { createMcpHandler, type AuthInfo } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as S from '../../../src/gateway/tool-contract.js';
import { createServer } from '../../../src/mcp/server.js';
import { POLL_INTERVAL_MS, TaskHandles, TASKS_EXTENSION } from '../../../src/mcp/tasks-extension.js';
import type { Principal } from '../../../src/principal.js';
import { parseTaskId } from '../../../src/tasks/ids.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../support/in-process.js';

const POLICY = `
limits:
  calls_per_minute: 1000
overrides:
  callers:
    dave: { calls_per_minute: 2 }
rules:
  - { name: "reads", action: allow, commands: ["uptime", "echo *", "sleep *", "false"] }
`;
const alice: Principal = { name: 'alice', roles: [], via: 'token', credentialId: 'tok-alice' };
const bob: Principal = { name: 'bob', roles: [], via: 'token', credentialId: 'tok-bob' };
const admin: Principal = { name: 'carol', roles: ['admin'], via: 'token', credentialId: 'tok-carol' };
const dave: Principal = { name: 'dave', roles: [], via: 'token', credentialId: 'tok-dave' };

let gate: InProcessGate;
let handler: ReturnType<typeof createMcpHandler>;
let nextId = 1;

beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1), scriptedHost(2, ['web']), scriptedHost(3, ['web'])], { policy: POLICY });
  const logger = pino({ level: 'silent' });
  const taskHandles = new TaskHandles();
  handler = createMcpHandler(
    ({ authInfo, era }) => {
      const principal = authInfo?.extra?.principal as Principal;
      return createServer({ gateway: gate.gateway.forCaller({ principal }), logger, version: '0.0.0-test', era, taskHandles });
    },
    { legacy: 'reject' },
  );
});
afterAll(async () => {
  await handler?.close();
  await gate?.close();
});
beforeEach(() => gate.hosts.reset());

interface Rpc {
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

/** One 2026-07-28 request, its headers and `_meta` envelope as a client sends them. */
async function rpc(
  method: string,
  params: Record<string, unknown>,
  o: { as?: Principal; tasks?: boolean; mcpName?: string } = {},
): Promise<Rpc> {
  const principal = o.as ?? alice;
  const capabilities = o.tasks === false ? {} : { extensions: { [TASKS_EXTENSION]: {} } };
  const name = o.mcpName ?? (typeof params.name === 'string' ? params.name : typeof params.taskId === 'string' ? params.taskId : undefined);
  const body = {
    jsonrpc: '2.0',
    id: nextId++,
    method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'tasks-test', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': capabilities,
      },
    },
  };
  const request = new Request('http://localhost/mcp', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(name !== undefined ? { 'mcp-name': name } : {}),
    },
    body: JSON.stringify(body),
  });
  const authInfo: AuthInfo = { token: '', clientId: principal.name, scopes: [], extra: { principal } };
  const response = await handler.fetch(request, { authInfo });
  return (await response.json()) as Rpc;
}

const call = (name: string, args: Record<string, unknown>, o: { as?: Principal; tasks?: boolean } = {}) =>
  rpc('tools/call', { name, arguments: args }, o);

/** Polls tasks/get until the task is no longer working. */
async function settle(taskId: string, as: Principal = alice): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const r = await rpc('tasks/get', { taskId }, { as });
    if (!r.result) throw new Error(`tasks/get failed: ${JSON.stringify(r.error)}`);
    if (r.result.status !== 'working') return r.result;
    await new Promise((done) => setTimeout(done, 10));
  }
  throw new Error(`task ${taskId} still working`);
}

const structured = <T>(result: unknown) => (result as { structuredContent: T }).structuredContent;

describe('the Tasks extension', () => {
  it('is offered to a 2026-07-28 client as exactly {}, and not in the 2025-era handshake', async () => {
    const discover = await rpc('server/discover', {});
    expect((discover.result?.capabilities as { extensions?: unknown }).extensions).toEqual({ [TASKS_EXTENSION]: {} });
    expect(gate.client.getServerCapabilities()).not.toHaveProperty('extensions');
  });

  it('answers ssh_run with its task at once, whose id is the sshgate task id, then the result by tasks/get', async () => {
    gate.hosts.script(() => ({ steps: [{ wait: 50 }, { stdout: 'up 3 days\n' }] }));
    const created = await call('ssh_run', { alias: 'h1', command: 'uptime', max_bytes: 4 });
    // The SDK stamps every 2026-07-28 result's _meta with the server's name; the rest is the task.
    const { _meta, ...task } = created.result as Record<string, unknown>;
    expect(_meta).toHaveProperty(['io.modelcontextprotocol/serverInfo']);
    expect(task).toEqual({
      resultType: 'task',
      taskId: expect.any(String),
      status: 'working',
      statusMessage: expect.stringMatching(/^(queued|running) on h1$/),
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      lastUpdatedAt: expect.any(String),
      // Known for its time limit (60 s by default) and then its task_result_ttl (600 s).
      ttlMs: (60 + 600) * 1000,
      pollIntervalMs: POLL_INTERVAL_MS,
    });
    const id = task.taskId as string;
    expect(parseTaskId(id)?.alias).toBe('h1');
    const done = await settle(id);
    expect(done).toMatchObject({ resultType: 'complete', taskId: id, status: 'completed', statusMessage: 'succeeded on h1 (exit code 0)' });
    // The same result ssh_run gives, its max_bytes kept: the head and tail around a marker.
    const result = structured<S.RunResult>(done.result);
    expect(result).toMatchObject({ task_id: id, state: 'succeeded', exit_code: 0, stdout_bytes: 10 });
    expect(result.stdout).toContain('bytes not shown');
    expect(JSON.parse((done.result as { content: { text: string }[] }).content[0]?.text ?? '')).toEqual(result);
    expect(Date.parse(done.lastUpdatedAt as string)).toBeGreaterThanOrEqual(Date.parse(done.createdAt as string));
    expect(done.ttlMs).toBeLessThan((60 + 600) * 1000);
  });

  it('is completed with the tool result when the command fails or never ran, and cancelled when stopped', async () => {
    gate.hosts.script(() => ({ exitCode: 1 }));
    const failed = await settle((await call('ssh_run', { alias: 'h1', command: 'false' })).result?.taskId as string);
    expect(failed).toMatchObject({ status: 'completed', statusMessage: 'failed on h1 (exit code 1)' });
    expect(structured<S.RunResult>(failed.result)).toMatchObject({ state: 'failed', exit_code: 1 });

    gate.hosts.takeDown('h1');
    const refused = await settle((await call('ssh_run', { alias: 'h1', command: 'uptime' })).result?.taskId as string);
    expect(refused).toMatchObject({ status: 'completed', result: { isError: true } });
    const text = (refused.result as { content: { text: string }[] }).content[0]?.text ?? '';
    expect(JSON.parse(text)).toMatchObject({ code: 'connect_failed', hint: expect.stringContaining(`(task ${refused.taskId as string})`) });
  });

  it('ignores a 2025-era task parameter on tools/call: the server alone decides', async () => {
    const created = await rpc('tools/call', { name: 'ssh_run', arguments: { alias: 'h1', command: 'uptime' }, task: { ttl: 5 } });
    expect(created.result).toMatchObject({ resultType: 'task', ttlMs: (60 + 600) * 1000 });
    expect(await settle(created.result?.taskId as string)).toMatchObject({ status: 'completed' });
  });

  it('answers what never becomes a task at tools/call: a policy denial is the tool error', async () => {
    const denied = await call('ssh_run', { alias: 'h1', command: 'reboot' });
    expect(denied.result).toMatchObject({ isError: true });
    expect(denied.result).not.toHaveProperty('taskId');
    expect(gate.hosts.calls).toEqual([]);
  });

  it('cancels with tasks/cancel as ssh_cancel does: the ack comes once the task has ended', async () => {
    gate.hosts.script(() => ({ hang: true }));
    const id = (await call('ssh_run', { alias: 'h1', command: 'sleep 9701' })).result?.taskId as string;
    await expect.poll(() => gate.hosts.calls.length).toBe(1);
    expect(await rpc('tasks/cancel', { taskId: id })).toMatchObject({ result: { resultType: 'complete' } });
    expect(gate.hosts.calls[0]?.aborted).toBe('cancelled');
    const got = await rpc('tasks/get', { taskId: id });
    expect(got.result).toMatchObject({ status: 'cancelled', statusMessage: 'cancelled on h1 (signal TERM)' });
    expect(got.result).not.toHaveProperty('result');
    // Idempotent on a task that has ended.
    expect(await rpc('tasks/cancel', { taskId: id })).toMatchObject({ result: { resultType: 'complete' } });
  });

  it("shares the id with sshgate's own task tools", async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: 'started\n' }], hang: true }));
    const id = (await call('ssh_run', { alias: 'h1', command: 'sleep 9702' })).result?.taskId as string;
    const output = await call('ssh_get_task_output', { task_id: id, wait_seconds: 5 });
    expect(structured<S.TaskOutputResult>(output.result)).toMatchObject({ task_id: id, stdout: 'started\n' });
    const cancel = await call('ssh_cancel', { task_id: id });
    expect(structured<S.CancelResult>(cancel.result)).toMatchObject({ result: 'cancelled', final: true });
    expect((await rpc('tasks/get', { taskId: id })).result).toMatchObject({ status: 'cancelled' });
    // A task started by ssh_run_async can be polled too.
    gate.hosts.script(() => ({ steps: [{ stdout: 'async\n' }] }));
    const started = structured<S.RunAsyncResult>((await call('ssh_run_async', { alias: 'h1', command: 'echo async' })).result);
    expect(structured<S.RunResult>((await settle(started.task_id)).result)).toMatchObject({ stdout: 'async\n' });
  });

  it('answers as before when the request did not declare it, and refuses tasks/* with -32021', async () => {
    gate.hosts.script(() => ({ steps: [{ stdout: 'plain\n' }] }));
    const plain = await call('ssh_run', { alias: 'h1', command: 'echo plain' }, { tasks: false });
    expect(structured<S.RunResult>(plain.result)).toMatchObject({ state: 'succeeded', stdout: 'plain\n' });
    const id = structured<S.RunResult>(plain.result).task_id;
    for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
      const r = await rpc(method, { taskId: id }, { tasks: false });
      expect(r.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } } });
    }
    // Tools other than the two run tools answer normally even when it is declared.
    expect(structured<S.ListHostsResult>((await call('ssh_list_hosts', {})).result).hosts).toHaveLength(3);
  });

  it('answers -32602 for an id it does not know, malformed or not, and -32601 for tasks/list and tasks/result', async () => {
    for (const taskId of ['h1:0123456789ab:1', 'not an id', 'fan-out:web:00000000-0000-0000-0000-000000000000']) {
      for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
        expect((await rpc(method, { taskId })).error).toMatchObject({ code: -32602, message: expect.stringContaining('unknown task') });
      }
    }
    expect((await rpc('tasks/get', {})).error?.code).toBe(-32602);
    // Over HTTP, Mcp-Name must be the taskId (the SDK checks it).
    expect((await rpc('tasks/get', { taskId: 'h1:0123456789ab:1' }, { mcpName: 'h1:0123456789ab:2' })).error?.code).toBe(-32020);
    expect((await rpc('tasks/list', {})).error?.code).toBe(-32601);
    expect((await rpc('tasks/result', { taskId: 'h1:0123456789ab:1' })).error?.code).toBe(-32601);
  });

  it('acknowledges tasks/update of a known task and changes nothing', async () => {
    gate.hosts.script(() => ({ hang: true }));
    const id = (await call('ssh_run', { alias: 'h1', command: 'sleep 9703' })).result?.taskId as string;
    expect(await rpc('tasks/update', { taskId: id, inputResponses: { x: { action: 'accept' } } })).toMatchObject({
      result: { resultType: 'complete' },
    });
    expect((await rpc('tasks/get', { taskId: id })).result).toMatchObject({ status: 'working' });
    await rpc('tasks/cancel', { taskId: id });
  });

  it("keeps callers apart: another principal's task is unknown to tasks/get and tasks/cancel, an admin sees it", async () => {
    gate.hosts.script(() => ({ hang: true }));
    const id = (await call('ssh_run', { alias: 'h1', command: 'sleep 9704' })).result?.taskId as string;
    expect((await rpc('tasks/get', { taskId: id }, { as: bob })).error?.code).toBe(-32602);
    expect((await rpc('tasks/cancel', { taskId: id }, { as: bob })).error?.code).toBe(-32602);
    expect((await rpc('tasks/get', { taskId: id })).result).toMatchObject({ status: 'working' });
    expect((await rpc('tasks/get', { taskId: id }, { as: admin })).result).toMatchObject({ status: 'working' });
    await rpc('tasks/cancel', { taskId: id });
  });

  it('gives a retry with the same request_id the same task, and counts the call but not the polls', async () => {
    gate.hosts.script(() => ({ hang: true }));
    const args = { alias: 'h1', command: 'sleep 9706', request_id: 'deploy-9706' };
    const first = (await call('ssh_run', args, { as: dave })).result?.taskId as string;
    for (let i = 0; i < 5; i++)
      expect((await rpc('tasks/get', { taskId: first }, { as: dave })).result).toMatchObject({ status: 'working' });
    expect((await call('ssh_run', args, { as: dave })).result?.taskId).toBe(first);
    expect(gate.hosts.calls).toHaveLength(1);
    // The third call of the minute is refused at tools/call, as it would be without the extension.
    const refused = await call('ssh_run', { alias: 'h1', command: 'sleep 9707' }, { as: dave });
    expect(refused.result).toMatchObject({ isError: true });
    expect(JSON.parse((refused.result as { content: { text: string }[] }).content[0]?.text ?? '')).toMatchObject({ code: 'rate_limited' });
    expect((await rpc('tasks/cancel', { taskId: first }, { as: dave })).result).toMatchObject({ resultType: 'complete' });
  });

  describe('ssh_run_on_tag', () => {
    it("answers with a fan-out handle whose result, once every host's task ended, is ssh_run_on_tag's", async () => {
      gate.hosts.script((c) => ({ steps: [{ wait: c.alias === 'h3' ? 80 : 0 }, { stdout: `on ${c.alias}\n` }] }));
      const created = (await call('ssh_run_on_tag', { tag: 'web', command: 'echo hi' })).result as Record<string, unknown>;
      expect(created).toMatchObject({
        resultType: 'task',
        status: 'working',
        taskId: expect.stringMatching(/^fan-out:web:[0-9a-f-]{36}$/),
      });
      const done = await settle(created.taskId as string);
      expect(done).toMatchObject({ status: 'completed', statusMessage: '2 succeeded, 0 failed, 0 denied of 2 hosts' });
      const result = structured<S.RunOnTagResult>(done.result);
      expect(result.summary).toMatchObject({ total: 2, succeeded: 2 });
      expect(result.results.map((r) => [r.alias, r.stdout])).toEqual([
        ['h2', 'on h2\n'],
        ['h3', 'on h3\n'],
      ]);
      // Each host's task is a task of its own, with its own id.
      const h2 = result.results[0]?.task_id as string;
      expect((await rpc('tasks/get', { taskId: h2 })).result).toMatchObject({ status: 'completed' });
      expect((await rpc('tasks/get', { taskId: created.taskId }, { as: bob })).error?.code).toBe(-32602);
    });

    it('gives a retry with the same request_id the same fan-out handle', async () => {
      gate.hosts.script(() => ({ hang: true }));
      const args = { tag: 'web', command: 'sleep 9708', request_id: 'fan-9708' };
      const first = (await call('ssh_run_on_tag', args)).result?.taskId as string;
      expect((await call('ssh_run_on_tag', args)).result?.taskId).toBe(first);
      expect(gate.hosts.calls).toHaveLength(2);
      await rpc('tasks/cancel', { taskId: first });
    });

    it('answers at once with the result when no host started', async () => {
      const r = await call('ssh_run_on_tag', { tag: 'web', command: 'reboot' });
      expect(structured<S.RunOnTagResult>(r.result).summary).toMatchObject({ total: 2, denied: 2 });
    });

    it("cancels every host's task with tasks/cancel, and is cancelled", async () => {
      gate.hosts.script(() => ({ hang: true }));
      const id = (await call('ssh_run_on_tag', { tag: 'web', command: 'sleep 9705' })).result?.taskId as string;
      await expect.poll(() => gate.hosts.calls.length).toBe(2);
      expect((await rpc('tasks/cancel', { taskId: id })).result).toMatchObject({ resultType: 'complete' });
      expect(gate.hosts.calls.map((c) => c.aborted)).toEqual(['cancelled', 'cancelled']);
      expect((await rpc('tasks/get', { taskId: id })).result).toMatchObject({ status: 'cancelled' });
    });
  });
});

describe('TaskHandles', () => {
  it('forgets a handle once its tasks are sure to be forgotten', () => {
    let now = 0;
    const handles = new TaskHandles(() => now);
    handles.add('h1:0123456789ab:1', { kind: 'run', maxBytes: undefined, forgetAt: 1000 });
    expect(handles.get('h1:0123456789ab:1')).toBeDefined();
    now = 1001;
    expect(handles.get('h1:0123456789ab:1')).toBeUndefined();
    expect(handles.size).toBe(0);
  });

  it("never lets one caller's handles push out another's", () => {
    const handles = new TaskHandles();
    handles.add('alice-task', { kind: 'run', maxBytes: undefined, forgetAt: Infinity, owner: 'alice' });
    for (let i = 0; i < 1050; i++) handles.add(`bob-${i}`, { kind: 'run', maxBytes: undefined, forgetAt: Infinity, owner: 'bob' });
    expect(handles.get('alice-task')).toBeDefined();
    expect(handles.get('bob-0')).toBeUndefined();
    expect(handles.get('bob-1049')).toBeDefined();
  });
});
