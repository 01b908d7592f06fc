/**
 * MCP over Streamable HTTP at `/mcp`. Every request must carry the bearer token (compared in
 * constant time) and a Host header naming this server, and a browser's Origin must be one that was
 * allowed: a web page cannot reach sshgate through DNS rebinding. A page from an allowed origin
 * gets the CORS answers it needs (a preflight carries no token). A 2026-07-28 request is stateless:
 * the SDK's handler answers it from a server built for that request. A 2025-era client opens a
 * session (initialize): each session gets its own server over a view of the gateway that sees only
 * the session's own tasks.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { NodeStreamableHTTPServerTransport, toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import { createMcpHandler, isLegacyRequest, type AuthInfo } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { Authenticator, AuthResult } from '../auth/authenticator.js';
import { isApprovalsPath, serveApprovals } from './approvals-endpoint.js';
import { clip, SshgateError } from '../errors.js';
import type { Principal } from '../principal.js';
import type { Gateway } from '../gateway/gateway.js';
import { AbandonedCalls, requestIds } from './abandoned-calls.js';
import { EventBudget, SessionEvents } from './event-store.js';
import { guardConnections } from './http-connections.js';
import { MAX_SESSIONS_PER_PRINCIPAL, SessionTable } from './http-sessions.js';
import { createServer } from './server.js';
import { TaskHandles } from './tasks-extension.js';

export interface HttpOptions {
  host: string;
  port: number;
  /** The one token of --token-file (or SSHGATE_TOKEN), whose caller is `principal`. */
  token?: string;
  /** The tokens file and OAuth access tokens (src/auth), checked after `token`. */
  auth?: Authenticator;
  gateway: Gateway;
  logger: Logger;
  version: string;
  /** More Host header values to accept (a reverse proxy's name), beyond the bound address. */
  allowedHosts?: readonly string[];
  /** Origins a browser-based client may come from; none by default. */
  allowedOrigins?: readonly string[];
  /** Open sessions per bearer token (default MAX_SESSIONS_PER_PRINCIPAL). */
  maxSessions?: number;
  /** Open connections per client address (default MAX_CONNECTIONS_PER_CLIENT). */
  maxConnectionsPerClient?: number;
  /** Open connections in all (default MAX_CONNECTIONS). */
  maxConnections?: number;
  /** Close a session with no request in flight after this long (default SESSION_IDLE_MS). */
  sessionIdleMs?: number;
  /** Who a request with `token` is (default HTTP_PRINCIPAL, no roles). */
  principal?: { name: string; roles: readonly string[] };
}

/** The principal of the bearer token when no other name is given. */
export const HTTP_PRINCIPAL = 'http';

