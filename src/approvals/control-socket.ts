/**
 * The operators' way in: a Unix socket per running server in its state dir (`control.<pid>.sock`,
 * mode 0600 in a 0700 dir: only the server's own OS user connects), over which `sshgate approvals
 * list`, `sshgate approve` and `sshgate deny` reach every server of the deployment. One JSON line
 * asks, one JSON line answers, then the connection closes. The answerer's name is the one the CLI
 * gives (the OS user, or --as): whoever can connect already owns the server's account.
 */
import { chmodSync, lstatSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { SshgateError } from '../errors.js';
import { processAlive } from '../process-alive.js';
import { refuseUnlessPrivate } from '../tasks/state-dir.js';
import type { Answerer } from './broker.js';

/** A request line is small; anything longer is not an operator's. */
const MAX_LINE_BYTES = 16_384;
/** A client has this long from its connection to its whole request line; then it is dropped. */
const IDLE_MS = 5000;
/** Operators at once: more are refused at accept. */
const MAX_CONNECTIONS = 16;
/** sockaddr_un's sun_path holds 108 bytes, the terminating NUL included. */
const MAX_SOCKET_PATH = 107;

export const ControlRequest = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('list'), all: z.boolean().default(false) }),
  z.strictObject({
    op: z.literal('answer'),
    id: z.string().min(1).max(100),
    approve: z.boolean(),
    reason: z.string().max(500).optional(),
    /** Who answers: the CLI's OS user, or its --as. */
    answerer: z.object({ name: z.string().min(1).max(100), via: z.enum(['os-user', 'command-line']) }),
  }),
]);
export type ControlRequest = z.input<typeof ControlRequest>;

export type ControlResponse =
  | { ok: true; pid: number; approvals?: unknown[]; approval?: unknown }
  | { ok: false; pid: number; error: { code: string; message: string; hint?: string } };

/** What the socket serves: the gateway's approval calls. */
export interface ControlHandlers {
  list(all: boolean): unknown[];
  answer(id: string, answerer: Answerer, approve: boolean, reason?: string): unknown;
}

export interface ControlSocket {
  path: string;
  close(): Promise<void>;
}

/** The socket of the server with this pid in the state dir. */
export function controlSocketPath(stateDir: string, pid = process.pid): string {
  return join(stateDir, `control.${pid}.sock`);
}

/**
 * Listens on this server's control socket (the state dir must exist and be private, as
 * state-dir.ts makes it). Throws when it cannot: the caller logs it and serves without.
 */
export async function openControlSocket(stateDir: string, handlers: ControlHandlers): Promise<ControlSocket> {
  const path = controlSocketPath(stateDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new SshgateError(
      'invalid_config',
      `the control socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes`,
      'give --state-dir a shorter dir (sshgate approvals then needs the same --state-dir)',
    );
  }
  // A socket left by an earlier process that had this pid.
  try {
    unlinkSync(path);
  } catch {
    // None was there.
  }
  const server = createServer((socket) => serveOne(socket, handlers));
  server.maxConnections = MAX_CONNECTIONS;
  // The socket file is created with the umask's mode: owner-only from the start, not after a chmod.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  server.unref();
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          unlinkSync(path);
        } catch {
          // Already gone.
        }
      }),
  };
}

function serveOne(socket: Socket, handlers: ControlHandlers): void {
  let buffered = '';
  socket.setEncoding('utf8');
  // From the connection on, not reset by each byte: a trickling client holds no slot for long.
  const deadline = setTimeout(() => socket.destroy(), IDLE_MS);
  socket.once('close', () => clearTimeout(deadline));
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const nl = buffered.indexOf('\n');
    if (nl < 0 && Buffer.byteLength(buffered) <= MAX_LINE_BYTES) return;
    socket.removeAllListeners('data');
    const line = nl < 0 ? '' : buffered.slice(0, nl);
    socket.end(`${JSON.stringify(answerLine(line, handlers))}\n`);
  });
}

function answerLine(line: string, handlers: ControlHandlers): ControlResponse {
  const pid = process.pid;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, pid, error: { code: 'invalid_input', message: 'the request is not one JSON line', hint: 'use sshgate approvals' } };
  }
  const parsed = ControlRequest.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      pid,
      error: { code: 'invalid_input', message: 'the request is not one sshgate understands', hint: 'use sshgate approvals' },
    };
  }
  const req = parsed.data;
  try {
    if (req.op === 'list') return { ok: true, pid, approvals: handlers.list(req.all) };
    const answerer: Answerer = { ...req.answerer, channel: 'control-socket' };
    return { ok: true, pid, approval: handlers.answer(req.id, answerer, req.approve, req.reason) };
  } catch (err) {
    if (err instanceof SshgateError) return { ok: false, pid, error: err.toJSON() };
    return { ok: false, pid, error: { code: 'internal', message: 'the server could not answer', hint: 'see its log' } };
  }
}

/**
 * The control sockets of the servers running from this state dir (a dead server's left-over is
 * skipped). The dir must be private, as the server requires it (a SshgateError says why not), and
 * each socket this user's own: anyone else's could feed the operator a false listing and take
 * their answers.
 */
export function controlSockets(stateDir: string): string[] {
  let names: string[];
  try {
    refuseUnlessPrivate(stateDir, statSync(stateDir), 'the state dir', 'plant a control socket in it that answers in place of sshgate');
    names = readdirSync(stateDir);
  } catch (err) {
    if (err instanceof SshgateError) throw err;
    return [];
  }
  const uid = process.getuid?.();
  return names
    .map((n) => /^control\.(\d+)\.sock$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && processAlive(Number(m[1])))
    .map((m) => join(stateDir, m[0]))
    .filter((path) => {
      try {
        const st = lstatSync(path);
        return st.isSocket() && (uid === undefined || st.uid === uid);
      } catch {
        return false;
      }
    });
}

/** Sends one request to one server's socket and reads its answer. */
export function controlRequest(path: string, request: ControlRequest, timeoutMs = IDLE_MS): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('the server did not answer in time')));
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        resolve(JSON.parse(text) as ControlResponse);
      } catch {
        reject(new Error('the server closed the connection without an answer'));
      }
    });
  });
}
