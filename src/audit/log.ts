/**
 * The server log and the audit records in it: pino JSON lines on stderr (stdout is the MCP
 * channel). Every policy decision and every task end becomes one `audit` record; credentials
 * never reach the logger, and the paths where they could hide are redacted all the same.
 */
import { pino, type Logger } from 'pino';
import type { Decision } from '../policy/decision.js';
import type { Task } from '../tasks/task-manager.js';
import { commandHash } from '../tasks/ids.js';
import type { AuditFile } from './audit-file.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const REDACT = ['password', 'passphrase', 'privateKey', 'token', '*.password', '*.passphrase', '*.privateKey', '*.token', 'auth', '*.auth'];

export function createLogger(level: LogLevel, fd = 2): Logger {
  return pino(
    { name: 'sshgate', level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } },
    // Synchronous, so the records of a server that is about to exit are not lost.
    pino.destination({ fd, sync: true }),
  );
}

export interface Auditor {
  /** `context`: the tool, the tag of a fan-out, and what a call gave beside its command (names, sizes, digests). */
  decision(d: Decision, context: { tool: string; tag?: string } & Record<string, unknown>): void;
  taskEnd(task: Task): void;
}

/** Audit records go to the log and, when one is configured, to the hash-chained audit file. */
export function createAuditor(logger: Logger, file?: AuditFile): Auditor {
  const audit = logger.child({ audit: true });
  const emit = (record: Record<string, unknown>, msg: string) => {
    audit.info(record, msg);
    if (!file) return;
    try {
      file.append({ time: new Date().toISOString(), ...record });
    } catch (err) {
      logger.error({ path: file.path, err: (err as Error).message }, 'could not write the audit file');
    }
  };
  return {
    decision(d, context) {
      emit(
        {
          event: 'decision',
          ...context,
          alias: d.alias,
          command: d.command,
          command_hash: commandHash(d.command),
          allowed: d.allowed,
          reason: d.reason,
          rules: d.matched_rules.map((r) => `${r.name} (${r.source})`),
        },
        d.allowed ? 'allowed' : 'denied',
      );
    },
    taskEnd(t) {
      emit(
        {
          event: 'task_end',
          task_id: t.id,
          alias: t.alias,
          command: t.command,
          command_hash: commandHash(t.command),
          state: t.state,
          exit_code: t.exitCode,
          signal: t.signal,
          duration_ms: t.endedAt !== undefined && t.startedAt !== undefined ? t.endedAt - t.startedAt : 0,
          stdout_bytes: t.stdout.written,
          stderr_bytes: t.stderr.written,
          ...(t.error ? { error_code: t.error.code, error: t.error.message } : {}),
        },
        `task ${t.state}`,
      );
    },
  };
}
