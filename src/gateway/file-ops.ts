/**
 * What the file tools do for a caller (issue 17): judge the path by the policy's `files:` rules,
 * resolve it on the host (SFTP realpath) and judge the resolved path too, then read, list, write or
 * edit it over SFTP as a task — counted, cancellable and bounded like a command — and audit
 * exactly which bytes were read or landed.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { whenAborted } from '../abort.js';
import type { Auditor, FileRecord } from '../audit/auditor.js';
import type { HostEntry } from '../config/file-formats.js';
import { SshgateError } from '../errors.js';
import { filePathProblem } from '../policy/file-decision.js';
import type { FileAccess, FileDecision } from '../policy/decision.js';
import { decideFileForHost } from '../policy/host-decision.js';
import { effectiveLimits } from '../policy/limits.js';
import type { Principal } from '../principal.js';
import type { RemoteFiles, RemoteStat, WriteOutcome } from '../ssh/remote-files.js';
import type { HostTarget } from '../ssh/pool.js';
import { isFinal, type ExecContext, type Task, type TaskManager } from '../tasks/task-manager.js';
import { MESSAGE_LIMIT, prefixWithin } from './budget.js';
import { replaceExactly, textOf, unifiedDiff } from './file-edit.js';
import type * as F from './file-contract.js';
import type { HostExecutor } from './host-executor.js';
import type { LiveConfig } from './live-config.js';

/** What one file call needs of the gateway view that serves it. */
export interface FileOpsDeps {
  config: LiveConfig;
  tasks: TaskManager;
  pool: HostExecutor;
  audit: Auditor;
  /** The caller's principal and how the audit names it; none for sshgate's own view. */
  principal?: Principal;
  audited: Record<string, string>;
  owner?: string;
  session?: string;
  /** One tool call against the caller's rate limit (throws when over it). */
  admitCall: () => void;
  /** One operation against the caller's quotas on the host (throws when over them). */
  admitOnHost: (host: HostEntry) => void;
}

const DEFAULT_READ_BYTES = 65_536;
const DEFAULT_LIST_ENTRIES = 200;
/** What a read's content may cost in a message (both copies, JSON escapes counted). */
const CONTENT_COST = MESSAGE_LIMIT - 64 * 1024;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface Judged {
  host: HostEntry;
  /** The user the operation elevates to; undefined: the login user. */
  become: string | undefined;
  /** The smallest max_file_bytes of the decisions that allowed the operation. */
  maxBytes: number;
}

/** What a file operation's work gets of its task besides the files: its signal, output and host. */
export interface FileTaskRun extends ExecContext {
  target: HostTarget;
  /** The host's pooled connections, for sshgate's own fixed commands (transfers' host hash). */
  pool: HostExecutor;
}

export type FileWork<T> = (files: RemoteFiles, path: string, judged: Judged, run: FileTaskRun) => Promise<T>;

/** A file operation's task, and its result once it has succeeded. */
export interface StartedFileOp<T> {
  task: Task;
  result?: T;
}

export class FileOps {
  constructor(private readonly deps: FileOpsDeps) {}

  async read(input: F.ReadFileInput, signal?: AbortSignal): Promise<F.ReadFileResult> {
    const offset = input.offset ?? 0;
    const wanted = input.max_bytes ?? DEFAULT_READ_BYTES;
    return this.run('ssh_read_file', input, ['read'], signal, async (files, path, judged) => {
      const resolved = await files.realpath(path);
      judged = this.judgeResolved('ssh_read_file', judged, ['read'], path, resolved);
      const got = await files.read(resolved, { offset, length: wanted }, judged.maxBytes);
      const { data, encoding } = encode(got.data, input.encoding ?? 'auto', resolved);
      const content = encoding === 'utf8' ? data.toString('utf8') : data.toString('base64');
      const rangeSha = sha256(data);
      this.record(
        {
          op: 'read',
          alias: input.alias,
          path,
          resolved_path: resolved,
          offset,
          bytes: data.length,
          range_sha256: rangeSha,
          sha256: got.sha256,
        },
        judged,
      );
      return {
        alias: input.alias,
        path,
        resolved_path: resolved,
        offset,
        bytes: data.length,
        eof: offset + data.length >= got.stat.size,
        encoding,
        content,
        size: got.stat.size,
        ...statView(got.stat),
        uid: got.stat.uid,
        gid: got.stat.gid,
        sha256: got.sha256,
        range_sha256: rangeSha,
      };
    });
  }

