/**
 * MCP over Streamable HTTP at `/mcp`. Every request must carry the bearer token (compared in
 * constant time) and a Host header naming this server, and a browser's Origin must be one that was
 * allowed: a web page cannot reach sshgate through DNS rebinding. Each MCP session gets its own
 * server over a view of the gateway that sees only the session's own tasks.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import { createServer } from './server.js';

export interface HttpOptions {
  host: string;
  port: number;
  token: string;
  gateway: Gateway;
  logger: Logger;
  version: string;
  /** More Host header values to accept (a reverse proxy's name), beyond the bound address. */
  allowedHosts?: readonly string[];
  /** Origins a browser-based client may come from; none by default. */
  allowedOrigins?: readonly string[];
  maxSessions?: number;
}

export interface HttpHandle {
  /** The address actually bound (port 0 picks one). */
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1_048_576;

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export async function startHttp(o: HttpOptions): Promise<HttpHandle> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const maxSessions = o.maxSessions ?? 100;
  const tokenDigest = digest(o.token);
  let hosts: Set<string> = new Set();

  const refuse = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ error: { code, message } }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/mcp') return refuse(res, 404, 'not_found', 'MCP is served at /mcp');
    if (!hosts.has((req.headers.host ?? '').toLowerCase())) {
      return refuse(res, 403, 'forbidden_host', 'the Host header does not name this server');
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !(o.allowedOrigins ?? []).includes(origin)) {
      return refuse(res, 403, 'forbidden_origin', 'requests from this Origin are not allowed');
    }
    if (!authorized(req.headers.authorization, tokenDigest)) {
      return refuse(res, 401, 'unauthorized', 'a valid bearer token is required', { 'www-authenticate': 'Bearer realm="sshgate"' });
    }
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return refuse(res, 413, 'too_large', 'the request body is too large');

    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const transport = sessions.get(sessionId);
      if (!transport) return refuse(res, 404, 'unknown_session', 'no such MCP session; initialize a new one');
      return transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return refuse(res, 400, 'no_session', 'send an initialize request first');
    if (sessions.size >= maxSessions) return refuse(res, 503, 'too_many_sessions', 'too many open MCP sessions; close one (DELETE /mcp)');
    // A new session: its id is chosen here, so that its gateway view exists before its first call.
    const id = randomUUID();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
      onsessionclosed: (sid) => void sessions.delete(sid),
    });
    transport.onclose = () => sessions.delete(id);
    const server = createServer({ gateway: o.gateway.forOwner(id), logger: o.logger, version: o.version });
    await server.connect(transport);
    await transport.handleRequest(req, res);
    if (!transport.sessionId) await server.close();
  };

  const http: HttpServer = createHttpServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.logger.error({ err }, 'HTTP request failed');
      if (!res.headersSent) refuse(res, 500, 'internal', 'the request failed; see the server log');
      else res.end();
    });
  });
  http.requestTimeout = 0; // long polls and SSE streams stay open; each call has its own limits
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(o.port, o.host, () => resolve());
  });
  const port = (http.address() as { port: number }).port;
  hosts = allowedHostHeaders(o.host, port, o.allowedHosts ?? []);
  o.logger.info({ host: o.host, port }, 'sshgate serving MCP over HTTP at /mcp');
  return {
    port,
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close().catch(() => undefined)));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

/** The Host header values that name this server: the bound address, and loopback's other names. */
function allowedHostHeaders(host: string, port: number, extra: readonly string[]): Set<string> {
  const names = new Set([host.includes(':') ? `[${host}]` : host]);
  if (isLoopback(host)) for (const n of ['localhost', '127.0.0.1', '[::1]']) names.add(n);
  const out = new Set<string>();
  for (const n of names) out.add(`${n}:${port}`.toLowerCase());
  for (const e of extra) out.add(e.toLowerCase());
  return out;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Compares digests, so that neither the token's length nor its content shows in the timing. */
function authorized(header: string | undefined, expected: Buffer): boolean {
  const m = /^Bearer (\S+)$/i.exec(header ?? '');
  return timingSafeEqual(digest(m?.[1] ?? ''), expected) && m !== null;
}
