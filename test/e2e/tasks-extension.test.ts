/**
 * The Tasks extension (io.modelcontextprotocol/tasks) over the real `sshgate serve` and a real
 * sshd: raw 2026-07-28 JSON-RPC over stdio, and over HTTP through fetch with the 2026 headers and
 * two callers of a tokens file. A client that declares the extension runs ssh_run as a task and
 * polls it to its result, cancels one and sees its remote process gone; a request that does not
 * declare it is refused tasks/*; an unknown id, or another caller's, is -32602.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, tokenHash } from '../../src/auth/tokens.js';
import { goneWithin, pkillFleet, presentWithin, removeConfig, writeConfig } from '../support/mcp.js';
import { envelope2026, startRawServer, type RawServer } from '../support/raw-stdio.js';
import { startServeHttp, type ServeHttp } from '../support/serve-http.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const TASKS = 'io.modelcontextprotocol/tasks';
const ALICE = newToken().token;
const BOB = newToken().token;
/** Every command of this file sleeps 97NN seconds: what pgrep looks for, and what is cleaned up. */
const MINE = 'sleep 97[0-9][0-9]';

let fleet: Fleet;
let dir: string;
let stdio: RawServer;
let http: ServeHttp | undefined;
let port: number;

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 97 });
  dir = writeConfig(fleet, { hosts: fleet.hosts });
  writeFileSync(
    join(dir, 'tokens.yml'),
    `tokens:\n  - { id: alice-1, principal: alice, sha256: ${tokenHash(ALICE)} }\n  - { id: bob-1, principal: bob, sha256: ${tokenHash(BOB)} }\n`,
    { mode: 0o600 },
  );
  stdio = await startRawServer(dir, 'tasks-e2e', 'discover');
  http = await startServeHttp(dir, { args: ['--tokens-file', join(dir, 'tokens.yml')] });
  port = http.port;
});

