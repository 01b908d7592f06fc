/**
 * A broken stream resumes instead of losing the result (2025-era HTTP): the SDK's own client calls
 * ssh_run, its POST's stream breaks after the first event, and the client picks it up again with
 * `GET` and `Last-Event-ID`. The command runs on, once, and its result arrives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, toolCalls, writeConfig } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const TOKEN = randomBytes(24).toString('hex');
let fleet: Fleet;
let dir: string;
let server: ChildProcess;
let port: number;
let log = '';

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 93 });
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
  for (let i = 0; i < 600 && !/"port":(\d+)/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
  port = Number(/"port":(\d+)/.exec(log)?.[1]);
  if (!(port > 0)) throw new Error(`serve --http did not start:\n${log}`);
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

/** fetch, except that the first tools/call's stream breaks after its first event (the connection is cut). */
function breakingFirstCall(): { fetch: typeof fetch; broke: () => boolean; resumes: () => number } {
  let broken = false;
  let resumes = 0;
  const f: typeof fetch = async (url, init) => {
    const headers = new Headers(init?.headers);
    if ((init?.method ?? 'GET') === 'GET' && headers.has('last-event-id')) resumes++;
    const body = typeof init?.body === 'string' ? init.body : '';
    if (broken || !body.includes('"tools/call"')) return fetch(url, init);
    broken = true;
    const cut = new AbortController();
    const res = await fetch(url, { ...init, signal: cut.signal });
    const first = await (res.body as ReadableStream<Uint8Array>).getReader().read();
    cut.abort();
    // The first event is read, then the connection breaks (an error in start would drop it).
    let delivered = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (delivered || !first.value) return c.error(new TypeError('the connection broke'));
        delivered = true;
        c.enqueue(first.value);
      },
    });
    return new Response(stream, { status: res.status, headers: res.headers });
  };
  return { fetch: f, broke: () => broken, resumes: () => resumes };
}

describe('a broken 2025-era stream', { timeout: 60_000 }, () => {
  it('is resumed with Last-Event-ID, and the call in flight runs on once and answers', async () => {
    const net = breakingFirstCall();
    const client = new Client({ name: 'resume-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
        requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
        fetch: net.fetch,
        reconnectionOptions: { initialReconnectionDelay: 200, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1.5, maxRetries: 5 },
      }),
    );
    try {
      const r = await toolCalls(client).ok<{ stdout: string; state: string }>('ssh_run', { alias: 'h1', command: 'sleep 2; echo resumed' });
      expect(net.broke()).toBe(true);
      expect(net.resumes()).toBeGreaterThan(0);
      expect(r).toMatchObject({ state: 'succeeded', stdout: 'resumed\n' });
      // It ran once: one decision for it in the audit.
      expect(log.match(/"command":"sleep 2; echo resumed"[^\n]*"msg":"allowed"/g)).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});