  async list(input: F.ListDirInput, signal?: AbortSignal): Promise<F.ListDirResult> {
    const max = input.max_entries ?? DEFAULT_LIST_ENTRIES;
    return this.run('ssh_list_dir', input, ['read'], signal, async (files, path, judged) => {
      const resolved = await files.realpath(path);
      this.judgeResolved('ssh_list_dir', judged, ['read'], path, resolved);
      const listed = await files.list(resolved, Number.MAX_SAFE_INTEGER);
      // A name a deny rule forbids reading is not shown either: a deny on /etc/ssl/private/*
      // keeps the key files' names, sizes and times out of a listing of the directory.
      const shown = listed.entries.filter((e) => !this.deniedByRule(judged, posix.join(resolved, e.name)));
      const hidden = listed.entries.length - shown.length;
      this.record({ op: 'list', alias: input.alias, path, resolved_path: resolved, entries: shown.length, hidden }, judged);
      return {
        alias: input.alias,
        path,
        resolved_path: resolved,
        entries: shown.slice(0, max).map((e) => ({ name: e.name, type: e.stat.type, size: e.stat.size, ...statView(e.stat) })),
        total: shown.length,
        truncated: shown.length > max,
        hidden,
      };
    });
  }

  async write(input: F.WriteFileInput, signal?: AbortSignal): Promise<F.WriteFileResult> {
    const data = decodeContent(input.content, input.encoding ?? 'utf8');
    const mode = input.mode !== undefined ? parseInt(input.mode, 8) : undefined;
    return this.run(
      'ssh_write_file',
      input,
      ['write'],
      signal,
      async (files, path, judged) => {
        const resolved = await resolveForWrite(files, path);
        judged = this.judgeResolved('ssh_write_file', judged, ['write'], path, resolved);
        tooLarge(data.length, judged.maxBytes, resolved);
        const outcome = await files.write(resolved, data, {
          ...(input.expected_sha256 !== undefined ? { expectedSha256: input.expected_sha256 } : {}),
          ...(input.create_only ? { createOnly: true } : {}),
          ...(mode !== undefined ? { mode } : {}),
        });
        this.recordChange(judged, 'write', input.alias, path, resolved, outcome);
        return writeResult(input.alias, path, resolved, outcome);
      },
      data.length,
    );
  }

  async edit(input: F.EditFileInput, signal?: AbortSignal): Promise<F.EditFileResult> {
    const occurrences = input.occurrences ?? 1;
    return this.run('ssh_edit_file', input, ['read', 'write'], signal, async (files, path, judged) => {
      const resolved = await resolveForWrite(files, path);
      judged = this.judgeResolved('ssh_edit_file', judged, ['read', 'write'], path, resolved);
      const current = await files.read(resolved, { offset: 0, length: judged.maxBytes + 1 }, judged.maxBytes);
      tooLarge(current.stat.size, judged.maxBytes, resolved);
      // The size limit keeps the hash: a file read whole always has one.
      const before = current.sha256 ?? sha256(current.data);
      if (input.expected_sha256 !== undefined && input.expected_sha256 !== before) throw changed(resolved, input.expected_sha256, before);
      const text = textOf(current.data, resolved);
      const next = replaceExactly(text, input.old, input.new, occurrences, resolved);
      const data = Buffer.from(next, 'utf8');
      tooLarge(data.length, judged.maxBytes, resolved);
      // Written only over the very file read: a change by anyone since is refused, not overwritten.
      const outcome = await files.write(resolved, data, { expectedSha256: before });
      this.recordChange(judged, 'edit', input.alias, path, resolved, outcome);
      const { diff, truncated } = unifiedDiff(resolved, text, next);
      return { ...writeResult(input.alias, path, resolved, outcome), replaced: occurrences, diff, diff_truncated: truncated };
    });
  }

  /**
   * Decides the path as given, starts the operation as a task on the host's pooled connection and
   * waits for it: a cancel (ssh_cancel, the caller giving up) and the task's time limit stop it.
   */
  private async run<T extends object>(
    tool: string,
    call: { alias: string; path: string; become?: string | undefined },
    accesses: readonly FileAccess[],
    signal: AbortSignal | undefined,
    work: FileWork<T>,
    bytesIn?: number,
  ): Promise<T & { task_id: string; become?: string }> {
    const { alias, path, become } = call;
    const started = this.start(tool, alias, path, accesses, work, {
      ...(bytesIn !== undefined ? { bytesIn } : {}),
      ...(become !== undefined ? { become } : {}),
    });
    const stop = whenAborted(signal, () => this.deps.tasks.cancel(started.task.id));
    try {
      await started.task.done;
    } finally {
      stop();
    }
    return { ...finished(started), ...(become !== undefined ? { become } : {}) };
  }

