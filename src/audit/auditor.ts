/**
 * The audit records: every policy decision and every task end becomes one `audit` record in the
 * server log (src/logger.ts) and, when one is configured, in the hash-chained audit file.
 */
import type { Logger } from 'pino';
import type { Decision } from '../policy/decision.js';
import type { Task } from '../tasks/task-manager.js';
import { commandHash } from '../tasks/ids.js';
import type { AuditFile } from './audit-file.js';

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
          ...(t.owner !== undefined ? { principal: t.owner } : {}),
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
