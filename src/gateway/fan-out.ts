/**
 * ssh_run_on_tag: one command on every host with a tag. The policy decides per host (a denied
 * host is reported, the rest run); at most `concurrency` hosts run at once on top of each host's
 * own limit; every host's result stands on its own, so a slow or dead host costs only its own
 * time limit. Hosts still running after wait_seconds are returned as running tasks.
 */
import { whenAborted } from '../abort.js';
import { DEFAULTS } from '../defaults.js';
import { SshgateError } from '../errors.js';
import type { Executor, Task } from '../tasks/task-manager.js';
import type { Held } from './gateway.js';
import type { Gateway, ProgressSink } from './gateway.js';
import type * as S from './tool-contract.js';
import { DEFAULT_INLINE_BYTES, FAN_OUT_INLINE_BYTES, FAN_OUT_OUTPUT_COST, FAN_OUT_RESULTS_COST } from './budget.js';
import { neverRan, runResult } from './views.js';

export const DEFAULT_FAN_OUT = 16;

/** One host of a fan-out: its task, or why it never got one (denied, unknown key, over quota). */
export type Started = { alias: string; task?: Task; early?: S.HostOutcome };

/** A host of a fan-out as a caller that polls holds it: its task's id, or its outcome. */
export interface FanOutHost {
  alias: string;
  task_id?: string;
  outcome?: S.HostOutcome;
}

/**
 * Decides and starts the command on every host with the tag; a host's refusal is its outcome. A
 * host in `reuse` (a retry of the same call) keeps the task it has.
 */
export function startOnTag(gateway: Gateway, input: S.RunOnTagInput, reuse: ReadonlyMap<string, Task> = new Map()): Started[] {
  const hosts = gateway.hostsWithTag(input.tag);
  const slots = new Slots(input.concurrency ?? DEFAULT_FAN_OUT);
  // The hosts whose command needs approval: one request covers them all.
  const held: Held[] = [];
  const started = hosts.map((h): Started => {
    const earlier = reuse.get(h.alias);
    if (earlier) return { alias: h.alias, task: earlier };
    try {
      const call = {
        alias: h.alias,
        command: input.command,
        become: input.become,
        timeout_seconds: input.timeout_seconds,
        stdin: input.stdin,
        workdir: input.workdir,
        env: input.env,
      };
      const task = gateway.startTask(call, 'ssh_run_on_tag', (run) => slots.gate(run), held);
      return { alias: h.alias, task };
    } catch (err) {
      return { alias: h.alias, early: failedBeforeStart(h.alias, err) };
    }
  });
  if (held.length > 0) {
    const call = { command: input.command, workdir: input.workdir, env: input.env, become: input.become ?? null };
    gateway.openApproval(held, call);
  }
  return started;
}

