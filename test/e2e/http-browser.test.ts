/**
 * A browser-based MCP client, in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): a page from an origin in SSHGATE_ALLOWED_ORIGINS completes a whole session
 * with fetch(), CORS preflights and all; from any other origin the browser's fetch fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../support/http-mcp.js';
import { removeConfig, writeConfig } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';
import { TOOL_NAMES } from '../support/tools.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'test-token-browser-0123456789';
let fleet: Fleet;
let dir: string;
let server: ChildProcess;
let port: number;
let log = '';
let browser: Browser | undefined;
/** The pages' own servers: one at the allowed origin, one at another. */
const pages: Server[] = [];
let allowed: string;
let refused: string;

async function pageServer(host: string): Promise<string> {
  const s = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>an agent in a browser</title>'),
  );
  pages.push(s);
  await new Promise<void>((r) => s.listen(0, host, r));
  return `http://${host}:${(s.address() as { port: number }).port}`;
}

/**
 * Chromium starts in the hook, not the test: its first start on a fresh machine (profile, font
 * cache) beside another test file's load took most of the 30 s a test gets (a CI run timed out).
 */
async function launchBrowser(): Promise<Browser> {
  // A missing browser fails the file, saying what to install; it never skips it.
  if (!existsSync(CHROMIUM))
    throw new Error(`this test needs Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run installs it when it is missing)`);
  // Chromium's sandbox cannot run as root.
  return chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
}

beforeAll(async () => {
  const launching = launchBrowser();
  // Settled here so that a failed launch is not an unhandled rejection while the fleet starts.
  launching.catch(() => undefined);
  allowed = await pageServer('127.0.0.1');
  refused = await pageServer('127.0.0.2');
  fleet = await startFleet(1, { subnet: 92 });
  dir = writeConfig(fleet, { hosts: fleet.hosts });
  server = spawn(
    process.execPath,
    [resolve('dist/cli.js'), 'serve', '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), '--http', '127.0.0.1:0'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        SSHGATE_TOKEN: TOKEN,
        SSHGATE_STATE_DIR: join(dir, 'state'),
        SSHGATE_ALLOWED_ORIGINS: `https://agent.example.com,${allowed}`,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  server.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 200 && !/"port":(\d+)/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
  port = Number(/"port":(\d+)/.exec(log)?.[1]);
  expect(port).toBeGreaterThan(0);
  browser = await launching;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (server) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  await fleet?.stop();
  if (dir) removeConfig(dir);
  for (const s of pages) s.close();
});

/** What a page at `origin` gets from a whole MCP session over fetch(): one line per step. */
async function sessionFrom(origin: string): Promise<{ steps: string[]; error?: string }> {
  if (!browser) throw new Error('Chromium did not start (see beforeAll)');
  const page: Page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(
      async ({ url, token, version, from }) => {
        const steps: string[] = [];
        const base = {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${token}`,
        };
        // A step that hangs fails as itself, with the steps before it, not as the test's timeout.
        const post = (headers: Record<string, string>, message: unknown) =>
          fetch(url, { method: 'POST', headers, body: JSON.stringify(message), signal: AbortSignal.timeout(15_000) });
        /** The last JSON-RPC message of an SSE or JSON answer. */
        const last = async (r: Response) => {
          const text = await r.text();
          if ((r.headers.get('content-type') ?? '').startsWith('application/json')) return JSON.parse(text);
          const data = text.split('\n').filter((l) => l.startsWith('data: '));
          return JSON.parse(data[data.length - 1]?.slice(6) ?? 'null');
        };
        try {
          const wrong = await post({ ...base, authorization: 'Bearer wrong-token-000000000000' }, {});
          steps.push(`wrong token: ${wrong.status} ${wrong.headers.get('www-authenticate')}`);
          const init = await post(base, {
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'browser', version: '1' } },
          });
          const sessionId = init.headers.get('mcp-session-id');
          steps.push(
            `initialize: ${init.status} ${(await last(init)).result.serverInfo.name}, session id ${sessionId ? 'read' : 'hidden'}`,
          );
          const headers = { ...base, 'mcp-session-id': sessionId ?? '', 'mcp-protocol-version': version };
          steps.push(`initialized: ${(await post(headers, { jsonrpc: '2.0', method: 'notifications/initialized' })).status}`);
          const tools = await post(headers, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
          steps.push(`tools/list: ${tools.status} ${(await last(tools)).result.tools.length} tools`);
          const call = await post(headers, {
            jsonrpc: '2.0',
            id: 3,
            method: 'tools/call',
            params: { name: 'ssh_run', arguments: { alias: 'h1', command: `echo from ${from}` } },
          });
          steps.push(`tools/call: ${call.status} ${JSON.stringify((await last(call)).result.structuredContent.stdout)}`);
          steps.push(`DELETE: ${(await fetch(url, { method: 'DELETE', headers, signal: AbortSignal.timeout(15_000) })).status}`);
        } catch (err) {
          return { steps, error: String(err) };
        }
        return { steps };
      },
      { url: `http://127.0.0.1:${port}/mcp`, token: TOKEN, version: PROTOCOL_VERSION, from: new URL(origin).host },
    );
  } finally {
    await page.close();
  }
}

/** A raw preflight, as a browser sends it before a POST with an Authorization header. */
function preflight(origin: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolveP, reject) => {
    const headers = {
      host: `127.0.0.1:${port}`,
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,mcp-session-id',
    };
    const req = request({ host: '127.0.0.1', port, path: '/mcp', method: 'OPTIONS', headers }, (res) => {
      res.resume();
      resolveP({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve --http and a browser', () => {
  it('answers the preflight of an allowed origin without a token, and refuses any other origin with 403 and no CORS headers', async () => {
    const ok = await preflight(allowed);
    expect(ok.status).toBe(204);
    expect(ok.headers).toMatchObject({
      'access-control-allow-origin': allowed,
      'access-control-allow-methods': 'POST, GET, DELETE, OPTIONS',
      'access-control-allow-headers':
        'content-type, authorization, mcp-session-id, mcp-protocol-version, mcp-method, mcp-name, last-event-id',
      'access-control-max-age': expect.stringMatching(/^\d+$/),
      vary: 'Origin',
    });
    const no = await preflight(refused);
    expect(no.status).toBe(403);
    expect(Object.keys(no.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('lets a page from an allowed origin complete a session with fetch(), and fails the fetch of a page from another', async () => {
    const { steps, error } = await sessionFrom(allowed);
    expect(error, `after ${JSON.stringify(steps)}; the server's log ends:\n${log.slice(-3000)}`).toBeUndefined();
    expect(steps).toEqual([
      'wrong token: 401 Bearer realm="sshgate"',
      'initialize: 200 sshgate, session id read',
      'initialized: 202',
      `tools/list: 200 ${TOOL_NAMES.length} tools`,
      `tools/call: 200 ${JSON.stringify(`from ${new URL(allowed).host}\n`)}`,
      'DELETE: 200',
    ]);
    // Another origin: the preflight is refused, so the browser sends nothing that could run.
    const other = await sessionFrom(refused);
    expect(other.steps).toEqual([]);
    expect(other.error).toMatch(/TypeError: Failed to fetch/);
    expect(log).not.toContain(new URL(refused).host);
  }, 75_000);
});
