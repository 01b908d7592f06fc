/**
 * The day's command counts per principal and host, kept in the state dir so that a restart does
 * not hand a principal a fresh quota (the rate limiter, policy/rate-limits.ts, reads and adds to
 * them). Like the task journal, each server writes a file of its own, `quotas.<pid>.json`, and
 * servers that share the dir (every stdio server an agent starts) never write over each other: a
 * principal's count is the sum over the files of the same UTC day, its own server's counts as they
 * are and the others' as they were at most a second ago. At start a server claims the files of
 * servers that no longer run (an atomic rename: one claimant wins) and carries their counts of the
 * day on in its own file.
 *
 * A file is rewritten whole (temporary file, fsync, rename: a crash leaves the old file or the new
 * one) off the event loop, so that no call waits for the disk, and at most once a second
 * (WRITE_EVERY_MS): the file trails the counts by at most a second and a write. One write is in
 * flight at a time, on one chain, so a later write is never overtaken by an earlier one.
 * `close()` waits for the write in flight and writes what is left. A file holds one day and at most MAX_PAIRS counts.
 * A file that cannot be read is never taken as zero: at start the store refuses to open, and while
 * it runs every command is refused, until the file is moved aside.
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
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { RateLimitedError, SshgateError } from '../errors.js';
import { processAlive } from '../process-alive.js';
import { nextUtcMidnight, utcDay } from '../utc-day.js';
import { openStateDir, quote, refuseUnlessPrivate } from './state-dir.js';

/** What another user could do with a quota file they could write. */
const RISK = 'reset the quotas in it';

/** Principal and host pairs one file counts in a day: a file stays under a few MiB. */
const MAX_PAIRS = 20_000;
/** A quota file larger than this is not ours: refused unread. */
const MAX_READ_BYTES = 32 * 1024 * 1024;
/** Other servers' files are read again at most this often. */
const REFRESH_MS = 1000;
/**
 * A write begins at most once a second. Rewriting the file after every command cost a warm call
 * 0.8 ms of the event loop (the file calls' promises, on a busy machine); the other servers read it
 * at most once a second anyway, and a crash forgets at most the last second's commands — less than
 * a restart gives back by filling the per-minute buckets.
 */
const WRITE_EVERY_MS = 1000;

const FILE_RE = /^quotas\.(\d+)\.json(?:\.claimed-by-(\d+))?$/;
/**
 * A rewrite that a server did not finish: `.tmp` at start (synchronous), `.next.tmp` while it runs
 * (asynchronous), so the two never write the same temporary file.
 */
const TMP_RE = /^quotas\.(\d+)\.json(?:\.next)?\.tmp$/;

export const QuotaFile = z.strictObject({
  version: z.literal(1),
  /** The UTC day counted, `YYYY-MM-DD`. */
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  /** [principal, alias, commands started]. */
  counts: z.array(z.tuple([z.string().min(1), z.string().min(1), z.int().min(1)])).max(MAX_PAIRS),
});
export type QuotaFile = z.infer<typeof QuotaFile>;

export interface QuotaStoreOptions {
  /** This server's pid: its file is `quotas.<pid>.json`. */
  pid?: number;
  isAlive?: (pid: number) => boolean;
  /** Milliseconds since the epoch; the rate limiter's clock. */
  now?: () => number;
  /** A write that failed: the counts stay in memory and the next command tries again. */
  onWriteError?: (err: Error) => void;
  /** At most this many principal and host pairs a day (MAX_PAIRS). */
  maxPairs?: number;
  /** A write begins at most once in this many milliseconds (WRITE_EVERY_MS). */
  writeEveryMs?: number;
}

/** One day's counts: by principal and alias, and their sums by principal. */
class DayTally {
  readonly pairs = new Map<string, number>();
  readonly byPrincipal = new Map<string, number>();

  constructor(readonly day: string) {}

  add(principal: string, alias: string, n: number): void {
    const key = pairKey(principal, alias);
    this.pairs.set(key, (this.pairs.get(key) ?? 0) + n);
    this.byPrincipal.set(principal, (this.byPrincipal.get(principal) ?? 0) + n);
  }

  get(principal: string, alias: string): { all: number; host: number } {
    return { all: this.byPrincipal.get(principal) ?? 0, host: this.pairs.get(pairKey(principal, alias)) ?? 0 };
  }

  static from(file: QuotaFile): DayTally {
    const t = new DayTally(file.day);
    for (const [principal, alias, n] of file.counts) t.add(principal, alias, n);
    return t;
  }

  toFile(): QuotaFile {
    return {
      version: 1,
      day: this.day,
      counts: [...this.pairs].map(([key, n]) => {
        const [principal, alias] = JSON.parse(key) as [string, string];
        return [principal, alias, n];
      }),
    };
  }
}

/** Another server's file as last read, and what tells whether it changed since. */
interface Seen {
  stamp: string;
  tally: DayTally;
}