/** Waits for the fan-out's tasks up to wait_seconds (or until the caller gives up) and reports every host. */
export async function followOnTag(
  gateway: Gateway,
  input: S.RunOnTagInput,
  started: readonly Started[],
  signal?: AbortSignal,
  progress?: ProgressSink,
): Promise<S.RunOnTagResult> {
  const tasks = started.flatMap((s) => (s.task ? [s.task] : []));
  const stopListening = whenAborted(signal, () => tasks.forEach((t) => gateway.cancelTask(t.id)));
  let finished = 0;
  const sent: Promise<void>[] = [];
  // Once the result is on its way, hosts that end later tell nothing: clients drop progress for a finished call.
  let answered = false;
  const told = tasks.map((t) =>
    t.done.then(() => {
      if (answered) return;
      const p = progress?.({ progress: ++finished, total: tasks.length, message: `${t.alias}: ${t.state} (${finished}/${tasks.length})` });
      if (p) sent.push(p);
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(told), new Promise((r) => (timer = setTimeout(r, (input.wait_seconds ?? DEFAULTS.waitSeconds) * 1000)))]);
  clearTimeout(timer);
  stopListening();
  // The result must not overtake the last progress notifications: clients drop those that come after it.
  answered = true;
  await Promise.all(sent);
  return onTagResult(input, started);
}

/** The result of a fan-out as its hosts' tasks stand now. */
export function onTagResult(input: S.RunOnTagInput, started: readonly Started[]): S.RunOnTagResult {
  const tasks = started.flatMap((s) => (s.task ? [s.task] : []));
  // Output is shared out evenly, so the result's size does not grow with the number of hosts.
  const shares = Math.max(1, 2 * tasks.length);
  const maxBytes = Math.min(input.max_bytes ?? DEFAULT_INLINE_BYTES, Math.floor(FAN_OUT_INLINE_BYTES / shares));
  const maxCost = Math.floor(FAN_OUT_OUTPUT_COST / shares);
  const all = started.map((s) => s.early ?? outcomeOf(s.task as Task, maxBytes, maxCost));
  const count = (...states: S.HostOutcome['status'][]) => all.filter((r) => states.includes(r.status)).length;
  const { results, omitted } = withinMessage(all);
  return {
    tag: input.tag,
    results,
    ...(omitted ? { omitted_hosts: omitted } : {}),
    summary: {
      total: all.length,
      succeeded: count('succeeded'),
      failed: count('failed', 'error', 'cancelled', 'timed_out', 'lost'),
      denied: count('denied'),
      running: count('running', 'queued', 'awaiting_approval'),
    },
  };
}

/**
 * The hosts' outcomes, as many as fit in one message beside the rest of the result: over the
 * limit, succeeded hosts go first (from the last), then the others, so what needs attention stays.
 */
export function withinMessage(all: S.HostOutcome[]): { results: S.HostOutcome[]; omitted: number } {
  const costs = all.map(outcomeCost);
  let total = costs.reduce((a, b) => a + b, 0);
  if (total <= FAN_OUT_RESULTS_COST) return { results: all, omitted: 0 };
  const byPriority = all
    .map((_, i) => i)
    .sort((a, b) => Number(all[b]?.status === 'succeeded') - Number(all[a]?.status === 'succeeded') || b - a);
  const left = new Set<number>();
  for (const i of byPriority) {
    if (total <= FAN_OUT_RESULTS_COST) break;
    left.add(i);
    total -= costs[i] as number;
  }
  return { results: all.filter((_, i) => !left.has(i)), omitted: left.size };
}

/** What an outcome costs in the message: its JSON, and that JSON again as the text copy. */
function outcomeCost(o: S.HostOutcome): number {
  const json = JSON.stringify(o);
  return Buffer.byteLength(json) + Buffer.byteLength(JSON.stringify(json)) + 2;
}

function outcomeOf(task: Task, maxBytes: number, maxCost: number): S.HostOutcome {
  const r = runResult(task, maxBytes, maxCost);
  const base = {
    alias: task.alias,
    task_id: task.id,
    exit_code: r.exit_code,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
    truncated: r.truncated,
    stdout_bytes: r.stdout_bytes,
    stderr_bytes: r.stderr_bytes,
    omitted_bytes: r.omitted_bytes,
    read_cursor: r.read_cursor,
    duration_ms: task.startedAt === undefined ? null : r.duration_ms,
    limits: r.limits,
    ...(task.error ? { error: task.error } : {}),
  };
  return { ...base, status: neverRan(task) ? 'error' : task.state };
}

function failedBeforeStart(alias: string, err: unknown): S.HostOutcome {
  const e = err instanceof SshgateError ? err : new SshgateError('internal', 'the task could not start', 'see the server log');
  const none = { stdout: 0, stderr: 0 };
  const blank = {
    alias,
    task_id: null,
    exit_code: null,
    signal: null,
    stdout: '',
    stderr: '',
    truncated: false,
    stdout_bytes: 0,
    stderr_bytes: 0,
    omitted_bytes: none,
    read_cursor: none,
    duration_ms: null,
  };
  if (e.code === 'policy_denied') return { ...blank, status: 'denied', reason: e.message };
  return { ...blank, status: 'error', error: e.toJSON() };
}

/** A counting semaphore for executors: at most `n` run at once; a cancelled waiter leaves the line. */
class Slots {
  private free: number;
  private readonly line: (() => void)[] = [];

  constructor(n: number) {
    this.free = n;
  }

  gate(run: Executor): Executor {
    return async (ctx) => {
      await this.take(ctx.signal);
      try {
        return await run(ctx);
      } finally {
        this.give();
      }
    };
  }

  private take(signal: AbortSignal): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const go = () => {
        signal.removeEventListener('abort', leave);
        resolve();
      };
      const leave = () => {
        const i = this.line.indexOf(go);
        if (i >= 0) this.line.splice(i, 1);
        reject(new SshgateError('timeout', 'the task ended while it waited for a fan-out slot', 'raise concurrency, or the time limit'));
      };
      if (signal.aborted) return leave();
      this.line.push(go);
      signal.addEventListener('abort', leave, { once: true });
    });
  }

  private give(): void {
    const next = this.line.shift();
    if (next) next();
    else this.free++;
  }
}
