/**
 * The task journal: one JSON line per task event (created, started, ended) in
 * `<state dir>/tasks.jsonl` — records, never output. After a restart the last record of each task
 * tells what became of it: a task some server left unfinished, and whose server is gone, is
 * reported `lost`, never as succeeded. Several servers may share the dir: each record names its
 * server's pid, and only tasks of servers that no longer run are declared lost.
 */
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ERROR_CODES } from '../errors.js';
import { FINAL_STATES, isFinal, type RestoredTask, type Task } from './task-manager.js';

const Limits = z.object({
  max_seconds: z.number(),
  max_output_bytes: z.number(),
  max_concurrent_per_host: z.number(),
  task_result_ttl: z.number(),
});

export const JournalRecord = z.object({
  id: z.string(),
  alias: z.string(),
  command: z.string(),
  state: z.enum(['queued', 'running', ...FINAL_STATES]),
  created_at: z.number(),
  started_at: z.number().optional(),
  ended_at: z.number().optional(),
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
  error: z.object({ code: z.enum(ERROR_CODES), message: z.string(), hint: z.string().optional() }).optional(),
  limits: Limits,
  server_pid: z.number(),
});
export type JournalRecord = z.infer<typeof JournalRecord>;

/** The journal is rewritten with only the records still worth keeping once it grows past this. */
const COMPACT_BYTES = 8 * 1024 * 1024;

export class TaskJournal {
  readonly path: string;
  private appended = 0;
  /** Kept open: a fan-out writes three records per host, and an open per record adds up. */
  private fd: number | undefined;

  constructor(
    readonly dir: string,
    private readonly pid = process.pid,
    private readonly isAlive: (pid: number) => boolean = processAlive,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, 'tasks.jsonl');
  }

  record(task: Task): void {
    const line: JournalRecord = {
      id: task.id,
      alias: task.alias,
      command: task.command,
      state: task.state,
      created_at: task.createdAt,
      ...(task.startedAt !== undefined ? { started_at: task.startedAt } : {}),
      ...(task.endedAt !== undefined ? { ended_at: task.endedAt } : {}),
      exit_code: task.exitCode,
      signal: task.signal,
      ...(task.error ? { error: task.error } : {}),
      limits: task.limits,
      server_pid: this.pid,
    };
    const text = `${JSON.stringify(line)}\n`;
    this.fd ??= openSync(this.path, 'a', 0o600);
    writeSync(this.fd, text);
    this.appended += text.length;
    if (this.appended > COMPACT_BYTES) {
      this.appended = 0;
      this.compact(Date.now());
    }
  }

  /**
   * Reads the journal at start: the finished tasks still within their TTL, with every task an
   * ended server left unfinished turned `lost` (and recorded so). Unreadable lines are skipped.
   */
  recover(now: number): RestoredTask[] {
    const latest = this.latest();
    const out: RestoredTask[] = [];
    for (const r of latest.values()) {
      let rec = r;
      if (!isFinal(r.state)) {
        if (r.server_pid !== this.pid && this.isAlive(r.server_pid)) continue;
        rec = {
          ...r,
          state: 'lost',
          ended_at: now,
          error: {
            code: 'lost',
            message: `sshgate stopped while the task was ${r.state} (server pid ${r.server_pid}); its outcome is unknown`,
            hint: 'check on the host whether the command finished before running it again',
          },
        };
        appendFileSync(this.path, `${JSON.stringify({ ...rec, server_pid: this.pid })}\n`, { mode: 0o600 });
      }
      const ended = rec.ended_at ?? now;
      if (now - ended > rec.limits.task_result_ttl * 1000) continue;
      out.push({
        id: rec.id,
        alias: rec.alias,
        command: rec.command,
        limits: rec.limits,
        state: rec.state as RestoredTask['state'],
        createdAt: rec.created_at,
        ...(rec.started_at !== undefined ? { startedAt: rec.started_at } : {}),
        endedAt: ended,
        exitCode: rec.exit_code,
        signal: rec.signal,
        ...(rec.error ? { error: rec.error } : {}),
      });
    }
    this.compact(now);
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Rewrites the journal with the last record of each task that still matters. */
  private compact(now: number): void {
    const keep = [...this.latest().values()].filter(
      (r) => !isFinal(r.state) || now - (r.ended_at ?? now) <= r.limits.task_result_ttl * 1000,
    );
    const tmp = `${this.path}.${this.pid}.tmp`;
    writeFileSync(tmp, keep.map((r) => `${JSON.stringify(r)}\n`).join(''), { mode: 0o600 });
    renameSync(tmp, this.path);
    // The open descriptor still points at the file that was replaced.
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private latest(): Map<string, JournalRecord> {
    const latest = new Map<string, JournalRecord>();
    let text = '';
    try {
      if (statSync(this.path).size > 4 * COMPACT_BYTES) return latest;
      text = readFileSync(this.path, 'utf8');
    } catch {
      return latest;
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      const r = JournalRecord.safeParse(parsed);
      if (r.success) latest.set(r.data.id, r.data);
    }
    return latest;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
