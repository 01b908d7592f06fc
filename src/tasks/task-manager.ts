/**
 * The TaskManager: every command becomes a task with an id, an AbortController, a state and two
 * bounded output buffers. It queues tasks beyond a host's concurrency limit, ends every task in
 * a recorded final state (a timeout and a cancel go through the same abort), and forgets finished
 * tasks after their TTL. How a task runs is the executor's business: this module knows no SSH.
 */
import { SshgateError, type ErrorCode } from '../errors.js';
import { Fifo } from './fifo.js';
import { FinishedIndex } from './finished-index.js';
import { TaskIdFactory } from './ids.js';
import { OutputBuffer } from './output-buffer.js';

/** `denied`: a person refused it, or no one approved it in time (it never ran). */
export const FINAL_STATES = ['succeeded', 'failed', 'cancelled', 'timed_out', 'lost', 'denied'] as const;
export type FinalState = (typeof FINAL_STATES)[number];
/** `awaiting_approval`: held until a person approves it (src/approvals/); then queued. */
export const OPEN_STATES = ['awaiting_approval', 'queued', 'running'] as const;
export type TaskState = (typeof OPEN_STATES)[number] | FinalState;

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  /** Set when the connection died under a running command: its outcome is unknown. */
  lost?: string;
}

export interface ExecContext {
  signal: AbortSignal;
  /** Epoch ms at which the task's time limit runs out (connecting counts against it). */
  deadline: number;
  stdout: (data: Buffer) => void;
  stderr: (data: Buffer) => void;
}

/** Runs one command; resolves when it has ended, honouring `signal` to stop it. */
export type Executor = (ctx: ExecContext) => Promise<ExecResult>;

export interface TaskLimits {
  max_seconds: number;
  max_output_bytes: number;
  max_concurrent_per_host: number;
  task_result_ttl: number;
}

export type AbortReason = 'cancelled' | 'timed_out' | 'shutdown';

export interface Task {
  readonly id: string;
  readonly alias: string;
  readonly command: string;
  readonly limits: TaskLimits;
  /** The principal that started it (src/principal.ts): only it, or an admin, sees the task. */
  readonly owner?: string;
  /** The 2025-era HTTP session it was started in: when that session ends, the task is cancelled. */
  readonly session?: string;
  /** The user it runs as (become), when it is elevated. */
  readonly become?: string;
  /** A task of an earlier run, read from the journal. */
  readonly restored?: true;
  /** The approval request it awaits or awaited (src/approvals/), for a command an ask rule matched. */
  approval?: { id: string; deadline: number };
  state: TaskState;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  exitCode: number | null;
  signal: string | null;
  error?: { code: ErrorCode; message: string; hint?: string };
  readonly stdout: OutputBuffer;
  readonly stderr: OutputBuffer;
  /** Settles when the task reaches a final state. */
  readonly done: Promise<void>;
}

interface Entry extends Task {
  controller: AbortController;
  /** Resolved (and replaced) whenever the task writes output or changes state. */
  waiters: (() => void)[];
  executor: Executor;
  finish: () => void;
  timer?: NodeJS.Timeout;
  abortReason?: AbortReason;
  /** When its max_seconds began: at creation, or for a held task when it was released. */
  clockFrom: number;
}

export interface TaskManagerOptions {
  /** At most this many tasks are remembered; the oldest finished ones go first. */
  maxTasks?: number;
  /** At most this many queued tasks per host and caller. */
  maxQueuedPerHost?: number;
  now?: () => number;
  ids?: TaskIdFactory;
  /** Called once per task, when it reaches its final state (the audit record, the journal). */
  onEnd?: (task: Task) => void;
  /** Called when a task is created and when it starts running (the journal). */
  onChange?: (task: Task) => void;
  /** Called when a finished task is forgotten, past its TTL or over the bound (the journal drops it). */
  onForget?: (task: Task) => void;
}

/** A finished task known from elsewhere (the journal of an earlier run): state only, no output. */
export interface RestoredTask {
  id: string;
  alias: string;
  command: string;
  limits: TaskLimits;
  state: FinalState;
  createdAt: number;
  startedAt?: number;
  endedAt: number;
  exitCode: number | null;
  signal: string | null;
  error?: Task['error'];
  /** The principal that started it; none in journals written before principals. */
  owner?: string;
  /** Bytes the task wrote, as counted when it ended (none kept). */
  stdoutBytes?: number;
  stderrBytes?: number;
}

