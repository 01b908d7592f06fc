/**
 * An MCP client over Streamable HTTP that only POSTs JSON-RPC and reads the answer back: one
 * keep-alive connection, a 2025-era session, no schema checks, no fetch, no SSE client. It is to
 * HTTP what line-client.ts is to stdio: beside it, a row measures the server's HTTP path and not
 * also the SDK client's (which spent about 2 ms of CPU a call more over HTTP than over stdio in
 * the results of 2026-12-03).
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface HttpLineClient {
  /** tools/call; resolves with the result, rejects with a JSON-RPC error or an HTTP status. */
  call(name: string, args: Record<string, unknown>): Promise<{ isError?: boolean; content?: unknown }>;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export async function startHttpLineClient(url: string, token: string): Promise<HttpLineClient> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(url);
  /** Mcp-Session-Id and the protocol version, once initialize has answered. */
  const sessionHeaders: Record<string, string> = {};
  let nextId = 1;

  const post = (message: object) =>
    new Promise<Answer>((resolve, reject) => {
      const body = JSON.stringify(message);
      const req = httpRequest(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json, text/event-stream',
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...sessionHeaders,
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const rpc = async <T>(method: string, params: unknown): Promise<T> => {
    const id = nextId++;
    const answer = await post({ jsonrpc: '2.0', id, method, params });
    if (answer.status !== 200) throw new Error(`${method}: HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
    for (const msg of messagesOf(answer)) {
      if (msg.id !== id) continue; // a notification, or a priming event
      if (msg.error) throw new Error(msg.error.message);
      return msg.result as T;
    }
    throw new Error(`${method}: no answer in ${answer.body.slice(0, 200)}`);
  };

  const opened = await post({
    jsonrpc: '2.0',
    id: nextId++,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench-http-lines', version: '1' } },
  });
  const sid = opened.headers['mcp-session-id'];
  if (opened.status !== 200 || typeof sid !== 'string') throw new Error(`initialize: HTTP ${opened.status}: ${opened.body.slice(0, 200)}`);
  Object.assign(sessionHeaders, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });
  const initialized = await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  if (initialized.status !== 202) throw new Error(`notifications/initialized: HTTP ${initialized.status}`);

  return {
    call: (name, args) => rpc('tools/call', { name, arguments: args }),
    async close() {
      await new Promise<void>((resolve) => {
        const req = httpRequest(
          {
            agent,
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'DELETE',
            headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sid },
          },
          (res) => res.resume().on('end', resolve),
        );
        req.on('error', () => resolve());
        req.end();
      });
      agent.destroy();
    },
  };
}

interface Message {
  id?: number;
  result?: unknown;
  error?: { message: string };
}

/** The JSON-RPC messages of an answer: one JSON body, or the `data:` of each server-sent event. */
function messagesOf(answer: Answer): Message[] {
  if (!String(answer.headers['content-type']).startsWith('text/event-stream')) return [JSON.parse(answer.body) as Message];
  const out: Message[] = [];
  for (const event of answer.body.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (data) out.push(JSON.parse(data) as Message);
  }
  return out;
}