export class QuotaStore {
  readonly path: string;
  private own: DayTally;
  private readonly others = new Map<string, Seen>();
  private refreshedAt = -Infinity;
  /** Counts changed since the last write began, or a write failed. */
  private dirty = false;
  /** The write that add() scheduled and that has not begun. */
  private scheduled: { cancel(): void } | undefined;
  /** When the last write began (performance.now()): the next waits WRITE_EVERY_MS from there. */
  private lastWriteAt = -Infinity;
  private readonly writeEveryMs: number;
  /** The last write, in flight or queued; settles when it has, never rejects. */
  private chain: Promise<void> = Promise.resolve();
  /** A write is queued behind the one in flight and has not begun: it writes the counts as they are then. */
  private queued = false;
  private readonly pid: number;
  private readonly now: () => number;
  private readonly maxPairs: number;

  private constructor(
    readonly dir: string,
    private readonly options: QuotaStoreOptions,
  ) {
    this.pid = options.pid ?? process.pid;
    this.now = options.now ?? Date.now;
    this.maxPairs = options.maxPairs ?? MAX_PAIRS;
    this.writeEveryMs = options.writeEveryMs ?? WRITE_EVERY_MS;
    this.path = join(dir, `quotas.${this.pid}.json`);
    this.own = new DayTally(utcDay(this.now()));
  }

  /**
   * Opens the state dir's counts: claims the files of servers that have ended (and an earlier file
   * of this pid) and carries their counts of today on in this server's file. Throws an SshgateError
   * (`invalid_config`) for a dir or file another user could write, and for a file that cannot be
   * read, which is left where it is.
   */
  static open(dir: string, options: QuotaStoreOptions = {}): QuotaStore {
    openStateDir(dir, RISK);
    const store = new QuotaStore(dir, options);
    store.claim();
    return store;
  }

  /** The commands counted on `day` for the principal, on all hosts and on `alias`, by every server of the dir. */
  get(day: string, principal: string, alias: string): { all: number; host: number } {
    this.refresh();
    const sum = this.own.day === day ? this.own.get(principal, alias) : { all: 0, host: 0 };
    for (const { tally } of this.others.values()) {
      if (tally.day !== day) continue;
      const c = tally.get(principal, alias);
      sum.all += c.all;
      sum.host += c.host;
    }
    return sum;
  }

  /**
   * Counts one command; its write begins at the next turn of the event loop, or, when a write
   * began less than writeEveryMs ago, once that much time has passed since.
   */
  add(day: string, principal: string, alias: string): void {
    if (this.own.day !== day) this.own = new DayTally(day);
    if (!this.own.pairs.has(pairKey(principal, alias)) && this.own.pairs.size >= this.maxPairs) {
      const now = this.now();
      const seconds = Math.max(1, Math.ceil((nextUtcMidnight(now) - now) / 1000));
      throw new RateLimitedError(
        `this server already counts ${this.maxPairs} principal and host pairs today, as many as its quota file keeps; principal "${principal}" cannot start a first command on host "${alias}" today`,
        `the day's count starts again at 00:00 UTC: retry in ${seconds} s`,
        seconds,
      );
    }
    this.own.add(principal, alias, 1);
    this.dirty = true;
    if (this.scheduled) return;
    const go = () => {
      this.scheduled = undefined;
      void this.flush();
    };
    const wait = this.lastWriteAt + this.writeEveryMs - performance.now();
    if (wait <= 0) {
      const immediate = setImmediate(go);
      this.scheduled = { cancel: () => clearImmediate(immediate) };
    } else {
      // Unref'd: a server that stops calls close(), which writes what is left.
      const timer = setTimeout(go, wait).unref();
      this.scheduled = { cancel: () => clearTimeout(timer) };
    }
  }

  /**
   * Writes the counts if they changed (a temporary file, fsync, rename), after the write in flight
   * if there is one; resolves once the counts as they are now are on disk, or their write failed
   * (told to onWriteError; the counts stay in memory and the next command tries again). Never
   * rejects.
   */
  flush(): Promise<void> {
    this.scheduled?.cancel();
    this.scheduled = undefined;
    if (this.dirty && !this.queued) {
      this.queued = true;
      this.chain = this.chain.then(() => this.write());
    }
    return this.chain;
  }

  /** Waits for the write in flight and writes what is left; the server is stopping. Never rejects. */
  close(): Promise<void> {
    return this.flush();
  }

  private async write(): Promise<void> {
    this.queued = false;
    if (!this.dirty) return;
    this.dirty = false;
    this.lastWriteAt = performance.now();
    try {
      await writeAtomicallyAsync(this.path, `${this.path}.next.tmp`, `${JSON.stringify(this.own.toFile())}\n`);
    } catch (err) {
      this.dirty = true;
      try {
        this.options.onWriteError?.(err as Error);
      } catch {
        // A report that fails must not stop the writes that follow.
      }
    }
  }

  private gone(pid: number): boolean {
    return pid === this.pid || !(this.options.isAlive ?? processAlive)(pid);
  }