/**
 * What every restored task shares: it has ended and never runs, so nothing of this is used, and
 * an AbortController per task would cost a restart of 10,000 tasks most of its time.
 */
const RESTORED = {
  done: Promise.resolve(),
  controller: new AbortController(),
  executor: () => Promise.reject(new Error('a restored task does not run')),
  finish: () => undefined,
} satisfies Partial<Entry>;

/** A host's tasks that hold or wait for one of its places (max_concurrent_per_host). */
interface HostLine {
  running: number;
  /** In the order they were queued; one no longer queued (cancelled) is dropped when met. */
  queued: Fifo<Entry>;
}

/**
 * Starting, ending and forgetting a task cost O(1) amortised whatever the registry keeps (the
 * per-host lines, the per-caller queue counts and the finished index); only list() and
 * shutdown() walk every task.
 */
export class TaskManager {
  private readonly tasks = new Map<string, Entry>();
  private readonly hosts = new Map<string, HostLine>();
  /** Queued tasks per host and caller (`alias NUL owner`), for maxQueuedPerHost. */
  private readonly waiting = new Map<string, number>();
  private readonly finished = new FinishedIndex<Entry>((t) => this.tasks.get(t.id) === t);
  private readonly maxTasks: number;
  private readonly maxQueuedPerHost: number;
  private readonly now: () => number;
  private readonly ids: TaskIdFactory;
  private readonly onEnd: (task: Task) => void;
  private readonly onChange: (task: Task) => void;
  private readonly onForget: (task: Task) => void;
  /** Shutdown has begun: no task starts, none is released (an approval after the sweep runs nothing). */
  private closing = false;

  constructor(options: TaskManagerOptions = {}) {
    this.maxTasks = options.maxTasks ?? 1000;
    this.maxQueuedPerHost = options.maxQueuedPerHost ?? 200;
    this.now = options.now ?? Date.now;
    this.ids = options.ids ?? new TaskIdFactory();
    this.onEnd = options.onEnd ?? (() => undefined);
    this.onChange = options.onChange ?? (() => undefined);
    this.onForget = options.onForget ?? (() => undefined);
  }

  /**
   * A new task, queued to run; with `held`, in state awaiting_approval until `release` (or `refuse`,
   * or a cancel): its max_seconds begin when it is released.
   */
  start(
    alias: string,
    command: string,
    limits: TaskLimits,
    executor: Executor,
    who: { owner?: string; session?: string; held?: boolean; become?: string } = {},
  ): Task {
    const { owner, session, held, become } = who;
    if (this.closing) throw new SshgateError('busy', 'sshgate is shutting down', 'run the command again once the server is back');
    this.prune();
    // One caller cannot fill a host's queue for everyone else.
    const waiting = this.waiting.get(waitKey(alias, owner)) ?? 0;
    if (waiting >= this.maxQueuedPerHost) {
      throw new SshgateError(
        'busy',
        `${waiting} tasks of this caller already wait for host "${alias}"`,
        'wait for some to finish (ssh_list_tasks state=queued), or cancel them',
      );
    }
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const entry: Entry = {
      id: this.ids.next(alias, command),
      alias,
      command,
      ...(owner !== undefined ? { owner } : {}),
      ...(session !== undefined ? { session } : {}),
      ...(become !== undefined ? { become } : {}),
      limits,
      state: held ? 'awaiting_approval' : 'queued',
      createdAt: this.now(),
      clockFrom: this.now(),
      exitCode: null,
      signal: null,
      stdout: new OutputBuffer(limits.max_output_bytes),
      stderr: new OutputBuffer(limits.max_output_bytes),
      done,
      controller: new AbortController(),
      waiters: [],
      executor,
      finish,
    };
    this.tasks.set(entry.id, entry);
    if (!held) this.queue(entry);
    // A task that started at once was recorded running, before its command went out: one journal
    // line where there would be two.
    if (entry.state !== 'running') this.notify(entry);
    return entry;
  }

  /** A held task may run: it is queued, and its max_seconds begin. False if it is not held (ended, cancelled). */
  release(id: string): boolean {
    const entry = this.tasks.get(id);
    if (!entry || entry.state !== 'awaiting_approval' || this.closing) return false;
    entry.state = 'queued';
    entry.clockFrom = this.now();
    this.notify(entry);
    this.queue(entry);
    return true;
  }

