/**
 * The task journal: one JSON line per task event (created, started, ended) — records, never
 * output. Each server writes a file of its own, `<state dir>/tasks.<pid>.jsonl`, so servers that
 * share the dir (every stdio server an agent starts) never write over each other. At start a
 * server claims the files of servers that no longer run (an atomic rename: one claimant wins),
 * reports their unfinished tasks `lost` — never as succeeded — and keeps their records that are
 * still within their TTL in its own file.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ERROR_CODES } from '../errors.js';
import { processAlive } from '../process-alive.js';
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

const FILE_RE = /^tasks\.(\d+)\.jsonl$/;

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
    this.path = join(dir, `tasks.${pid}.jsonl`);
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
    this.write([line]);
    if (this.appended > COMPACT_BYTES) this.compact(Date.now());
  }

  /**
   * At start: claims the journals of servers that have ended (and an earlier file of this pid),
   * turns their unfinished tasks `lost`, and returns every task still within its TTL.
   */
  recover(now: number): RestoredTask[] {
    const kept: JournalRecord[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = FILE_RE.exec(name);
      if (!m) continue;
      const owner = Number(m[1]);
      if (owner !== this.pid && this.isAlive(owner)) continue;
      const claimed = join(this.dir, `${name}.claimed-by-${this.pid}`);
      try {
        renameSync(join(this.dir, name), claimed);
      } catch {
        continue; // another server claimed it first
      }
      const records = readRecords(claimed);
      if (records === undefined) {
        renameSync(claimed, join(this.dir, `${name}.unread`));
        continue;
      }
      for (const r of records.values()) {
        const rec = isFinal(r.state) ? r : lostRecord(r, now);
        if (now - (rec.ended_at ?? now) <= rec.limits.task_result_ttl * 1000) kept.push(rec);
      }
      rmSync(claimed, { force: true });
    }
    this.write(kept);
    return kept
      .map((rec) => ({
        id: rec.id,
        alias: rec.alias,
        command: rec.command,
        limits: rec.limits,
        state: rec.state as RestoredTask['state'],
        createdAt: rec.created_at,
        ...(rec.started_at !== undefined ? { startedAt: rec.started_at } : {}),
        endedAt: rec.ended_at ?? now,
        exitCode: rec.exit_code,
        signal: rec.signal,
        ...(rec.error ? { error: rec.error } : {}),
      }))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  private write(records: JournalRecord[]): void {
    if (records.length === 0) return;
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    this.fd ??= openSync(this.path, 'a', 0o600);
    writeSync(this.fd, text);
    this.appended += text.length;
  }

  /** Rewrites this server's own journal with the last record of each task that still matters. */
  private compact(now: number): void {
    const records = readRecords(this.path);
    if (records === undefined) return;
    const keep = [...records.values()].filter((r) => !isFinal(r.state) || now - (r.ended_at ?? now) <= r.limits.task_result_ttl * 1000);
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, keep.map((r) => `${JSON.stringify(r)}\n`).join(''), { mode: 0o600 });
    renameSync(tmp, this.path);
    // The open descriptor still points at the file that was replaced.
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.appended = 0;
  }
}

function lostRecord(r: JournalRecord, now: number): JournalRecord {
  return {
    ...r,
    state: 'lost',
    ended_at: now,
    error: {
      code: 'lost',
      message: `sshgate stopped while the task was ${r.state} (server pid ${r.server_pid}); its outcome is unknown`,
      hint: 'check on the host whether the command finished before running it again',
    },
  };
}

/** The last record of each task in a journal file; undefined when the file is too large to read. */
function readRecords(path: string): Map<string, JournalRecord> | undefined {
  const latest = new Map<string, JournalRecord>();
  let text: string;
  try {
    if (statSync(path).size > 4 * COMPACT_BYTES) return undefined;
    text = readFileSync(path, 'utf8');
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
