/**
 * MCP over Streamable HTTP by hand: node:http requests whose connection, source address (any
 * 127.x on loopback, to play distinct clients) and read timeout a test controls, and the SSE
 * answers taken apart into their JSON-RPC messages and comment lines.
 */
import { request, type IncomingHttpHeaders } from 'node:http';

export interface Endpoint {
  port: number;
  token: string;
}

export interface PostOptions {
  sessionId?: string;
  /** The client's own address: 127.0.0.2 and 127.0.0.3 are two clients to the server. */
  localAddress?: string;
  /** Give up when no byte has come for this long, as a client's read timeout does. */
  readTimeoutMs?: number;
  /** Give up after this long in all (default 60 s). */
  totalTimeoutMs?: number;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The JSON-RPC messages: an application/json body, or each SSE event's data. */
  messages: Record<string, unknown>[];
  /** SSE comment lines (`: keepalive`) the stream carried. */
  comments: number;
  body: string;
}

export const PROTOCOL_VERSION = '2025-06-18';

export function toolCall(id: number, name: string, args: Record<string, unknown>): Record<string, unknown> {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
}

/** The raw bytes of a POST /mcp carrying `message`, for a test that writes to a socket itself. */
export function postBytes(ep: Endpoint, message: unknown, sessionId?: string): string {
  const body = JSON.stringify(message);
  const lines = [
    'POST /mcp HTTP/1.1',
    `Host: 127.0.0.1:${ep.port}`,
    `Authorization: Bearer ${ep.token}`,
    'Content-Type: application/json',
    'Accept: application/json, text/event-stream',
    `Mcp-Protocol-Version: ${PROTOCOL_VERSION}`,
    ...(sessionId ? [`Mcp-Session-Id: ${sessionId}`] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

export function send(ep: Endpoint, method: 'POST' | 'DELETE' | 'GET', message: unknown, o: PostOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      host: `127.0.0.1:${ep.port}`,
      authorization: `Bearer ${ep.token}`,
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': PROTOCOL_VERSION,
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      ...(o.sessionId ? { 'mcp-session-id': o.sessionId } : {}),
      ...o.headers,
    };
    // agent: false is a connection of its own, from localAddress if given.
    const req = request(
      { host: '127.0.0.1', port: ep.port, path: '/mcp', method, headers, agent: false, localAddress: o.localAddress },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.once('end', () => {
          clearTimeout(total);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            ...parseBody(String(res.headers['content-type'] ?? ''), body),
          });
        });
        res.once('error', reject);
      },
    );
    const total = setTimeout(
      () => req.destroy(new Error(`no complete answer within ${o.totalTimeoutMs ?? 60_000} ms`)),
      o.totalTimeoutMs ?? 60_000,
    );
    if (o.readTimeoutMs) req.setTimeout(o.readTimeoutMs, () => req.destroy(new Error(`read timeout: no byte for ${o.readTimeoutMs} ms`)));
    req.once('error', (err) => {
      clearTimeout(total);
      reject(err);
    });
    req.end(message === undefined ? undefined : JSON.stringify(message));
  });
}

/** Initializes a session (initialize, then notifications/initialized) and returns its id. */
export async function openSession(ep: Endpoint, o: PostOptions = {}): Promise<string> {
  const init = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw-http', version: '1' } },
  };
  const r = await send(ep, 'POST', init, o);
  const id = r.headers['mcp-session-id'];
  if (r.status !== 200 || typeof id !== 'string') throw new Error(`initialize answered ${r.status}: ${r.body}`);
  const done = await send(ep, 'POST', { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...o, sessionId: id });
  if (done.status !== 202) throw new Error(`notifications/initialized answered ${done.status}: ${done.body}`);
  return id;
}

/** The answer (result or error) with this id among the messages, if any. */
export function answerTo(r: Answer, id: number): Record<string, unknown> | undefined {
  return r.messages.find((m) => m.id === id && ('result' in m || 'error' in m));
}

function parseBody(contentType: string, body: string): { messages: Record<string, unknown>[]; comments: number } {
  if (contentType.startsWith('application/json')) {
    const parsed = JSON.parse(body) as Record<string, unknown> | Record<string, unknown>[];
    return { messages: Array.isArray(parsed) ? parsed : [parsed], comments: 0 };
  }
  if (!contentType.startsWith('text/event-stream')) return { messages: [], comments: 0 };
  const messages: Record<string, unknown>[] = [];
  let comments = 0;
  for (const event of body.split(/\r?\n\r?\n/)) {
    const data: string[] = [];
    for (const line of event.split(/\r?\n/)) {
      if (line.startsWith(':')) comments++;
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length > 0 && data.join('') !== '') messages.push(JSON.parse(data.join('\n')) as Record<string, unknown>);
  }
  return { messages, comments };
}

/**
 * Holds the session's GET stream open, as a client that listens for server messages does (a
 * session with an open stream is never idle); returns what closes it.
 */
export function holdStream(ep: Endpoint, sessionId: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const headers = {
      host: `127.0.0.1:${ep.port}`,
      authorization: `Bearer ${ep.token}`,
      accept: 'text/event-stream',
      'mcp-session-id': sessionId,
      'mcp-protocol-version': PROTOCOL_VERSION,
    };
    const req = request({ host: '127.0.0.1', port: ep.port, path: '/mcp', method: 'GET', headers, agent: false }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`GET /mcp answered ${res.statusCode}`));
      res.resume();
      resolve(() => req.destroy());
    });
    req.once('error', reject);
    req.end();
  });
}