  /** A held task will never run: it ends `denied` with `error`. False if it is not held. */
  refuse(id: string, error: NonNullable<Task['error']>): boolean {
    const entry = this.tasks.get(id);
    if (!entry || entry.state !== 'awaiting_approval') return false;
    entry.error = error;
    this.end(entry, 'denied');
    return true;
  }

  private queue(entry: Entry): void {
    // The whole task, queueing and connecting included, lives within max_seconds.
    entry.timer = setTimeout(() => this.abort(entry, 'timed_out'), entry.limits.max_seconds * 1000);
    this.line(entry.alias).queued.push(entry);
    this.countWaiting(entry, 1);
    this.pump(entry.alias);
  }

  get(id: string): Task | undefined {
    this.prune();
    const entry = this.tasks.get(id);
    // Exactly at its TTL, even where the expiry queue has not reached it yet (a restored task
    // ended before one already kept).
    if (entry && this.expired(entry, this.now())) {
      this.forget(id, entry);
      return undefined;
    }
    return entry;
  }

  /** Newest first. */
  list(state?: TaskState): Task[] {
    this.prune();
    return [...this.tasks.values()].filter((t) => state === undefined || t.state === state).reverse();
  }

  cancel(id: string): { result: 'cancelled' | 'already_finished' | 'not_found'; task?: Task } {
    const entry = this.tasks.get(id);
    if (!entry) return { result: 'not_found' };
    if (isFinal(entry.state)) return { result: 'already_finished', task: entry };
    this.abort(entry, 'cancelled');
    return { result: 'cancelled', task: entry };
  }

  /** Puts finished tasks of an earlier run back in the registry, so their ids still answer. */
  restore(records: readonly RestoredTask[]): void {
    for (const r of records) {
      if (this.tasks.has(r.id)) continue;
      // Property by property: spreading two objects into one takes V8's slow path, ten times the
      // cost of the whole restore.
      const entry: Entry = {
        id: r.id,
        alias: r.alias,
        command: r.command,
        limits: r.limits,
        state: r.state,
        createdAt: r.createdAt,
        endedAt: r.endedAt,
        exitCode: r.exitCode,
        signal: r.signal,
        stdout: OutputBuffer.counted(r.stdoutBytes ?? 0),
        stderr: OutputBuffer.counted(r.stderrBytes ?? 0),
        done: RESTORED.done,
        controller: RESTORED.controller,
        waiters: [],
        executor: RESTORED.executor,
        finish: RESTORED.finish,
        restored: true,
        clockFrom: r.createdAt,
      };
      if (r.owner !== undefined) (entry as { owner?: string }).owner = r.owner;
      if (r.startedAt !== undefined) entry.startedAt = r.startedAt;
      if (r.error) entry.error = r.error;
      this.tasks.set(r.id, entry);
      this.finished.add(entry);
    }
    this.prune();
  }

  /** Waits until the task writes output or changes state, or `ms` pass. */
  async waitForChange(task: Task, ms: number): Promise<void> {
    const entry = this.tasks.get(task.id);
    if (!entry || isFinal(entry.state)) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      entry.waiters.push(resolve);
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
  }