  /**
   * Decides the path as given and starts the operation as a task on the host's pooled
   * connection, without waiting for it (transfers.ts waits at most wait_seconds). Throws before
   * any task exists when the call is refused: the spelling, the policy, the size, the quotas.
   * With `become` the operation is decided for that user and done as that user (sudo or doas,
   * through sshgate's fixed scripts: src/ssh/elevated-files.ts).
   */
  start<T extends object>(
    tool: string,
    alias: string,
    path: string,
    accesses: readonly FileAccess[],
    work: FileWork<T>,
    options: { bytesIn?: number; maxSeconds?: number; before?: (judged: Judged) => void; become?: string } = {},
  ): StartedFileOp<T> {
    const { become } = options;
    this.deps.admitCall();
    const host = this.deps.config.host(alias);
    const problem = filePathProblem(path);
    if (problem) throw new SshgateError('invalid_input', problem.reason, problem.hint);
    const judged = this.judge(tool, { host, become }, accesses, path);
    if (options.bytesIn !== undefined) tooLarge(options.bytesIn, judged.maxBytes, path);
    options.before?.(judged);
    this.deps.admitOnHost(host);
    const target = this.deps.config.target(host);
    const limits = { ...effectiveLimits(this.deps.config.loaded.policy, host).values };
    if (options.maxSeconds !== undefined) limits.max_seconds = Math.min(limits.max_seconds, options.maxSeconds);
    // The executor may begin inside tasks.start: the holder of its result exists before.
    const started = {} as StartedFileOp<T>;
    started.task = this.deps.tasks.start(
      host.alias,
      `${tool.replace(/^ssh_/, '')} ${path}`,
      limits,
      async (ctx) => {
        const run = { ...ctx, target, pool: this.deps.pool };
        // Set when the work is done, even if a cancel came too late to stop it (a rename already
        // sent): what was done is reported, not "nothing changed".
        // Elevated, the host's credential says how (sudo by default); the call says as whom.
        const elevation = become !== undefined ? { become: { ...(target.become ?? { method: 'sudo' as const }), user: become } } : {};
        await this.deps.pool.files(target, { signal: ctx.signal, deadline: ctx.deadline, ...elevation }, async (files) => {
          started.result = await work(files, path, judged, run);
        });
        return { exitCode: 0, signal: null };
      },
      {
        ...(become !== undefined ? { become } : {}),
        ...(this.deps.owner !== undefined ? { owner: this.deps.owner } : {}),
        ...(this.deps.session !== undefined ? { session: this.deps.session } : {}),
      },
    );
    return started;
  }

  /**
   * The decision for each access to `path`, as the call elevates (an elevated call is allowed only
   * by a rule with `become:` naming its user); the first denial is audited and thrown.
   */
  private judge(tool: string, on: { host: HostEntry; become: string | undefined }, accesses: readonly FileAccess[], path: string): Judged {
    const { host, become } = on;
    let maxBytes = Infinity;
    for (const access of accesses) {
      const d = decideFileForHost(this.deps.config.loaded.engine, host, {
        access,
        path,
        ...(this.deps.principal ? { principal: this.deps.principal } : {}),
        ...(become !== undefined ? { become } : {}),
      });
      this.deps.audit.fileDecision(d, { tool, ...this.deps.audited });
      if (!d.allowed) throw denied(host.alias, d);
      maxBytes = Math.min(maxBytes, d.max_file_bytes);
    }
    return { host, become, maxBytes };
  }

  /**
   * Whether a deny rule (not merely the absence of an allow rule) forbids reading `path`, for the
   * call's elevation: the deny rules that hold for it are the ones that hide names.
   */
  private deniedByRule(judged: Judged, path: string): boolean {
    const d = decideFileForHost(this.deps.config.loaded.engine, judged.host, {
      access: 'read',
      path,
      ...(this.deps.principal ? { principal: this.deps.principal } : {}),
      ...(judged.become !== undefined ? { become: judged.become } : {}),
    });
    return d.verdict === 'deny' && d.rule !== null;
  }

  /** The resolved path is judged again when it differs: a symlink may not lead out of what is allowed. */
  judgeResolved(tool: string, judged: Judged, accesses: readonly FileAccess[], path: string, resolved: string): Judged {
    if (resolved === path) return judged;
    const again = this.judge(tool, judged, accesses, resolved);
    return { ...judged, maxBytes: Math.min(judged.maxBytes, again.maxBytes) };
  }

  /** One file record; an elevated operation's (`judged` says) names the user it was done as. */
  record(r: FileRecord, judged?: Judged): void {
    const become = judged?.become !== undefined ? { become: judged.become } : {};
    this.deps.audit.file({ ...r, ...become, ...this.deps.audited });
  }

  private recordChange(judged: Judged, op: 'write' | 'edit', alias: string, path: string, resolved: string, o: WriteOutcome): void {
    this.record(
      {
        op,
        alias,
        path,
        resolved_path: resolved,
        sha256_before: o.before?.sha256 ?? null,
        sha256_after: o.after.sha256,
        size: o.after.size,
        mode: octal(o.after.mode),
      },
      judged,
    );
  }
}

