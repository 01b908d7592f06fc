/**
 * Every protocol revision the SDK serves, over stdio and over HTTP, through the SDK's own client:
 * the stateless 2026-07-28 revision and the 2025-era handshakes (2025-11-25, 2025-06-18,
 * 2025-03-26, 2024-11-05). Each lists the tools, runs a command, reads an async task's output,
 * cancels it and sees its remote process gone.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport, type ClientOptions } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goneWithin, pkillFleet, presentWithin, removeConfig, startGate, toolCalls, writeConfig, type ToolCalls } from '../support/mcp.js';
import { startServeHttp, type ServeHttp } from '../support/serve-http.js';
import { startFleet, type Fleet } from '../support/sshd.js';
import { TOOL_NAMES } from '../support/tools.js';

const TOKEN = randomBytes(24).toString('hex');

let fleet: Fleet;
let dir: string;
let server: ServeHttp | undefined;
let port: number;

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 95 });
  dir = writeConfig(fleet, { hosts: fleet.hosts });
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  server = await startServeHttp(dir, { env: { SSHGATE_TOKEN: TOKEN } });
  port = server.port;
});

afterAll(async () => {
  await server?.stop();
  if (fleet) pkillFleet(fleet.user, 'sleep 95[0-9][0-9]');
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

const ERAS: { revision: string; options: ClientOptions }[] = [
  { revision: '2026-07-28', options: { versionNegotiation: { mode: { pin: '2026-07-28' } } } },
  { revision: '2025-11-25', options: {} },
  { revision: '2025-06-18', options: { supportedProtocolVersions: ['2025-06-18'] } },
  { revision: '2025-03-26', options: { supportedProtocolVersions: ['2025-03-26'] } },
  { revision: '2024-11-05', options: { supportedProtocolVersions: ['2024-11-05'] } },
];
const CASES = (['stdio', 'http'] as const).flatMap((transport, t) => ERAS.map((era, e) => ({ transport, ...era, marker: `95${t}${e}` })));

/** A connected client of the transport, in the era. */
async function connect(
  transport: 'stdio' | 'http',
  options: ClientOptions,
): Promise<{ client: Client; tools: ToolCalls; close(): Promise<void> }> {
  if (transport === 'stdio') {
    const gate = await startGate(dir, {}, [], options);
    return { client: gate.client, tools: gate, close: () => gate.close() };
  }
  const client = new Client({ name: 'eras-test', version: '1.0.0' }, options);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
    }),
  );
  return { client, tools: toolCalls(client), close: () => client.close() };
}

describe.each(CASES)('$transport at $revision', { timeout: 60_000 }, ({ transport, revision, options, marker }) => {
  let c: Awaited<ReturnType<typeof connect>>;
  beforeAll(async () => {
    c = await connect(transport, options);
  });
  afterAll(() => c?.close());

  it('agrees on the revision and lists every tool', async () => {
    expect(c.client.getNegotiatedProtocolVersion()).toBe(revision);
    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES]);
  });

  it('runs a command', async () => {
    const r = await c.tools.ok<{ exit_code: number; stdout: string }>('ssh_run', { alias: 'h1', command: `echo ${revision}` });
    expect(r).toMatchObject({ exit_code: 0, stdout: `${revision}\n` });
  });

  it("reads an async task's output, cancels it, and its remote process is gone", async () => {
    const pattern = `sleep ${marker}`;
    const { task_id } = await c.tools.ok<{ task_id: string }>('ssh_run_async', { alias: 'h1', command: `echo started; ${pattern}` });
    const out = await c.tools.ok<{ stdout: string }>('ssh_get_task_output', { task_id, wait_seconds: 10 });
    expect(out.stdout).toBe('started\n');
    expect(await presentWithin(fleet.user, pattern)).not.toBe('');
    const cancel = await c.tools.ok<{ result: string; state: string; final: boolean }>('ssh_cancel', { task_id });
    expect(cancel).toMatchObject({ result: 'cancelled', state: 'cancelled', final: true });
    expect(await goneWithin(fleet.user, pattern, 5000)).toBe(true);
  });
});

describe('a revision sshgate does not serve', () => {
  it('is answered over HTTP with -32022 and the revisions it does serve', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2099-01-01',
        'mcp-method': 'tools/list',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01', 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
    const body = (await r.json()) as { error?: { code: number; data?: { supported?: string[] } } };
    expect(body.error?.code).toBe(-32022);
    expect(body.error?.data?.supported).toContain('2026-07-28');
  });
});
