import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newToken, tokenHash } from '../../src/auth/tokens.js';
import { Client, StreamableHTTPClientTransport, type ClientOptions } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerTo, holdStream, openSession, postBytes, send, toolCall, type Endpoint } from '../support/http-mcp.js';
import { TOOL_NAMES } from '../support/tools.js';
import { errorBody, goneWithin, pgrep, pkillFleet, removeConfig, writeConfig, presentWithin } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const TOKEN = 'test-token-0123456789abcdef';
/** Two callers of the tokens file, besides the one token of SSHGATE_TOKEN (principal http). */
const ALICE = newToken().token;
const BOB = newToken().token;
let fleet: Fleet;
let dir: string;
let server: ChildProcess;
let port: number;
let log = '';
let ep: Endpoint;

function serveArgs(extra: string[]): string[] {
  return [resolve('dist/cli.js'), 'serve', '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), ...extra];
}

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 69 });
  dir = writeConfig(fleet, { hosts: fleet.hosts });
  writeFileSync(
    join(dir, 'tokens.yml'),
    `tokens:\n  - { id: alice-1, principal: alice, sha256: ${tokenHash(ALICE)} }\n  - { id: bob-1, principal: bob, sha256: ${tokenHash(BOB)} }\n`,
    { mode: 0o600 },
  );
  server = spawn(process.execPath, serveArgs(['--http', '127.0.0.1:0', '--tokens-file', join(dir, 'tokens.yml')]), {
    env: { PATH: process.env.PATH ?? '', SSHGATE_TOKEN: TOKEN, SSHGATE_STATE_DIR: join(dir, 'state'), SSHGATE_SESSION_IDLE_SECONDS: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 100 && !/"port":(\d+)/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
  port = Number(/"port":(\d+)/.exec(log)?.[1]);
  expect(port).toBeGreaterThan(0);
  ep = { port, token: TOKEN };
});
afterAll(async () => {
  server?.kill('SIGTERM');
  await new Promise((r) => server?.once('exit', r));
  if (fleet) pkillFleet(fleet.user, 'sleep 810[0-9]');
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

async function connect(token = TOKEN, options: ClientOptions = {}): Promise<Client> {
  const client = new Client({ name: 'http-test', version: '1.0.0' }, options);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** A raw HTTP request, Host and Origin headers included (fetch cannot set Host). */
function raw(headers: Record<string, string>, body: unknown): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolveP, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        res.resume();
        resolveP({ status: res.statusCode ?? 0, headers: res.headers });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('serve --http', () => {
  it('answers a missing or wrong token with 401, and runs nothing', async () => {
    const call = {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'ssh_run', arguments: { alias: 'h1', command: 'sleep 340' } },
    };
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-0000000000' },
      { authorization: `Basic ${TOKEN}` },
    ];
    for (const headers of attempts) {
      const r = await raw({ host: `127.0.0.1:${port}`, ...headers }, call);
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toContain('Bearer');
    }
    await expect(connect('wrong-token-0000000000')).rejects.toThrow(/unauthorized/);
    expect(pgrep(fleet.user, 'sleep 340')).toBe('');
    expect(log).not.toContain('"event":"decision"');
  });

  it('refuses a Host header that does not name it, and a foreign Origin (DNS rebinding)', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await raw({ ...auth, host: `evil.example:${port}` }, initialize)).status).toBe(403);
    expect((await raw({ ...auth, host: `127.0.0.1:${port}`, origin: 'http://evil.example' }, initialize)).status).toBe(403);
    expect((await raw({ ...auth, host: `localhost:${port}` }, initialize)).status).toBe(200);
  });

  it('serves the tools to a client with the token', async () => {
    const client = await connect();
    try {
      expect((await client.listTools()).tools.length).toBe(TOOL_NAMES.length);
      const r = await client.callTool({ name: 'ssh_run', arguments: { alias: 'h1', command: 'echo over http' } });
      expect(r.structuredContent).toMatchObject({ state: 'succeeded', stdout: 'over http\n' });
    } finally {
      await client.close();
    }
  });

  it("keeps callers apart: one principal can neither see nor cancel another's task, nor use its session", async () => {
    const a = await connect(ALICE);
    const b = await connect(BOB);
    try {
      const started = await a.callTool({ name: 'ssh_run_async', arguments: { alias: 'h1', command: 'sleep 341' } });
      const id = (started.structuredContent as { task_id: string }).task_id;
      for (const name of ['ssh_get_task_status', 'ssh_cancel', 'ssh_get_task_output']) {
        const r = await b.callTool({ name, arguments: { task_id: id } });
        expect(r.isError, name).toBe(true);
        expect(errorBody(r).code).toBe('not_found');
      }
      const listed = await b.callTool({ name: 'ssh_list_tasks', arguments: {} });
      expect((listed.structuredContent as { tasks: unknown[] }).tasks).toEqual([]);
      // Bob with Alice's session id: as unknown as a session that never was.
      const sessionA = (a.transport as StreamableHTTPClientTransport | undefined)?.sessionId as string;
      const hijack = await send({ port, token: BOB }, 'POST', { jsonrpc: '2.0', id: 9, method: 'tools/list' }, { sessionId: sessionA });
      expect(hijack.status).toBe(404);
      const mine = await a.callTool({ name: 'ssh_cancel', arguments: { task_id: id } });
      expect(mine.structuredContent).toMatchObject({ result: 'cancelled' });
      expect(await goneWithin(fleet.user, 'sleep 341', 3000)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rereads the tokens file with the configuration, and keeps the old tokens when the new file is bad', async () => {
    const carol = newToken().token;
    const file = join(dir, 'tokens.yml');
    const before = readFileSync(file, 'utf8');
    const reload = async () => {
      const a = await connect(ALICE);
      try {
        return await a.callTool({ name: 'ssh_reload_config', arguments: {} });
      } finally {
        await a.close();
      }
    };
    try {
      writeFileSync(file, `${before}  - { id: carol-1, principal: carol, sha256: ${tokenHash(carol)} }\n`);
      expect((await reload()).isError).toBeFalsy();
      const c = await connect(carol);
      await c.close();
      writeFileSync(file, 'tokens: [ { id: broken } ]\n');
      expect((await reload()).isError).toBeFalsy();
      expect(log).toMatch(/the tokens file was not reloaded, the old tokens stay/);
      const again = await connect(carol);
      await again.close();
    } finally {
      writeFileSync(file, before);
      await reload();
    }
    await expect(connect(carol)).rejects.toThrow();
  });

  it("shares a principal's tasks between its sessions and its 2026-07-28 requests", async () => {
    const a = await connect(ALICE);
    const again = await connect(ALICE);
    const modern = await connect(ALICE, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    try {
      const started = await a.callTool({ name: 'ssh_run_async', arguments: { alias: 'h1', command: 'sleep 342' } });
      const id = (started.structuredContent as { task_id: string }).task_id;
      for (const other of [again, modern]) {
        const r = await other.callTool({ name: 'ssh_get_task_status', arguments: { task_id: id } });
        expect(r.structuredContent).toMatchObject({ task_id: id, state: 'running' });
      }
      const cancelled = await modern.callTool({ name: 'ssh_cancel', arguments: { task_id: id } });
      expect(cancelled.structuredContent).toMatchObject({ result: 'cancelled', final: true });
      expect(await goneWithin(fleet.user, 'sleep 342', 3000)).toBe(true);
    } finally {
      await a.close();
      await again.close();
      await modern.close();
    }
  });

  it('refuses a body over 1 MiB even without a Content-Length (chunked)', async () => {
    const status = await new Promise<number>((resolveP, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/mcp',
          method: 'POST',
          headers: {
            host: `127.0.0.1:${port}`,
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
            'transfer-encoding': 'chunked',
          },
        },
        (res) => {
          res.resume();
          resolveP(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let i = 0; i < 24; i++) req.write(chunk);
      req.end();
    });
    expect(status).toBe(413);
  });

  it("cancels a session's unfinished tasks when the session ends, or after it has been idle", async () => {
    const run = async (c: Client, n: string) =>
      (await c.callTool({ name: 'ssh_run_async', arguments: { alias: 'h1', command: `sleep ${n}` } })).structuredContent;
    const closing = await connect();
    await run(closing, '342');
    expect(await presentWithin(fleet.user, 'sleep 342')).not.toBe('');
    await (closing.transport as StreamableHTTPClientTransport).terminateSession();
    await closing.close();
    expect(await goneWithin(fleet.user, 'sleep 342', 3000)).toBe(true);

    const idle = await connect();
    await run(idle, '343');
    expect(await presentWithin(fleet.user, 'sleep 343')).not.toBe('');
    // A client that goes away without ending its session (its streams close, no DELETE): after
    // SSHGATE_SESSION_IDLE_SECONDS (2 s here) with nothing in flight, the session is closed.
    await idle.close();
    expect(await goneWithin(fleet.user, 'sleep 343', 6000)).toBe(true);
    expect(log).toContain('closing an idle MCP session');
  });

  it('keeps a long call alive: a client that gives up after 4 s without a byte completes a 9 s ssh_run', async () => {
    const sessionId = await openSession(ep);
    // Keepalives come every 2 s: 4 s leaves a busy machine room for one late one.
    const r = await send(ep, 'POST', toolCall(2, 'ssh_run', { alias: 'h1', command: 'sleep 9; echo slept' }), {
      sessionId,
      readTimeoutMs: 4000,
    });
    expect(answerTo(r, 2)).toMatchObject({ result: { structuredContent: { state: 'succeeded', stdout: 'slept\n' } } });
    // What kept it alive: SSE comments, which every SSE client skips.
    expect(r.comments).toBeGreaterThan(0);
    expect((await send(ep, 'DELETE', undefined, { sessionId })).status).toBe(200);
  });

  it('cancels a call whose client closed the connection in the same tick as it sent it, 10 times in a row', async () => {
    const sessionId = await openSession(ep);
    // Its own GET stream keeps the session from closing when idle (which would cancel its tasks too).
    const release = await holdStream(ep, sessionId);
    for (let i = 0; i < 10; i++) {
      // The whole POST in one write, then the socket closed at once: the client has gone before
      // sshgate has read the call, let alone started listening for its end.
      await new Promise<void>((resolveP, reject) => {
        const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
          socket.write(postBytes(ep, toolCall(10 + i, 'ssh_run', { alias: 'h1', command: `sleep ${8100 + i}` }), sessionId));
          socket.destroy();
          resolveP();
        });
        socket.once('error', reject);
      });
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(await goneWithin(fleet.user, 'sleep 810[0-9]', 8000), pgrep(fleet.user, 'sleep 810')).toBe(true);
    // The control: every call reached sshgate and became a task, and every task ended cancelled.
    let states: string[] = [];
    for (let tries = 0; tries < 100; tries++) {
      const listed = await send(ep, 'POST', toolCall(99, 'ssh_list_tasks', { limit: 100 }), { sessionId });
      expect(answerTo(listed, 99), listed.body).toBeDefined();
      const tasks = ((answerTo(listed, 99)?.result as CallToolResult).structuredContent as { tasks: { command: string; state: string }[] })
        .tasks;
      states = tasks.filter((t) => /^sleep 810\d$/.test(t.command)).map((t) => t.state);
      if (states.length === 10 && states.every((s) => s === 'cancelled')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(states).toEqual(Array(10).fill('cancelled'));
    release();
    expect((await send(ep, 'DELETE', undefined, { sessionId })).status).toBe(200);
  });

  it('refuses to start without a token, or with a short one', () => {
    const env = { PATH: process.env.PATH ?? '' };
    const none = spawnSync(process.execPath, serveArgs(['--http', '127.0.0.1:0']), { env, encoding: 'utf8', timeout: 10_000 });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('SSHGATE_TOKEN');
    const short = spawnSync(process.execPath, serveArgs(['--http', '0.0.0.0:0']), {
      env: { ...env, SSHGATE_TOKEN: 'short' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(short.status).toBe(2);
    expect(short.stderr).toContain('at least 16 characters');
  });
});
