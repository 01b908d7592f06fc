/**
 * An MCP client over stdio that only writes JSON-RPC lines and reads them back: no schema checks,
 * no transport layers. The warm benchmark measures the server with it, so that a row holds
 * sshgate's part and not also the SDK client's (which spends about a millisecond of CPU a call
 * validating what it sends and gets; its row stays beside for comparison).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { serveArgs } from '../test/support/mcp.js';

export interface LineClient {
  pid: number;
  /** tools/call; resolves with the result, rejects with a JSON-RPC error. */
  call(name: string, args: Record<string, unknown>): Promise<{ isError?: boolean; content?: unknown }>;
  close(): Promise<void>;
}

/** `argv`: the server's script and arguments (default sshgate's serve on the config of `dir`). */
export async function startLineClient(
  dir: string,
  env: Record<string, string>,
  nodeArgs: readonly string[],
  argv: readonly string[] = serveArgs(dir),
): Promise<LineClient> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [...nodeArgs, ...argv], {
    env: { PATH: process.env.PATH ?? '', SSHGATE_STATE_DIR: join(dir, 'state'), ...env },
  });
  child.stderr.resume();
  const pending = new Map<number, { resolve: (r: never) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const msg = JSON.parse(line) as { id?: number; result?: never; error?: { message: string } };
      const waiting = msg.id === undefined ? undefined : pending.get(msg.id);
      if (!waiting) continue; // a notification, or an answer to no one
      pending.delete(msg.id as number);
      if (msg.error) waiting.reject(new Error(msg.error.message));
      else waiting.resolve(msg.result as never);
    }
  });
  const request = <T>(method: string, params: unknown) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  await request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench-lines', version: '1' } });
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  return {
    pid: child.pid as number,
    call: (name, args) => request('tools/call', { name, arguments: args }),
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}
