/**
 * A broken stream resumes instead of losing the result (2025-era HTTP): the SDK's own client calls
 * ssh_run, its POST's stream breaks after the first event, and the client picks it up again with
 * `GET` and `Last-Event-ID`. The command runs on, once, and its result arrives.
 */
import { randomBytes } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, toolCalls, writeConfig } from '../support/mcp.js';
import { startServeHttp, type ServeHttp } from '../support/serve-http.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const TOKEN = randomBytes(24).toString('hex');
let fleet: Fleet;
let dir: string;
let server: ServeHttp | undefined;
let port: number;

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 93 });
  dir = writeConfig(fleet, { hosts: fleet.hosts });
  server = await startServeHttp(dir, { env: { SSHGATE_TOKEN: TOKEN } });
  port = server.port;
});

afterAll(async () => {
  await server?.stop();
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
      expect(server?.log().match(/"command":"sleep 2; echo resumed"[^\n]*"msg":"allowed"/g)).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});
