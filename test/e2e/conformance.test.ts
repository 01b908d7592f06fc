/**
 * What the MCP specification asks of a server, checked on the wire: JSON-RPC -32602 for an unknown
 * tool, a malformed tools/call and a cursor this server never gave, with messages a person can
 * read; schemas that strict checkers take without warnings; serverInfo.title; fan-out progress
 * with its total.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW_ALL_POLICY, removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { startRawServer, type RawServer, type WireMessage } from '../support/raw-stdio.js';
import { startFleet, type Fleet } from '../support/sshd.js';
import { TOOL_NAMES } from '../support/tools.js';

let fleet: Fleet;
let dir: string;
let server: RawServer;
let gate: Gate;
let init: WireMessage;
let progressOf: (p: { progress: number; total?: number }) => void = () => undefined;
const request = (method: string, params?: unknown) => server.request(method, params);

beforeAll(async () => {
  fleet = await startFleet(2, { subnet: 82 });
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: ALLOW_ALL_POLICY });
  server = await startRawServer(dir, 'conformance');
  server.onNotification((m) => {
    if (m.method === 'notifications/progress' && m.params) progressOf(m.params as { progress: number; total?: number });
  });
  init = server.initialized;
  gate = await startGate(dir);
});

afterAll(async () => {
  await server?.close();
  await gate?.close();
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

describe('JSON-RPC errors', () => {
  it.each([
    ['an unknown tool', { name: 'ssh_nope', arguments: {} }, 'unknown tool "ssh_nope"'],
    ['arguments that are not an object', { name: 'ssh_list_hosts', arguments: ['x'] }, 'params.arguments must be an object'],
    ['arguments that are a string', { name: 'ssh_list_hosts', arguments: 'tag=x' }, 'params.arguments must be an object'],
    ['no tool name', { arguments: {} }, 'params.name must be the name of a tool'],
    ['a name that is no string', { name: 7 }, 'params.name must be the name of a tool'],
  ])('answers %s with -32602 and a readable message', async (_, params, message) => {
    const a = await request('tools/call', params);
    expect(a.result).toBeUndefined();
    expect(a.error?.code).toBe(-32602);
    expect(a.error?.message).toContain(message);
    // No schema dump: one sentence, not a serialised list of zod issues.
    expect(a.error?.message).not.toMatch(/"code":|expected|\[\s*\{/);
    expect(a.error?.message.length).toBeLessThan(200);
  });

  it('never cuts a message inside a surrogate pair: no lone half reaches the wire', async () => {
    const name = `${'x'.repeat(119)}😀`;
    const a = await request('tools/call', { name, arguments: {} });
    expect(a.error?.code).toBe(-32602);
    expect(a.error?.message).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    const plan = await request('tools/call', { name: 'ssh_plan', arguments: { alias: 'h1', command: `echo ${'a'.repeat(993)}😀b` } });
    expect(JSON.stringify(plan)).not.toMatch(/\\ud83d(?!\\ude00)/);
  });

  it('answers a tools/list cursor it never gave with -32602, not the full list', async () => {
    const a = await request('tools/list', { cursor: 'bogus' });
    expect(a.result).toBeUndefined();
    expect(a.error?.code).toBe(-32602);
    expect(a.error?.message).toContain('invalid cursor');
  });

  it('still answers a well-formed call and a plain tools/list', async () => {
    const list = await request('tools/list');
    expect((list.result?.tools as { name: string }[]).map((t) => t.name).sort()).toEqual([...TOOL_NAMES]);
    const hosts = await request('tools/call', { name: 'ssh_list_hosts', arguments: {} });
    expect(hosts.result?.isError).toBeUndefined();
    const bad = await request('tools/call', { name: 'ssh_list_hosts', arguments: { tag: 5 } });
    // Arguments the tool's schema refuses stay a tool error the model can read and correct.
    expect(bad.result?.isError).toBe(true);
  });
});

describe('what tools/list and initialize publish', () => {
  it('names the server with a title', () => {
    expect(init.result?.serverInfo).toMatchObject({ name: 'sshgate', title: expect.stringContaining('sshgate') });
  });

  it("says in ssh_plan's schema that exactly one of alias and tag is required", async () => {
    const list = await request('tools/list');
    const plan = (list.result?.tools as { name: string; inputSchema: Record<string, unknown> }[]).find((t) => t.name === 'ssh_plan');
    expect(plan?.inputSchema.oneOf).toEqual([{ required: ['alias'] }, { required: ['tag'] }]);
  });

  it('publishes output schemas without nullable types: a field with nothing to say is optional and absent', async () => {
    const list = await request('tools/list');
    for (const tool of list.result?.tools as { name: string; outputSchema: unknown }[]) {
      const text = JSON.stringify(tool.outputSchema);
      expect(text, tool.name).not.toContain('"null"');
    }
    const started = await gate.ok<{ task_id: string }>('ssh_run_async', { alias: 'h1', command: 'sleep 1' });
    const status = await gate.ok<Record<string, unknown>>('ssh_get_task_status', { task_id: started.task_id });
    expect(status).not.toHaveProperty('ended_at');
    expect(status).not.toHaveProperty('exit_code');
    expect(Object.values(status)).not.toContain(null);
  });
});

describe('progress', () => {
  it('carries the total on ssh_run_on_tag, and every notification comes before the result', async () => {
    // Read on the wire: the TypeScript SDK's client drops a progress notification that shares a
    // read with the result (it handles notifications a microtask late).
    const seen: { progress: number; total?: number }[] = [];
    progressOf = (p) => seen.push(p);
    const a = await request('tools/call', {
      name: 'ssh_run_on_tag',
      arguments: { tag: 'test', command: 'true' },
      _meta: { progressToken: 'fan' },
    });
    expect(a.result?.isError).toBeUndefined();
    expect(seen, JSON.stringify(seen)).toHaveLength(2);
    expect(seen.every((p) => p.total === 2)).toBe(true);
    expect(seen.map((p) => p.progress).sort()).toEqual([1, 2]);
  });
});