afterAll(async () => {
  await stdio?.close();
  await http?.stop();
  if (fleet) pkillFleet(fleet.user, MINE);
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

interface Answer {
  /** The HTTP status (200 over stdio). */
  status: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}
interface Options {
  /** Declare the Tasks extension in the request's client capabilities (default true). */
  tasks?: boolean;
  /** Over HTTP, whose bearer token (default Alice's). */
  token?: string;
}
type Rpc = (method: string, params: Record<string, unknown>, o?: Options) => Promise<Answer>;

function params(p: Record<string, unknown>, o: Options): Record<string, unknown> {
  return { ...p, _meta: envelope2026('tasks-e2e', o.tasks === false ? {} : { extensions: { [TASKS]: {} } }) };
}

const overStdio: Rpc = async (method, p, o = {}) => {
  const m = await stdio.request(method, params(p, o));
  return { status: 200, ...(m.result ? { result: m.result } : {}), ...(m.error ? { error: m.error } : {}) };
};

let nextId = 1;
const overHttp: Rpc = async (method, p, o = {}) => {
  const name = typeof p.name === 'string' ? p.name : typeof p.taskId === 'string' ? p.taskId : undefined;
  const r = await fetch(`http://127.0.0.1:${port}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${o.token ?? ALICE}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(name !== undefined ? { 'mcp-name': name } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params: params(p, o) }),
  });
  const text = await r.text();
  // An answer is one JSON body, or an SSE stream whose last event is the response.
  const events = (r.headers.get('content-type') ?? '').startsWith('text/event-stream')
    ? text
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .filter((d) => d !== '')
    : [text];
  const message = JSON.parse(events.at(-1) ?? '{}') as Omit<Answer, 'status'>;
  return { status: r.status, ...message };
};

async function settle(rpc: Rpc, taskId: string, o: Options = {}): Promise<Record<string, unknown>> {
  for (let i = 0; i < 300; i++) {
    const r = await rpc('tasks/get', { taskId }, o);
    if (!r.result) throw new Error(`tasks/get answered ${JSON.stringify(r.error)}`);
    if (r.result.status !== 'working') return r.result;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`task ${taskId} still working after 30 s`);
}

const CASES = [
  { transport: 'stdio', rpc: overStdio, marker: 10 },
  { transport: 'http', rpc: overHttp, marker: 20 },
] as const;

describe.each(CASES)('over $transport at 2026-07-28', { timeout: 60_000 }, ({ transport, rpc, marker }) => {
  it('offers the extension and runs ssh_run as a task, polled to completed with the result', async () => {
    const discover = transport === 'stdio' ? stdio.initialized : await rpc('server/discover', {});
    expect(discover.result?.capabilities).toMatchObject({ extensions: { [TASKS]: {} } });
    const created = await rpc('tools/call', { name: 'ssh_run', arguments: { alias: 'h1', command: `echo tasks over ${transport}` } });
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working', taskId: expect.stringMatching(/^h1:[0-9a-f]{12}:\d+$/) });
    const id = created.result?.taskId as string;
    const done = await settle(rpc, id);
    expect(done).toMatchObject({ taskId: id, status: 'completed', statusMessage: 'succeeded on h1 (exit code 0)' });
    expect(done.result).toMatchObject({ structuredContent: { task_id: id, state: 'succeeded', stdout: `tasks over ${transport}\n` } });
  });

  it('cancels a task with tasks/cancel: the remote process is gone and tasks/get says cancelled', async () => {
    const pattern = `sleep 97${marker}`;
    const created = await rpc('tools/call', { name: 'ssh_run', arguments: { alias: 'h1', command: pattern } });
    const id = created.result?.taskId as string;
    expect(await presentWithin(fleet.user, pattern)).not.toBe('');
    // sshgate's own tools take the same id.
    const status = await rpc('tools/call', { name: 'ssh_get_task_status', arguments: { task_id: id } });
    expect(status.result).toMatchObject({ structuredContent: { task_id: id, state: 'running' } });
    expect((await rpc('tasks/cancel', { taskId: id })).result).toMatchObject({ resultType: 'complete' });
    // The ack comes once the task has ended, its processes swept.
    expect(await goneWithin(fleet.user, pattern, 1000)).toBe(true);
    expect((await rpc('tasks/get', { taskId: id })).result).toMatchObject({ status: 'cancelled' });
  });

  it('refuses tasks/* to a request that did not declare the extension (-32021), and answers ssh_run as before', async () => {
    const plain = await rpc('tools/call', { name: 'ssh_run', arguments: { alias: 'h1', command: 'echo plain' } }, { tasks: false });
    expect(plain.result).toMatchObject({ structuredContent: { state: 'succeeded', stdout: 'plain\n' } });
    const id = (plain.result?.structuredContent as { task_id: string }).task_id;
    const refused = await rpc('tasks/get', { taskId: id }, { tasks: false });
    expect(refused.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS]: {} } } } });
    if (transport === 'http') expect(refused.status).toBe(400);
    expect((await rpc('tasks/get', { taskId: id })).result).toMatchObject({ status: 'completed' });
  });

  it('answers -32602 for a task id it does not know', async () => {
    for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
      expect((await rpc(method, { taskId: 'h1:0123456789ab:1' })).error?.code).toBe(-32602);
    }
  });

  it('runs ssh_run_on_tag as one task over its hosts', async () => {
    const created = await rpc('tools/call', { name: 'ssh_run_on_tag', arguments: { tag: '@all', command: 'echo fanned' } });
    expect(created.result).toMatchObject({ resultType: 'task', taskId: expect.stringMatching(/^fan-out:@all:/) });
    const done = await settle(rpc, created.result?.taskId as string);
    expect(done.result).toMatchObject({ structuredContent: { summary: { total: 1, succeeded: 1 }, results: [{ stdout: 'fanned\n' }] } });
  });
});

describe('over HTTP, two callers of the tokens file', () => {
  it("cannot see or cancel each other's tasks", async () => {
    const pattern = 'sleep 9730';
    const created = await overHttp('tools/call', { name: 'ssh_run', arguments: { alias: 'h1', command: pattern } });
    const id = created.result?.taskId as string;
    expect(await presentWithin(fleet.user, pattern)).not.toBe('');
    expect((await overHttp('tasks/get', { taskId: id }, { token: BOB })).error?.code).toBe(-32602);
    expect((await overHttp('tasks/cancel', { taskId: id }, { token: BOB })).error?.code).toBe(-32602);
    expect((await overHttp('tasks/get', { taskId: id })).result).toMatchObject({ status: 'working' });
    await overHttp('tasks/cancel', { taskId: id });
    expect(await goneWithin(fleet.user, pattern, 1000)).toBe(true);
  });
});

describe('a 2025-era client over stdio', () => {
  it('is not offered the extension, and tasks/get is -32601 there', async () => {
    const legacy = await startRawServer(dir, 'tasks-e2e-legacy');
    try {
      expect(legacy.initialized.result?.capabilities).not.toHaveProperty('extensions');
      expect((await legacy.request('tasks/get', { taskId: 'h1:0123456789ab:1' })).error?.code).toBe(-32601);
    } finally {
      await legacy.close();
    }
  });
});
