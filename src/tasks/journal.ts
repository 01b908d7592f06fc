/**
 * The task journal: one JSON line per task event (created, started, ended) — records, never
 * output. Each server writes a file of its own, `<state dir>/tasks.<pid>.jsonl`, so servers that
 * share the dir (every stdio server an agent starts) never write over each other. At start a
 * server claims the files of servers that no longer run (an atomic rename: one claimant wins),
 * reports their unfinished tasks `lost` — never as succeeded — and keeps their records that are
 * still within their TTL in its own file. While it runs, the file holds what the task registry
 * holds: once the lines of forgotten tasks and superseded events outweigh the live records, it is
 * rewritten with the live ones (a temporary file, fsync, rename), so it stays bounded.
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ERROR_CODES } from '../errors.js';
import { processAlive } from '../process-alive.js';
import { openStateDir, refuseUnlessPrivate as refuse, syncDir } from './state-dir.js';
import { FINAL_STATES, OPEN_STATES, isFinal, type RestoredTask, type Task } from './task-manager.js';

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
  state: z.enum([...OPEN_STATES, ...FINAL_STATES]),
  created_at: z.number(),
  started_at: z.number().optional(),
  ended_at: z.number().optional(),
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
  error: z.object({ code: z.enum(ERROR_CODES), message: z.string(), hint: z.string().optional() }).optional(),
  limits: Limits,
  server_pid: z.number(),
  /** The principal that started the task (absent in journals written before principals). */
  owner: z.string().optional(),
  /** Bytes written to each stream, in the record of the end. */
  stdout_bytes: z.number().int().nonnegative().optional(),
  stderr_bytes: z.number().int().nonnegative().optional(),
});
export type JournalRecord = z.infer<typeof JournalRecord>;

/** Dead bytes (forgotten tasks, superseded events) allowed in the file before it is rewritten. */
const MIN_DEAD_BYTES = 1024 * 1024;
/**
 * A journal file larger than this is set aside unread. Ours stay under twice their live records
 * plus MIN_DEAD_BYTES: about 35 MiB at worst (1,000 tasks with 16 KiB commands), 1 MiB typically.
 */
const MAX_READ_BYTES = 64 * 1024 * 1024;

const FILE_RE = /^tasks\.(\d+)\.jsonl(?:\.claimed-by-(\d+))?$/;
/** A rewrite that a server did not finish. */
const TMP_RE = /^tasks\.(\d+)\.jsonl\.tmp$/;

export class TaskJournal {
  readonly path: string;
  /** Kept open: a fan-out writes three records per host, and an open per record adds up. */
  private fd: number | undefined;
  /** The last line of every task the registry holds, by id. */
  private readonly live = new Map<string, string>();
  private liveBytes = 0;
  private fileBytes = 0;
  /** After a failed rewrite, the next is tried once the file has doubled. */
  private rewriteAt = 0;