/**
 * A write's path with its directory resolved and its last component kept as it is: a write
 * replaces what is at the path and never follows a symlink there (the SFTP side refuses one).
 */
export async function resolveForWrite(files: RemoteFiles, path: string): Promise<string> {
  if (path === '/') throw new SshgateError('not_a_file', '/ is a directory', 'name a file');
  const dir = await files.realpath(posix.dirname(path));
  return posix.join(dir, posix.basename(path));
}

/** The bytes to return and how: utf8 where they are text (cut to a whole character), else base64. */
function encode(data: Buffer, wanted: 'auto' | 'utf8' | 'base64', path: string): { data: Buffer; encoding: 'utf8' | 'base64' } {
  if (wanted === 'base64') return { data, encoding: 'base64' };
  const whole = data.subarray(0, data.length - incompleteTail(data));
  if (isText(whole)) return { data: whole.subarray(0, prefixWithin(whole, CONTENT_COST)), encoding: 'utf8' };
  if (wanted === 'utf8') {
    throw new SshgateError('invalid_input', `the bytes read from ${path} are not UTF-8 text`, 'read them with encoding base64 (or auto)');
  }
  return { data, encoding: 'base64' };
}

function isText(data: Buffer): boolean {
  if (data.includes(0)) return false;
  try {
    strictUtf8.decode(data);
    return true;
  } catch {
    return false;
  }
}

/** How many bytes at the end begin a UTF-8 character the range cut off (0 to 3). */
function incompleteTail(data: Buffer): number {
  for (let back = 1; back <= Math.min(3, data.length); back++) {
    const b = data[data.length - back] as number;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

function decodeContent(content: string, encoding: 'utf8' | 'base64'): Buffer {
  if (encoding === 'utf8') return Buffer.from(content, 'utf8');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(content) || content.length % 4 !== 0) {
    throw new SshgateError(
      'invalid_input',
      'content is not valid base64',
      'give standard base64 (A-Z a-z 0-9 + /, padded with =), or encoding utf8 for text',
    );
  }
  return Buffer.from(content, 'base64');
}

export function tooLarge(size: number, max: number, path: string): void {
  if (size <= max) return;
  throw new SshgateError(
    'file_too_large',
    `${path}: ${size} bytes is over the policy's max_file_bytes (${max})`,
    'the limit is max_file_bytes in the policy (limits, overrides, or the files: rule); ssh_read_file reads a large file by range',
  );
}

function changed(path: string, expected: string, actual: string): SshgateError {
  return new SshgateError(
    'file_changed',
    `${path} changed since it was read (sha256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…): nothing was written`,
    'read it again (ssh_read_file), apply the change to what is there now, and give its sha256 as expected_sha256',
  );
}

function denied(alias: string, d: FileDecision): SshgateError {
  return new SshgateError(
    'policy_denied',
    `host "${alias}": ${d.reason}`,
    'ssh_describe_host lists the files: rules of a host; sshgate plan --read/--write shows the decision; ask for a policy change if it should be allowed',
  );
}

/** The result of a file task that has ended; the error it ended with otherwise. */
export function finished<T extends object>(started: StartedFileOp<T>): T & { task_id: string } {
  const { task, result } = started;
  if (result !== undefined) return { ...result, task_id: task.id };
  throw endedWithout(task);
}

/** Why a file task ended without a result: its error, or how it was stopped. */
function endedWithout(task: Task): SshgateError {
  if (task.error) return new SshgateError(task.error.code, task.error.message, task.error.hint);
  if (task.state === 'timed_out') {
    return new SshgateError(
      'timeout',
      `the file operation ran out of its ${task.limits.max_seconds} s (max_seconds)`,
      'nothing was changed on the host; a large file is read by range',
    );
  }
  if (task.state === 'cancelled')
    return new SshgateError('cancelled', 'the file operation was cancelled: nothing was changed on the host', `task ${task.id}`);
  return new SshgateError('internal', `the file operation ended ${isFinal(task.state) ? task.state : 'unfinished'}`, `task ${task.id}`);
}

function writeResult(alias: string, path: string, resolved: string, o: WriteOutcome): Omit<F.WriteFileResult, 'task_id'> {
  return {
    alias,
    path,
    resolved_path: resolved,
    created: o.before === null,
    before: o.before ? { sha256: o.before.sha256, size: o.before.size, mode: octal(o.before.mode) } : null,
    after: { sha256: o.after.sha256, size: o.after.size, mode: octal(o.after.mode) },
  };
}

function statView(s: RemoteStat): { mode: string; mtime: string } {
  return { mode: octal(s.mode), mtime: new Date(s.mtime * 1000).toISOString() };
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
