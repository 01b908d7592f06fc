/**
 * The audit records: every policy decision and every task end becomes one `audit` record in the
 * server log (src/logger.ts) and, when one is configured, in the hash-chained audit file.
 */
import type { Logger } from 'pino';
import { recordWriter } from '../logger.js';
import type { Decision, FileDecision } from '../policy/decision.js';
import type { Task } from '../tasks/task-manager.js';
import { commandHash } from '../tasks/ids.js';
import type { AuditFile } from './audit-file.js';
import type { Answerer, ApprovalRequest, GrantUse } from '../approvals/broker.js';

export interface Auditor {
  /** `context`: the tool, the tag of a fan-out, and what a call gave beside its command (names, sizes, digests). */
  decision(d: Decision, context: { tool: string; tag?: string } & Record<string, unknown>): void;
  taskEnd(task: Task): void;
  /** An approval request opened, answered (approved, denied), expired or withdrawn (its tasks were cancelled). */
  approval(req: ApprovalRequest): void;
  /** A command ran under an earlier approval's grant instead of asking again. */
  grantUsed(grant: GrantUse): void;
  /** An answer the request's terms refused: who tried, and why (four eyes, the channel, too late). */
  approvalAnswerRefused(req: ApprovalRequest, answerer: Answerer, why: string): void;
  /** A files: decision on one access to one path (the path as given, or as resolved on the host). */
  fileDecision(d: FileDecision, context: { tool: string } & Record<string, unknown>): void;
  /** A file operation done: which bytes were read, or which landed (checksums before and after). */
  file(record: FileRecord): void;
}

/** What a file operation did, exactly enough that a reviewer can tell which bytes were read or landed. */
export interface FileRecord {
  op: 'read' | 'list' | 'write' | 'edit' | 'put' | 'get';
  alias: string;
  path: string;
  resolved_path: string;
  principal?: string;
  [detail: string]: unknown;
}

/** Audit records go to the log and, when one is configured, to the hash-chained audit file. */
export function createAuditor(logger: Logger, file?: AuditFile): Auditor {
  const write = recordWriter(logger, { audit: true });
  const emit = (record: Record<string, unknown>, msg: string) => {
    write(record, msg);
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
          ...(d.become !== null ? { become: d.become } : {}),
          verdict: d.verdict,
          allowed: d.allowed,
          reason: d.reason,
          rules: d.matched_rules.map((r) => `${r.name} (${r.source})`),
        },
        d.verdict === 'allow' ? 'allowed' : d.verdict === 'ask' ? 'needs approval' : 'denied',
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
          ...(t.become !== undefined ? { become: t.become } : {}),
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
    approval(req) {
      emit(
        {
          event: req.state === 'pending' ? 'approval_requested' : `approval_${req.state}`,
          approval_id: req.id,
          principal: req.principal.name,
          via: req.principal.via,
          hosts: req.hosts,
          task_ids: req.taskIds,
          command: req.command,
          command_sha256: req.commandSha256,
          call_sha256: req.callSha256,
          ...(req.workdir !== undefined ? { workdir: req.workdir } : {}),
          ...(Object.keys(req.env).length > 0 ? { env_names: Object.keys(req.env).sort() } : {}),
          become: req.become,
          rules: req.terms.rules.map((r) => `${r.name} (${r.source})`),
          approve_by: req.terms.approve_by,
          four_eyes: req.terms.four_eyes,
          grant_minutes: req.terms.grant_minutes,
          deadline: new Date(req.deadline).toISOString(),
          ...(req.answeredBy
            ? { answered_by: req.answeredBy.name, answered_via: req.answeredBy.via, channel: req.answeredBy.channel }
            : {}),
          ...(req.reason !== undefined ? { reason: req.reason } : {}),
        },
        req.state === 'pending' ? 'approval requested' : `approval ${req.state}`,
      );
    },
    grantUsed(g) {
      emit(
        {
          event: 'approval_grant_used',
          approval_id: g.approvalId,
          principal: g.principal,
          alias: g.alias,
          call_sha256: g.callSha256,
          become: g.become,
          until: new Date(g.until).toISOString(),
        },
        'ran under a grant',
      );
    },
    approvalAnswerRefused(req, answerer, why) {
      emit(
        {
          event: 'approval_answer_refused',
          approval_id: req.id,
          principal: req.principal.name,
          answered_by: answerer.name,
          answered_via: answerer.via,
          channel: answerer.channel,
          reason: why,
        },
        'approval answer refused',
      );
    },
    fileDecision(d, context) {
      emit(
        {
          event: 'file_decision',
          ...context,
          alias: d.alias,
          access: d.access,
          path: d.path,
          ...(d.become !== null ? { become: d.become } : {}),
          verdict: d.verdict,
          allowed: d.allowed,
          reason: d.reason,
          rules: d.rule ? [`${d.rule.name} (${d.rule.source})`] : [],
        },
        d.allowed ? 'file access allowed' : 'file access denied',
      );
    },
    file({ op, ...detail }) {
      emit({ event: `file_${op}`, ...detail }, `file ${op}`);
    },
  };
}