  constructor(
    readonly dir: string,
    private readonly pid = process.pid,
    private readonly isAlive: (pid: number) => boolean = processAlive,
  ) {
    openStateDir(dir, RISK);
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
      ...(task.owner !== undefined ? { owner: task.owner } : {}),
      ...(isFinal(task.state) ? { stdout_bytes: task.stdout.written, stderr_bytes: task.stderr.written } : {}),
    };
    this.write([line]);
    this.compactIfMostlyDead();
  }

  /** The registry forgot the task: its lines are dead, and go at the next rewrite. */
  forget(id: string): void {
    const line = this.live.get(id);
    if (line === undefined) return;
    this.live.delete(id);
    this.liveBytes -= Buffer.byteLength(line);
    this.compactIfMostlyDead();
  }

  /**
   * At start: claims the journals of servers that have ended (and an earlier file of this pid),
   * turns their unfinished tasks `lost`, and returns every task still within its TTL, oldest
   * first. One pass over each file; the claimed files go only once their records are in ours, on
   * disk.
   */
  recover(now: number): RestoredTask[] {
    const byId = new Map<string, JournalRecord>();
    const claimed: string[] = [];
    const gone = (pid: number) => pid === this.pid || !this.isAlive(pid);
    const names = readdirSync(this.dir);
    // A journal, or one that a server claimed and died before it had taken the records over.
    const mine = names.flatMap((name) => {
      const m = FILE_RE.exec(name);
      return m && gone(Number(m[2] ?? m[1])) ? [{ name, owner: m[1] as string }] : [];
    });
    // Refused before anything is claimed, so that the files stay as they were.
    for (const { name } of mine) refuseUnlessPrivate(join(this.dir, name), lstatSync(join(this.dir, name)), 'the journal file');
    for (const name of names) {
      const tmp = TMP_RE.exec(name);
      if (tmp && gone(Number(tmp[1]))) rmSync(join(this.dir, name), { force: true });
    }
    for (const { name, owner } of mine) {
      const to = join(this.dir, `tasks.${owner}.jsonl.claimed-by-${this.pid}`);
      try {
        renameSync(join(this.dir, name), to);
      } catch {
        continue; // another server claimed it first
      }
      const records = readRecords(to);
      if (records === undefined) {
        renameSync(to, join(this.dir, `tasks.${owner}.jsonl.unread`));
        continue;
      }
      claimed.push(to);
      for (const r of records.values()) {
        const rec = isFinal(r.state) ? r : lostRecord(r, now);
        if (now - (rec.ended_at ?? now) <= rec.limits.task_result_ttl * 1000) byId.set(rec.id, rec);
      }
    }
    const kept = [...byId.values()].sort((a, b) => a.created_at - b.created_at);
    this.write(kept);
    if (this.fd !== undefined) fsyncSync(this.fd);
    for (const path of claimed) rmSync(path, { force: true });
    return kept.map((rec) => ({
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
      ...(rec.owner !== undefined ? { owner: rec.owner } : {}),
      ...(rec.stdout_bytes !== undefined ? { stdoutBytes: rec.stdout_bytes } : {}),
      ...(rec.stderr_bytes !== undefined ? { stderrBytes: rec.stderr_bytes } : {}),
    }));
  }

  private write(records: JournalRecord[]): void {
    if (records.length === 0) return;
    const lines = records.map((r) => `${JSON.stringify(r)}\n`);
    const text = lines.join('');
    this.fd ??= openSync(this.path, 'a', 0o600);
    writeSync(this.fd, text);
    this.fileBytes += Buffer.byteLength(text);
    records.forEach((r, i) => {
      const line = lines[i] as string;
      const before = this.live.get(r.id);
      if (before !== undefined) this.liveBytes -= Buffer.byteLength(before);
      this.live.set(r.id, line);
      this.liveBytes += Buffer.byteLength(line);
    });
  }

  private compactIfMostlyDead(): void {
    const dead = this.fileBytes - this.liveBytes;
    if (dead > Math.max(this.liveBytes, MIN_DEAD_BYTES) && this.fileBytes >= this.rewriteAt) this.compact();
  }

  /**
   * Rewrites the file with the live records: into a temporary file, synced, renamed over the
   * journal (atomic: a crash leaves the old file or the new one, and either has the last record
   * of every unfinished task), then the dir synced.
   */
  private compact(): void {
    const tmp = `${this.path}.tmp`;
    const text = [...this.live.values()].join('');
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      syncDir(this.dir);
    } catch {
      rmSync(tmp, { force: true });
      this.rewriteAt = 2 * this.fileBytes;
      return;
    }
    // The open descriptor still points at the file that was replaced.
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.fileBytes = Buffer.byteLength(text);
    this.rewriteAt = 0;
  }
}

function lostRecord(r: JournalRecord, now: number): JournalRecord {
  return {
    ...r,
    state: 'lost',
    ended_at: now,
    error: {
      code: 'lost',
      message:
        r.state === 'awaiting_approval'
          ? `sshgate stopped while the task awaited approval (server pid ${r.server_pid}); it never ran`
          : `sshgate stopped while the task was ${r.state} (server pid ${r.server_pid}); its outcome is unknown`,
      hint:
        r.state === 'awaiting_approval'
          ? 'nothing ran; call it again to ask for approval again'
          : 'check on the host whether the command finished before running it again',
    },
  };
}

/**
 * Whoever can write a journal line can put words in a task's error message, which the agent reads
 * as sshgate's: the state dir and the journal files must be private (state-dir.ts).
 */
const RISK = 'forge task records in it';

function refuseUnlessPrivate(path: string, st: Parameters<typeof refuse>[1], what: string): void {
  refuse(path, st, what, RISK);
}

/** The last record of each task in a journal file; undefined when the file is too large to read. */
function readRecords(path: string): Map<string, JournalRecord> | undefined {
  const latest = new Map<string, JournalRecord>();
  let text: string;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return latest;
  }
  try {
    // Checked again on what was opened: the name checked before could have been replaced since.
    const st = fstatSync(fd);
    refuseUnlessPrivate(path, st, 'the journal file');
    if (st.size > MAX_READ_BYTES) return undefined;
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
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