export interface HttpHandle {
  /** The address actually bound (port 0 picks one). */
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1_048_576;
/**
 * A request's headers must arrive within HEADERS_TIMEOUT_MS of its start, and the whole request,
 * body included, within REQUEST_TIMEOUT_MS (node answers 408 and closes the connection); the
 * answer is not limited, so SSE streams and long calls stay open. Node checks every
 * TIMEOUT_CHECK_MS.
 */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
const TIMEOUT_CHECK_MS = 1000;
/** What a browser page from an allowed origin may send and read (CORS); other origins get 403. */
const CORS_ALLOW_METHODS = 'POST, GET, DELETE, OPTIONS';
// 2026-07-28 requests carry Mcp-Method and Mcp-Name beside the version.
const CORS_ALLOW_HEADERS = 'content-type, authorization, mcp-session-id, mcp-protocol-version, mcp-method, mcp-name, last-event-id';
const CORS_EXPOSE_HEADERS = 'Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate';
/** How long a browser may reuse a preflight's answer. */
export const CORS_MAX_AGE_SECONDS = 600;
/** A session with no request in flight for this long is closed, and its unfinished tasks cancelled. */
export const SESSION_IDLE_MS = 30 * 60_000;
/**
 * While a call runs, its SSE stream carries a comment line (`: keepalive`) this often, so that a
 * client or proxy with a read timeout (often 5 s) does not give up on a long ssh_run.
 */
export const SSE_KEEPALIVE_MS = 2000;

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export async function startHttp(o: HttpOptions): Promise<HttpHandle> {
  const sessions = new SessionTable(o.maxSessions ?? MAX_SESSIONS_PER_PRINCIPAL);
  /** The bytes of every session's kept events together (event-store.ts). */
  const eventBudget = new EventBudget();
  const tokenDigest = o.token === undefined ? undefined : digest(o.token);
  const idleMs = o.sessionIdleMs ?? SESSION_IDLE_MS;
  /** Whoever has the one token of --token-file: one principal, named by the options. */
  const tokenPrincipal: Principal | undefined = tokenDigest && {
    name: o.principal?.name ?? HTTP_PRINCIPAL,
    roles: o.principal?.roles ?? [],
    via: 'token',
    credentialId: `token-file:${tokenDigest.toString('hex').slice(0, 16)}`,
  };
  /** Who the request is: the token of --token-file, else the tokens file or an OAuth access token. */
  const identify = async (header: string | undefined): Promise<AuthResult> => {
    if (tokenDigest && tokenPrincipal && authorized(header, tokenDigest)) return { ok: true, principal: tokenPrincipal };
    if (o.auth) return o.auth.authenticate(header);
    const error = new SshgateError('unauthorized', 'a valid bearer token is required', 'send "Authorization: Bearer <token>"');
    return { ok: false, status: 401, wwwAuthenticate: 'Bearer realm="sshgate"', error };
  };
  let hosts: Set<string> = new Set();
  /** The Tasks extension's handles outlive the server of the request that gave them out. */
  const taskHandles = new TaskHandles();

  const refuse = (
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
    hint?: string,
  ) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (o.auth?.resourceMetadataPaths.includes(url.pathname) && (req.method === 'GET' || req.method === 'HEAD')) {
      // RFC 9728: where a client learns which authorization server's tokens this server takes.
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
      return res.end(req.method === 'HEAD' ? undefined : JSON.stringify(o.auth.protectedResourceMetadata()));
    }
    const admin = isApprovalsPath(url.pathname);
    if (url.pathname !== '/mcp' && !admin) return refuse(res, 404, 'not_found', 'MCP is served at /mcp');
    if (!hosts.has((req.headers.host ?? '').toLowerCase())) {
      return refuse(res, 403, 'forbidden_host', 'the Host header does not name this server');
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !(o.allowedOrigins ?? []).includes(origin)) {
      return refuse(res, 403, 'forbidden_origin', 'requests from this Origin are not allowed');
    }
    res.setHeader('vary', 'Origin');
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', CORS_EXPOSE_HEADERS);
    }
    if (req.method === 'OPTIONS') {
      // A browser's preflight never carries the token; it learns only what it may send.
      const cors = {
        'access-control-allow-methods': CORS_ALLOW_METHODS,
        'access-control-allow-headers': CORS_ALLOW_HEADERS,
        'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
      };
      res.writeHead(204, { allow: CORS_ALLOW_METHODS, ...(origin !== undefined ? cors : {}) });
      return res.end();
    }
    const who = await identify(req.headers.authorization);
    if (!who.ok) {
      const headers: Record<string, string> = 'wwwAuthenticate' in who ? { 'www-authenticate': who.wwwAuthenticate } : {};
      return refuse(res, who.status, who.error.code, who.error.message, headers, who.error.hint);
    }
    const principal = who.principal;
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return refuse(res, 413, 'too_large', 'the request body is too large');