  private claim(): void {
    const names = readdirSync(this.dir);
    for (const name of names) {
      const tmp = TMP_RE.exec(name);
      if (tmp && this.gone(Number(tmp[1]))) rmSync(join(this.dir, name), { force: true });
    }
    const files = names.flatMap((name) => {
      const m = FILE_RE.exec(name);
      return m ? [{ name, owner: m[1] as string, dead: this.gone(Number(m[2] ?? m[1])) }] : [];
    });
    // Every file is checked before any is claimed, so that a refusal leaves them all as they were.
    for (const { name } of files) refuseUnlessPrivate(join(this.dir, name), lstatSync(join(this.dir, name)), 'the quota file', RISK);
    for (const { name, dead } of files) {
      const stamp = stampOf(join(this.dir, name));
      const tally = readTally(join(this.dir, name), 'start');
      if (!dead && tally && stamp !== undefined) this.others.set(name, { stamp, tally });
    }
    this.refreshedAt = this.now();
    const claimed: string[] = [];
    for (const { name, owner, dead } of files) {
      if (!dead) continue;
      const to = join(this.dir, `quotas.${owner}.json.claimed-by-${this.pid}`);
      try {
        renameSync(join(this.dir, name), to);
      } catch {
        continue; // another server claimed it first, and counts it in its own file
      }
      claimed.push(to);
      const tally = readTally(to, 'start');
      if (tally?.day !== this.own.day) continue;
      for (const [key, n] of tally.pairs) {
        const [principal, alias] = JSON.parse(key) as [string, string];
        this.own.add(principal, alias, n);
      }
    }
    if (this.own.pairs.size > 0) {
      // The claimed counts are on disk in this server's file before the claimed files go. A crash
      // in between counts them twice: too many, never too few.
      writeAtomically(this.path, `${JSON.stringify(this.own.toFile())}\n`);
    }
    for (const path of claimed) rmSync(path, { force: true });
  }

  /** Reads the other servers' files again when REFRESH_MS has passed: only those that changed. */
  private refresh(): void {
    const now = this.now();
    if (now - this.refreshedAt < REFRESH_MS && now >= this.refreshedAt) return;
    const names = new Set(readdirSync(this.dir).filter((n) => FILE_RE.test(n) && join(this.dir, n) !== this.path));
    for (const name of this.others.keys()) if (!names.has(name)) this.others.delete(name);
    for (const name of names) {
      const path = join(this.dir, name);
      const stamp = stampOf(path);
      if (stamp === undefined) {
        this.others.delete(name);
        continue;
      }
      if (this.others.get(name)?.stamp === stamp) continue;
      const tally = readTally(path, 'running');
      if (tally) this.others.set(name, { stamp, tally });
      else this.others.delete(name);
    }
    this.refreshedAt = now;
  }
}

/** What changes when a file is replaced or written: its inode, size and modification time. */
function stampOf(path: string): string | undefined {
  try {
    const st = lstatSync(path, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return undefined;
  }
}

/**
 * A quota file's counts; undefined when it is gone (claimed by another server). Throws an
 * SshgateError for a file another user could write or that cannot be read: its counts are
 * unknown, and taking them as zero would hand out a fresh quota.
 */
function readTally(path: string, when: 'start' | 'running'): DayTally | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message, when);
  }
  let text: string;
  try {
    // Checked again on what was opened: the name checked before could have been replaced since.
    const st = fstatSync(fd);
    refuseUnlessPrivate(path, st, 'the quota file', RISK);
    if (st.size > MAX_READ_BYTES) throw unreadable(path, `${st.size} bytes, more than sshgate ever writes`, when);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw unreadable(path, text.trim() === '' ? 'it is empty' : 'it is not JSON', when);
  }
  const parsed = QuotaFile.safeParse(data);
  if (!parsed.success) {
    const version = (data as { version?: unknown } | null)?.version;
    throw unreadable(
      path,
      typeof version === 'number' && version !== 1 ? `version ${version}, written by another sshgate` : 'not a quota file of this sshgate',
      when,
    );
  }
  return DayTally.from(parsed.data);
}

function unreadable(path: string, why: string, when: 'start' | 'running'): SshgateError {
  return new SshgateError(
    'invalid_config',
    `the quota file ${path} cannot be read (${why}); the commands it counts today would be forgotten, ${when === 'start' ? 'not serving' : 'so no command is started until it can be read'}`,
    `if no sshgate is writing it, move it aside (mv ${quote(path)} ${quote(`${path}.bad`)}), accepting that its counts are lost, and ${when === 'start' ? 'start again' : 'retry'}`,
  );
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // What failed is the write; the error that says why is the one to report.
    }
    throw err;
  }
}

/** writeAtomically off the event loop (libuv's thread pool), through the temporary file `tmp`. */
async function writeAtomicallyAsync(path: string, tmp: string, text: string): Promise<void> {
  try {
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // What failed is the write; the error that says why is the one to report.
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

function pairKey(principal: string, alias: string): string {
  return JSON.stringify([principal, alias]);
}
