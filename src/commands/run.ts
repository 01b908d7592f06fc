/**
 * `sshgate run ALIAS|@TAG -- COMMAND`: what an agent's ssh_run does, from a terminal — the same
 * policy, the same connections and the same cancellation (Ctrl-C stops the remote command). The
 * output streams as it comes; the exit status is the remote command's, or 255 when sshgate itself
 * refused or could not run it (as ssh does).
 */
import { createAuditor } from '../audit/auditor.js';
import { createLogger, type LogLevel } from '../logger.js';
import { ConfigError, SshgateError } from '../errors.js';
import { Gateway } from '../gateway/gateway.js';
import type { Cursor } from '../gateway/views.js';
import { ConnectionPool } from '../ssh/pool.js';
import { TaskManager } from '../tasks/task-manager.js';
import { reportError, type Io, type Paths } from './context.js';

export const RUN_FAILED = 255;

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, TERM: 15 };

export async function runCommand(
  paths: Paths,
  target: string,
  command: string,
  io: Io,
  env: Readonly<Record<string, string | undefined>>,
  logLevel: LogLevel,
): Promise<number> {
  const logger = createLogger(logLevel);
  const audit = createAuditor(logger);
  const tasks = new TaskManager({ onEnd: (t) => audit.taskEnd(t) });
  const pool = ConnectionPool.withDefaults(logger);
  const fail = (e: { message: string; hint?: string }, status = RUN_FAILED) => {
    reportError(io, e);
    return status;
  };
  const interrupted = () => void tasks.shutdown();
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const notice = (message: string) => io.err(`sshgate: ${message}\n`);
    const gateway = await Gateway.create({ paths, env, logger, audit, tasks, pool, readCredentialsAtStart: false, notice });
    if (target.startsWith('@')) return await onTag(gateway, target.slice(1), command, io);
    const task = gateway.startTask({ alias: target, command }, 'cli run');
    // The same cursor reads as ssh_get_task_output: each byte once, characters never cut in two.
    let cursor: Cursor | undefined;
    for (;;) {
      const chunk = await gateway.output({ task_id: task.id, max_bytes: 1 << 20, wait_seconds: 50, ...(cursor ? { cursor } : {}) });
      if (chunk.stdout) io.out(chunk.stdout);
      if (chunk.stderr) io.err(chunk.stderr);
      cursor = chunk.next_cursor;
      if (chunk.done) break;
    }
    // An error with no exit status: it never ran, or how it ended is unknown.
    if (task.error && task.exitCode === null && task.signal === null) return fail(task.error);
    if (task.exitCode !== null) return task.exitCode;
    if (task.signal) return 128 + (SIGNALS[task.signal.replace(/^SIG/, '')] ?? 0);
    return RUN_FAILED;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`sshgate: the configuration is invalid:\n${err.message}\n`);
      return 2;
    }
    // A target that names no host is a mistake in the call, as for plan: 2, not the 255 of a refusal.
    if (err instanceof SshgateError) return fail(err, err.code === 'unknown_host' ? 2 : RUN_FAILED);
    throw err;
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    await tasks.shutdown();
    await pool.close();
  }
}

/** Every host of the tag: each host's output under its name, a summary, 0 only if all succeeded. */
async function onTag(gateway: Gateway, tag: string, command: string, io: Io): Promise<number> {
  const r = await gateway.runOnTag({ tag, command, wait_seconds: 86_400 });
  for (const h of r.results) {
    const status =
      h.status === 'denied'
        ? `denied: ${h.reason ?? ''}`
        : h.error
          ? `${h.status}: ${h.error.message}`
          : `${h.status}, exit ${h.exit_code ?? '-'}`;
    io.out(`== ${h.alias}: ${status}\n`);
    if (h.stdout) io.out(h.stdout.endsWith('\n') ? h.stdout : `${h.stdout}\n`);
    if (h.stderr) io.err(h.stderr.endsWith('\n') ? h.stderr : `${h.stderr}\n`);
  }
  const s = r.summary;
  io.out(`== ${s.total} hosts: ${s.succeeded} succeeded, ${s.failed} failed, ${s.denied} denied\n`);
  return s.succeeded === s.total ? 0 : 1;
}