    if (admin) {
      const answer = req.method === 'POST' ? await readJsonBody(req, res) : undefined;
      if (answer !== NO_BODY) serveApprovals(req, res, url, principal, answer, o.gateway);
      return;
    }
    const sessionId = req.headers['mcp-session-id'];
    // A client that goes away before the transport has its calls (while its body is read, say)
    // has cancelled them all the same.
    let gone = false;
    res.once('close', () => (gone = !res.writableFinished));
    const body = req.method === 'POST' ? await readJsonBody(req, res) : undefined;
    if (body === NO_BODY) return;
    if (typeof sessionId === 'string') {
      const found = sessions.get(sessionId);
      // Another caller's session is as unknown as one that never was.
      const session = found?.principal === principal.name ? found : undefined;
      if (!session) {
        const why = sessions.whyClosed(sessionId);
        const message = why ? `MCP session ${sessionId} was closed: ${why}` : `there is no MCP session ${clip(sessionId)}`;
        return refuse(res, 404, 'unknown_session', message, {}, 'start a new session: POST an initialize request without Mcp-Session-Id');
      }
      session.active++;
      session.lastSeen = Date.now();
      res.once('close', () => {
        session.active--;
        session.lastSeen = Date.now();
      });
      // A GET with Last-Event-ID picks a broken stream up again: its calls are not given up.
      if (req.method === 'GET' && req.headers['last-event-id'] !== undefined) session.calls.resumed();
      const handled = session.calls.watch(requestIds(body), res, gone, sawEventId(res));
      try {
        return await session.transport.handleRequest(req, res, body);
      } finally {
        handled();
      }
    }
    if (req.method !== 'POST') return refuse(res, 400, 'no_session', 'send an initialize request first');
    if (!(await isLegacyRequest(await toWebRequest(req, body), body, { maxRequestBodySize: MAX_BODY_BYTES }))) {
      // The SDK hands req.auth to the factory of the request's server.
      (req as IncomingMessage & { auth?: AuthInfo }).auth = { token: '', clientId: principal.name, scopes: [], extra: { principal } };
      return modern(req, res, body);
    }
    const withTasks = () => o.gateway.sessionsWithUnfinishedTasks();
    if (sessions.toEvict(principal.name, withTasks) === 'full') {
      const message = `all ${sessions.maxPerPrincipal} MCP sessions of this caller have a request in flight`;
      return refuse(res, 503, 'too_many_sessions', message, {}, 'wait for a call to finish, or end a session (DELETE /mcp)');
    }
    /** Once the new session exists (the request was a valid initialize), an idle one makes room. */
    const makeRoom = () => {
      const evict = sessions.toEvict(principal.name, withTasks);
      if (evict === undefined || evict === 'full') return;
      o.logger.info({ session: evict.id }, 'closing an MCP session to make room for a new one');
      evict.close(`it was the least recently used idle one of ${sessions.maxPerPrincipal} sessions, and a new session took its place`);
    };
    // A new session: its id is chosen here, so that its gateway view exists before its first call.
    const id = randomUUID();
    // Its own store: a session can replay only its own events, whatever event id it sends.
    const events = new SessionEvents(eventBudget);
    const view = o.gateway.forCaller({ principal, session: id });
    const end = (why: string) => {
      if (!sessions.remove(id, why)) return;
      events.dispose();
      // A 2025-era client's tasks live as long as its session: with it gone, nobody watches them.
      const cancelled = view.cancelSessionTasks();
      o.logger.info({ session: id, cancelled, why }, 'MCP session ended');
    };
    const close = (why: string) => {
      end(why);
      void transport.close().catch(() => undefined);
    };
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      // The SDK writes each comment as one whole frame between events, never inside one.
      keepAliveMs: SSE_KEEPALIVE_MS,
      // Events get ids and are kept a while, so that a broken stream can be resumed.
      eventStore: events,
      onsessioninitialized: (sid) => {
        makeRoom();
        sessions.add({ id: sid, principal: principal.name, transport, calls, active: 0, lastSeen: Date.now(), close });
      },
      onsessionclosed: () => end('the client ended it (DELETE)'),
    });
    transport.onclose = () => end('the server closed it');
    const server = createServer({ gateway: view, logger: o.logger, version: o.version, era: 'legacy' });
    await server.connect(transport);
    const calls = new AbandonedCalls(transport);
    const handled = calls.watch(requestIds(body), res, gone, sawEventId(res));
    try {
      await transport.handleRequest(req, res, body);
    } finally {
      handled();
    }
    if (!transport.sessionId) {
      events.dispose();
      await server.close();
    }
  };

  // 2026-07-28: no sessions. Every request gets a server of its own over its caller's view.
  const modernHandler = createMcpHandler(
    ({ authInfo, era }) => {
      const principal = authInfo?.extra?.principal as Principal | undefined;
      if (!principal) throw new Error('a 2026-07-28 request reached its server without a principal');
      return createServer({ gateway: o.gateway.forCaller({ principal }), logger: o.logger, version: o.version, era, taskHandles });
    },
    {
      legacy: 'reject',
      keepAliveMs: SSE_KEEPALIVE_MS,
      maxRequestBodySize: MAX_BODY_BYTES,
      onerror: (err) => o.logger.debug({ error: clip(err.message) }, 'a 2026-07-28 request was refused'),
    },
  );
  const modern = toNodeHandler(modernHandler, { onerror: (err) => o.logger.error({ err }, 'HTTP request failed') });

  const expire = setInterval(
    () => {
      const now = Date.now();
      for (const s of sessions.all()) {
        if (s.active === 0 && now - s.lastSeen > idleMs) {
          o.logger.info({ session: s.id }, 'closing an idle MCP session');
          s.close(`it had no request for ${Math.round(idleMs / 1000)} s (SSHGATE_SESSION_IDLE_SECONDS)`);
        }
      }
    },
    Math.min(60_000, Math.max(250, idleMs / 4)),
  );
  expire.unref();

  const timeouts = {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
  };
  const http: HttpServer = createHttpServer(timeouts, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.logger.error({ err }, 'HTTP request failed');
      if (!res.headersSent) refuse(res, 500, 'internal', 'the request failed; see the server log');
      else res.end();
    });
  });
  guardConnections(http, o.logger, { perClient: o.maxConnectionsPerClient, total: o.maxConnections });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(o.port, o.host, () => resolve());
  });
  const port = (http.address() as { port: number }).port;
  hosts = allowedHostHeaders(o.host, port, o.allowedHosts ?? []);
  o.logger.info({ host: o.host, port }, 'sshgate serving MCP over HTTP at /mcp');
  if (o.auth) {
    const auth = o.auth;
    o.gateway.onReload(() => {
      const r = auth.reloadTokens();
      if (r?.ok) o.logger.info({ tokens: r.tokens }, 'tokens file reloaded');
      else if (r) o.logger.warn({ error: r.error.message }, 'the tokens file was not reloaded, the old tokens stay');
    });
    void auth.checkIssuer().then((e) => e && o.logger.warn({ code: e.code, hint: e.hint }, e.message));
  }
  return {
    port,
    async close() {
      clearInterval(expire);
      await modernHandler.close().catch(() => undefined);
      await Promise.all(sessions.all().map((s) => s.transport.close().catch(() => undefined)));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

/**
 * Whether the response has carried an SSE event id yet (then its client can resume it): watches
 * what is written, and stops looking once one has gone out.
 */
function sawEventId(res: ServerResponse): () => boolean {
  let seen = false;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (!seen && (typeof chunk === 'string' || chunk instanceof Uint8Array))
      seen = /(^|\n)id: /.test(Buffer.from(chunk).toString('latin1'));
    return write(chunk, ...rest);
  }) as ServerResponse['write'];
  return () => seen;
}

const NO_BODY = Symbol('no body');

/**
 * Reads a POST body as JSON, counting bytes as they come (a chunked body has no Content-Length);
 * answers the request itself when the body is refused. A body that does not arrive within
 * REQUEST_TIMEOUT_MS is node's to refuse.
 */
async function readJsonBody(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  const outcome = await new Promise<'ok' | 'too_large' | 'aborted'>((resolve) => {
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) resolve('too_large');
      else chunks.push(c);
    });
    req.once('end', () => resolve('ok'));
    req.once('error', () => resolve('aborted'));
    req.once('close', () => resolve('aborted'));
  });
  const fail = (status: number, code: number, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
    req.destroy();
    return NO_BODY;
  };
  if (outcome === 'too_large') return fail(413, -32600, `the request body is over ${MAX_BODY_BYTES} bytes`);
  if (outcome === 'aborted') return NO_BODY;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return fail(400, -32700, 'the request body is not JSON');
  }
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
