/**
 * `serve --http` as an OAuth 2.1 resource server, end to end: a local authorization server on
 * loopback signs access tokens; sshgate serves its protected-resource metadata (RFC 9728), refuses
 * a request without a token or with a bad one (401 and a WWW-Authenticate naming the metadata),
 * and serves a good one's caller under its own name and roles, in both protocol eras.
 */
import { Client, StreamableHTTPClientTransport, type ClientOptions } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, toolCalls, writeConfig } from '../support/mcp.js';
import { startIssuer, type TestIssuer } from '../support/oauth-issuer.js';
import { startServeHttp, type ServeHttp } from '../support/serve-http.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const POLICY = `
rules:
  - { name: "anyone", action: allow, commands: ["uptime"] }
  - { name: "ops restart", action: allow, commands: ["systemctl restart *"], callers: [role:ops] }
`;

let fleet: Fleet;
let dir: string;
let issuer: TestIssuer;
let server: ServeHttp | undefined;
let base: string;
let resource: string;

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 96 });
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
  issuer = await startIssuer();
  // The resource URI names the server as its clients reach it; the port is only known once it
  // listens, so the test picks a free one first.
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  resource = `${base}/mcp`;
  server = await startServeHttp(dir, { port, args: ['--oauth-issuer', issuer.issuer, '--oauth-resource', resource] });
});

afterAll(async () => {
  await server?.stop();
  await issuer?.close();
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolveP) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolveP(port));
    });
  });
}

function post(token: string | undefined): Promise<Response> {
  return fetch(resource, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
}

async function connect(token: string, options: ClientOptions): Promise<Client> {
  const client = new Client({ name: 'oauth-test', version: '1.0.0' }, options);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
  );
  return client;
}

describe('serve --http with an OAuth issuer', { timeout: 60_000 }, () => {
  it('serves its protected-resource metadata without a token (RFC 9728)', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(200);
      expect(await r.json()).toMatchObject({ resource, authorization_servers: [issuer.issuer] });
    }
  });

  it('refuses a request without a token with 401 and where to learn how to get one', async () => {
    const r = await post(undefined);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);
  });

  it.each([
    ['expired', { aud: 'RESOURCE', sub: 'alice', exp: Math.floor(Date.now() / 1000) - 600 }],
    ['for another resource', { aud: 'http://127.0.0.1:1/mcp', sub: 'alice' }],
    ['from another issuer', { aud: 'RESOURCE', sub: 'alice', iss: 'http://127.0.0.1:2' }],
  ])('refuses an access token %s with 401 invalid_token, and nothing runs', async (_, claims) => {
    const token = await issuer.mint({ ...claims, aud: claims.aud === 'RESOURCE' ? resource : claims.aud });
    const r = await post(token);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+", error="invalid_token"/);
    expect(await r.text()).not.toContain(token);
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const token = `${part({ alg: 'none', typ: 'JWT' })}.${part({ iss: issuer.issuer, aud: resource, sub: 'alice', roles: ['ops'], exp: now + 300 })}.`;
    expect((await post(token)).status).toBe(401);
  });

  it.each([
    ['2026-07-28', { versionNegotiation: { mode: { pin: '2026-07-28' } } }],
    ['2025-11-25', {}],
  ] as const)("serves a good token's caller by its name and roles at %s", async (_, options) => {
    const ops = await connect(await issuer.mint({ aud: resource, sub: 'alice', roles: ['ops'] }), options);
    const plain = await connect(await issuer.mint({ aud: resource, sub: 'bob' }), options);
    try {
      const cmd = { alias: 'h1', command: 'systemctl restart nginx' };
      expect(await toolCalls(ops).ok('ssh_plan', cmd)).toMatchObject({ allowed: true, caller: { name: 'alice', roles: ['ops'] } });
      expect(await toolCalls(plain).ok('ssh_plan', cmd)).toMatchObject({ allowed: false, caller: { name: 'bob', roles: [] } });
    } finally {
      await ops.close();
      await plain.close();
    }
  });
});
