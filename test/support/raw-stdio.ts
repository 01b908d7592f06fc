/**
 * sshgate over stdio with no MCP client library in between: the tests write JSON-RPC lines
 * exactly as they want them on the wire (several in one write, malformed ones) and read every
 * line the server sends, notifications included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { serveArgs } from './mcp.js';

export interface WireMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

export interface RawServer {
  /** Writes the messages in one write, each as a line, with `jsonrpc: "2.0"` added. */
  send(message: object | object[]): void;
  /** The answer to request `id`, once it comes. */
  answer(id: number): Promise<WireMessage>;
  /** Sends a request with a fresh id and waits for its answer. */
  request(method: string, params?: unknown): Promise<WireMessage>;
  /** Called with every notification the server sends. */
  onNotification(listener: (m: WireMessage) => void): void;
  /** The answer to the opening request: initialize's, or server/discover's. */
  initialized: WireMessage;
  close(): Promise<void>;
}

/**
 * Starts `sshgate serve` on the config written by writeConfig and opens the connection: a 2025-era
 * initialize (at 2025-06-18), or with `discover` a 2026-07-28 server/discover, after which every
 * request must carry the `_meta` envelope (envelope2026).
 */
export async function startRawServer(
  dir: string,
  clientName: string,
  opening: 'initialize' | 'discover' = 'initialize',
): Promise<RawServer> {
  const server: ChildProcess = spawn(process.execPath, serveArgs(dir), {
    env: { PATH: process.env.PATH ?? '', SSHGATE_STATE_DIR: join(dir, 'state'), SSHGATE_LOG_LEVEL: 'warn' },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const waiting = new Map<number, (m: WireMessage) => void>();
  const listeners: ((m: WireMessage) => void)[] = [];
  createInterface({ input: server.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const m = JSON.parse(line) as WireMessage;
    if (typeof m.id === 'number') waiting.get(m.id)?.(m);
    else for (const l of listeners) l(m);
  });
  let nextId = 1_000_000;
  const send = (message: object | object[]) => {
    const lines = (Array.isArray(message) ? message : [message]).map((m) => `${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
    server.stdin?.write(lines.join(''));
  };
  const answer = (id: number) => new Promise<WireMessage>((r) => waiting.set(id, r));
  const request = (method: string, params?: unknown) => {
    const id = nextId++;
    const answered = answer(id);
    send({ id, method, ...(params === undefined ? {} : { params }) });
    return answered;
  };
  if (opening === 'discover') {
    const discovered = await request('server/discover', { _meta: envelope2026(clientName) });
    return { send, answer, request, onNotification: (l) => void listeners.push(l), initialized: discovered, close };
  }
  const initialized = await request('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: clientName, version: '1' },
  });
  send({ method: 'notifications/initialized' });
  return {
    send,
    answer,
    request,
    onNotification: (l) => void listeners.push(l),
    initialized,
    close,
  };
  async function close(): Promise<void> {
    server.stdin?.end();
    if (server.exitCode === null) await new Promise((r) => server.once('exit', r));
  }
}

/** The `_meta` envelope every 2026-07-28 request carries, with the client's capabilities. */
export function envelope2026(clientName: string, capabilities: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: clientName, version: '1' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  };
}
