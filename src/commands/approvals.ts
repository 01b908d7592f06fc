/**
 * `sshgate approvals list`, `sshgate approve ID`, `sshgate deny ID --reason …`: an operator on the
 * server's machine answers the approval requests of every server running from the deployment's
 * state dir, over their control sockets (src/approvals/control-socket.ts).
 */
import { userInfo } from 'node:os';
import { controlRequest, controlSockets, type ControlResponse } from '../approvals/control-socket.js';
import type { ApprovalView } from '../gateway/tool-contract.js';
import { quotedForReview, SshgateError } from '../errors.js';
import type { Io } from './context.js';

export interface ApprovalsOptions {
  stateDir: string | undefined;
  json?: boolean;
  all?: boolean;
}

/** Lists the pending requests of every server (with --all, the answered ones they still keep too). */
export async function approvalsListCommand(options: ApprovalsOptions, io: Io): Promise<number> {
  const servers = await reach(options.stateDir, { op: 'list', all: options.all ?? false }, io);
  if (servers === undefined) return 2;
  const approvals = servers.flatMap((r) => (r.ok ? ((r.approvals ?? []) as ApprovalView[]).map((a) => ({ ...a, server_pid: r.pid })) : []));
  approvals.sort((a, b) => a.created_at.localeCompare(b.created_at));
  if (options.json) {
    io.out(`${JSON.stringify(approvals, null, 2)}\n`);
    return 0;
  }
  if (approvals.length === 0) {
    io.out(`no ${options.all ? '' : 'pending '}approval requests (${servers.length} server${servers.length === 1 ? '' : 's'} asked)\n`);
    return 0;
  }
  for (const a of approvals) io.out(`${describe(a)}\n`);
  return 0;
}

/** Approves (or, with approve false, refuses) one request on whichever server holds it. */
export async function answerCommand(
  id: string,
  approve: boolean,
  options: ApprovalsOptions & { reason?: string; as?: string },
  io: Io,
): Promise<number> {
  const answerer =
    options.as !== undefined ? { name: options.as, via: 'command-line' as const } : { name: osUserName(), via: 'os-user' as const };
  const servers = await reach(
    options.stateDir,
    { op: 'answer', id, approve, ...(options.reason !== undefined ? { reason: options.reason } : {}), answerer },
    io,
  );
  if (servers === undefined) return 2;
  const done = servers.find((r) => r.ok);
  if (done?.ok) {
    const a = done.approval as ApprovalView;
    io.out(`${a.approval_id} ${a.state} by ${answerer.name}: ${quotedForReview(a.command)} on ${a.hosts.join(', ')}\n`);
    return 0;
  }
  // Every server but the one holding it says not_found: that one's refusal is the answer.
  const refusal = servers.find((r) => !r.ok && r.error.code !== 'not_found') ?? servers[0];
  const error = refusal && !refusal.ok ? refusal.error : { code: 'not_found', message: `no approval request "${id}"`, hint: undefined };
  io.err(`sshgate: ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`);
  if (error.code === 'not_found') io.err('  hint: sshgate approvals list shows the pending ones\n');
  return 1;
}

/** Asks every server of the state dir; undefined (reported) when none runs there. */
async function reach(
  stateDir: string | undefined,
  request: Parameters<typeof controlRequest>[1],
  io: Io,
): Promise<Extract<ControlResponse, { pid: number }>[] | undefined> {
  if (!stateDir) {
    io.err('sshgate: no state dir: give --state-dir (the one sshgate serve runs with), or set XDG_STATE_HOME or HOME\n');
    return undefined;
  }
  let sockets: string[];
  try {
    sockets = controlSockets(stateDir);
  } catch (err) {
    if (!(err instanceof SshgateError)) throw err;
    io.err(`sshgate: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
    return undefined;
  }
  const answers = await Promise.all(sockets.map((path) => controlRequest(path, request).catch(() => undefined)));
  const reached = answers.filter((a): a is ControlResponse => a !== undefined);
  if (reached.length === 0) {
    io.err(
      `sshgate: no running sshgate server has a control socket in ${stateDir}\n` +
        '  hint: run this as the user sshgate serve runs as, with its --config/--policy (or --state-dir), on the same machine\n',
    );
    return undefined;
  }
  return reached;
}

function describe(a: ApprovalView & { server_pid: number }): string {
  const left = Math.max(0, Math.round((Date.parse(a.deadline) - Date.now()) / 1000));
  const lines = [
    `${a.approval_id}  ${a.state}${a.state === 'pending' ? ` (${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s left)` : ''}`,
    `  asked by:  ${a.principal}`,
    `  hosts:     ${a.hosts.join(', ')}`,
    `  command:   ${quotedForReview(a.command)}`,
    ...(a.workdir !== undefined ? [`  in dir:    ${quotedForReview(a.workdir)}`] : []),
    ...Object.entries(a.env).map(([k, v]) => `  with:      ${k}=${quotedForReview(v)}`),
    ...(a.become !== null ? [`  as user:   ${a.become}`] : []),
    `  rules:     ${a.rules.map((r) => `${r.name} (${r.source})`).join(', ')}`,
    `  approve:   by ${a.approve_by}${a.four_eyes ? ', four eyes (not by the asker)' : ''}${a.grant_minutes !== null ? `, grants ${a.grant_minutes} min` : ', once'}`,
    ...(a.answered_by ? [`  answered:  by ${a.answered_by.name} (${a.answered_by.channel})${a.reason ? `: ${a.reason}` : ''}`] : []),
    `  server:    pid ${a.server_pid}`,
  ];
  return lines.join('\n');
}

function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? 'unknown'}`;
  }
}