  /** Waits until the task ends or `ms` pass, whichever is first. */
  async waitFor(task: Task, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([task.done, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /** Aborts every unfinished task and waits for all of them to end. */
  async shutdown(): Promise<void> {
    this.closing = true;
    const open = [...this.tasks.values()].filter((t) => !isFinal(t.state));
    for (const t of open) this.abort(t, 'shutdown');
    await Promise.all(open.map((t) => t.done));
  }

  private abort(entry: Entry, reason: AbortReason): void {
    if (isFinal(entry.state) || entry.abortReason) return;
    entry.abortReason = reason;
    if (entry.state === 'queued' || entry.state === 'awaiting_approval') {
      this.end(entry, reason === 'timed_out' ? 'timed_out' : 'cancelled');
      return;
    }
    entry.controller.abort(reason);
  }

  private pump(alias: string): void {
    const line = this.hosts.get(alias);
    if (!line) return;
    for (let t = line.queued.peek(); t !== undefined; t = line.queued.peek()) {
      if (t.state !== 'queued') {
        line.queued.shift();
        continue;
      }
      if (line.running >= t.limits.max_concurrent_per_host) break;
      line.queued.shift();
      this.run(t);
    }
    if (line.running === 0 && line.queued.length === 0) this.hosts.delete(alias);
  }

  private line(alias: string): HostLine {
    let line = this.hosts.get(alias);
    if (!line) this.hosts.set(alias, (line = { running: 0, queued: new Fifo() }));
    return line;
  }

  private countWaiting(entry: Entry, by: 1 | -1): void {
    const key = waitKey(entry.alias, entry.owner);
    const n = (this.waiting.get(key) ?? 0) + by;
    if (n > 0) this.waiting.set(key, n);
    else this.waiting.delete(key);
  }

  private run(entry: Entry): void {
    this.countWaiting(entry, -1);
    this.line(entry.alias).running++;
    entry.state = 'running';
    entry.startedAt = this.now();
    this.notify(entry);
    let result: Promise<ExecResult>;
    try {
      result = entry.executor({
        signal: entry.controller.signal,
        deadline: entry.clockFrom + entry.limits.max_seconds * 1000,
        stdout: (d) => {
          entry.stdout.write(d);
          this.wake(entry);
        },
        stderr: (d) => {
          entry.stderr.write(d);
          this.wake(entry);
        },
      });
    } catch (err) {
      result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // What the executor holds (a call's stdin, up to 512 KiB) is not kept for the task's TTL.
    entry.executor = RAN;
    result.then(
      (r) => {
        entry.exitCode = r.exitCode;
        entry.signal = r.signal;
        const aborted = entry.abortReason;
        if (r.lost && !aborted) {
          entry.error = {
            code: 'lost',
            message: r.lost,
            hint: 'the command may or may not have finished on the host; check there before running it again',
          };
          this.end(entry, 'lost');
          return;
        }
        this.end(entry, aborted ? finalFor(aborted) : r.exitCode === 0 ? 'succeeded' : 'failed');
      },
      (err: unknown) => {
        const aborted = entry.abortReason;
        if (!aborted) entry.error = toErrorRecord(err);
        this.end(entry, aborted ? finalFor(aborted) : 'failed');
      },
    );
  }

  private end(entry: Entry, state: FinalState): void {
    if (isFinal(entry.state)) return;
    if (entry.state === 'queued') this.countWaiting(entry, -1);
    else if (entry.state === 'running') this.line(entry.alias).running--;
    entry.state = state;
    entry.endedAt = this.now();
    this.finished.add(entry);
    clearTimeout(entry.timer);
    if (state === 'timed_out' && !entry.error) {
      entry.error = {
        code: 'timeout',
        message: `the task ran out of its ${entry.limits.max_seconds} s limit`,
        hint: 'raise max_seconds for this host in the policy, or run the command with ssh_run_async',
      };
    }
    entry.finish();
    this.wake(entry);
    try {
      this.onEnd(entry);
    } catch {
      // The record is best effort; the task has ended either way.
    }
    this.pump(entry.alias);
  }

  private notify(entry: Entry): void {
    this.wake(entry);
    try {
      this.onChange(entry);
    } catch {
      // As for onEnd: a failed record never changes the task.
    }
  }

  private wake(entry: Entry): void {
    if (entry.waiters.length === 0) return;
    const waiters = entry.waiters;
    entry.waiters = [];
    for (const w of waiters) w();
  }

  private prune(): void {
    for (const t of this.finished.expired(this.now())) this.forget(t.id, t);
    // Room for one more below the bound.
    for (let excess = this.tasks.size - this.maxTasks + 1; excess > 0; excess--) {
      const t = this.finished.nextToEvict();
      if (!t) return;
      this.forget(t.id, t);
    }
  }

  private expired(t: Entry, now: number): boolean {
    return isFinal(t.state) && t.endedAt !== undefined && now - t.endedAt > t.limits.task_result_ttl * 1000;
  }

  private forget(id: string, entry: Entry): void {
    this.tasks.delete(id);
    this.finished.removed(entry);
    try {
      this.onForget(entry);
    } catch {
      // As for onEnd.
    }
  }
}

function waitKey(alias: string, owner: string | undefined): string {
  return `${alias}\0${owner ?? ''}`;
}

/** The executor of a task that has started: it never runs twice. */
const RAN: Executor = () => Promise.reject(new Error('the task has already run'));

export function isFinal(state: TaskState): state is FinalState {
  return (FINAL_STATES as readonly string[]).includes(state);
}

function finalFor(reason: AbortReason): FinalState {
  return reason === 'timed_out' ? 'timed_out' : 'cancelled';
}

function toErrorRecord(err: unknown): Task['error'] {
  if (err instanceof SshgateError) return err.toJSON();
  return { code: 'internal', message: 'the task failed unexpectedly', hint: 'see the server log' };
}
