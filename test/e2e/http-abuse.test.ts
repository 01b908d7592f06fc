/**
 * sshgate over HTTP under abuse: connections held open without ever completing a request
 * (slowloris; no token needed), and clients that never end their sessions. Every address is
 * loopback here; a client's source address (127.0.0.2, 127.0.1.x, …) is what makes it another
 * client to the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerTo, openSession, send, toolCall, type Endpoint } from '../support/http-mcp.js';
import { goneWithin, pkillFleet, presentWithin, removeConfig, writeConfig } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const TOKEN = 'test-token-abuse-0123456789';
let fleet: Fleet;
let dir: string;
let server: ChildProcess;
let ep: Endpoint;
let log = '';

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 91 });
  dir = writeConfig(fleet, { hosts: fleet.hosts });
  server = spawn(
    process.execPath,
    [resolve('dist/cli.js'), 'serve', '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), '--http', '127.0.0.1:0'],
    {
      env: { PATH: process.env.PATH ?? '', SSHGATE_TOKEN: TOKEN, SSHGATE_STATE_DIR: join(dir, 'state') },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  server.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 200 && !/"port":(\d+)/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
  ep = { port: Number(/"port":(\d+)/.exec(log)?.[1]), token: TOKEN };
  expect(ep.port).toBeGreaterThan(0);
});

afterAll(async () => {
  server?.kill('SIGTERM');
  await new Promise((r) => server?.once('exit', r));
  if (fleet) pkillFleet(fleet.user, 'sleep 820[12]');
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

/**
 * Opens `count` connections from the given addresses (in turn), each sending the start of a
 * request and then nothing, and resolves once every one is connected or already closed.
 */
async function halfOpen(count: number, addresses: string[]): Promise<Socket[]> {
  const sockets: Socket[] = [];
  const settled: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect({ host: '127.0.0.1', port: ep.port, localAddress: addresses[i % addresses.length] });
    socket.on('error', () => undefined); // the server may close it at once
    socket.resume(); // reads what comes (a 408), so that the server's close is seen
    settled.push(
      new Promise((r) => {
        socket.once('connect', () => {
          socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${ep.port}\r\n`);
          r();
        });
        socket.once('close', () => r());
      }),
    );
    sockets.push(socket);
  }
  await Promise.all(settled);
  return sockets;
}

/** A whole MCP session from `localAddress`: initialize, a tools/call, DELETE; the call's stdout. */
async function legitimate(localAddress: string): Promise<unknown> {
  const o = { localAddress, totalTimeoutMs: 20_000 };
  const sessionId = await openSession(ep, o);
  const r = await send(ep, 'POST', toolCall(2, 'ssh_run', { alias: 'h1', command: `echo from ${localAddress}` }), { ...o, sessionId });
  expect((await send(ep, 'DELETE', undefined, { ...o, sessionId })).status).toBe(200);
  return (answerTo(r, 2)?.result as { structuredContent?: { stdout?: string } } | undefined)?.structuredContent?.stdout;
}

const stillOpen = (sockets: Socket[]) => sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;

describe('serve --http under a slowloris flood', () => {
  it('300 half-open connections from one address keep neither another address nor that one out, and are closed within the header timeout', async () => {
    const flood = await halfOpen(300, ['127.0.0.2']);
    try {
      // Another client: not affected by one address's flood at all.
      expect(await legitimate('127.0.0.3')).toBe('from 127.0.0.3\n');
      // The same address: at its limit, each new connection closes the flood's oldest half-open one.
      expect(await legitimate('127.0.0.2')).toBe('from 127.0.0.2\n');
      // What is left of the flood gets 408 and is closed once the header timeout (10 s) has passed.
      const deadline = Date.now() + 30_000;
      while (stillOpen(flood) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(stillOpen(flood)).toBe(0);
      expect(log).toContain('HTTP connections over the limits');
    } finally {
      flood.forEach((s) => s.destroy());
    }
  }, 90_000);

  it('300 half-open connections spread over ten addresses do not keep an eleventh out', async () => {
    const addresses = Array.from({ length: 10 }, (_, i) => `127.0.1.${i + 1}`);
    const flood = await halfOpen(300, addresses);
    try {
      expect(await legitimate('127.0.0.4')).toBe('from 127.0.0.4\n');
    } finally {
      flood.forEach((s) => s.destroy());
    }
  }, 90_000);
});

describe('serve --http with a full session table (100 per token)', () => {
  it('lets a new session in by closing the least recently used idle one, never one with a call in flight; the closed one gets 404', async () => {
    const run = (sessionId: string, id: number, command: string, name = 'ssh_run') =>
      send(ep, 'POST', toolCall(id, name, { alias: 'h1', command }), { sessionId, totalTimeoutMs: 120_000 });
    // The oldest session has a call in flight all along.
    const busy = await openSession(ep);
    const inFlight = run(busy, 2, 'sleep 8201');
    expect(await presentWithin(fleet.user, 'sleep 8201')).not.toBe('');
    // The next oldest is idle but has a task still running, started by ssh_run_async.
    const withTask = await openSession(ep);
    expect(answerTo(await run(withTask, 2, 'sleep 8202', 'ssh_run_async'), 2)).toMatchObject({
      result: { structuredContent: { state: expect.any(String) } },
    });
    // 98 more that are never ended, as a CLI run or a health probe leaves them: the table is full.
    const leaky: string[] = [];
    for (let i = 0; i < 98; i++) leaky.push(await openSession(ep));

    const fresh = await openSession(ep);
    expect(answerTo(await run(fresh, 2, 'echo fresh'), 2)).toMatchObject({ result: { structuredContent: { stdout: 'fresh\n' } } });
    // The least recently used idle session without tasks made room; a request for it gets 404,
    // which tells the client (MCP spec, session management) to start a new session.
    const gone = await send(ep, 'POST', toolCall(3, 'ssh_list_tasks', {}), { sessionId: leaky[0] });
    expect(gone.status).toBe(404);
    expect(JSON.parse(gone.body)).toMatchObject({
      error: {
        code: 'unknown_session',
        message: expect.stringMatching(/least recently used idle one/),
        hint: expect.stringMatching(/initialize/),
      },
    });
    // The next new session takes the next one's place.
    await openSession(ep);
    expect((await send(ep, 'POST', toolCall(3, 'ssh_list_tasks', {}), { sessionId: leaky[1] })).status).toBe(404);
    expect((await send(ep, 'POST', toolCall(3, 'ssh_list_tasks', {}), { sessionId: leaky[2] })).status).toBe(200);
    // The session with a task and the one with a call in flight are still there, their commands too.
    expect((await send(ep, 'POST', toolCall(3, 'ssh_list_tasks', {}), { sessionId: withTask })).status).toBe(200);
    expect(await presentWithin(fleet.user, 'sleep 8202')).not.toBe('');
    expect(await presentWithin(fleet.user, 'sleep 8201')).not.toBe('');
    expect((await send(ep, 'DELETE', undefined, { sessionId: busy })).status).toBe(200);
    await inFlight;
    expect((await send(ep, 'DELETE', undefined, { sessionId: withTask })).status).toBe(200);
    expect(await goneWithin(fleet.user, 'sleep 820[12]', 8000)).toBe(true);
  }, 120_000);
});
