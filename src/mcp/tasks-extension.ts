/**
 * The Tasks extension of MCP 2026-07-28 (`io.modelcontextprotocol/tasks`) over sshgate's own
 * tasks. A request that declares it in its `_meta` envelope and calls ssh_run or ssh_run_on_tag
 * gets a task handle at once instead of waiting; `tasks/get` polls it, and once it has ended
 * carries the result the tool would have returned; `tasks/cancel` stops it as ssh_cancel does.
 * The handle of ssh_run is the sshgate task id itself, so ssh_get_task_output and ssh_cancel take
 * it too; that of ssh_run_on_tag names its hosts' tasks (a fan-out id, `fan-out:<tag>:<uuid>`).
 * Who may see a handle is the gateway view's business: another caller's task is unknown here.
 * A task that awaits an approval its client may give (client-approval.ts) is `input_required` to
 * a request that declares form elicitation, with the form as its input request; tasks/update
 * carries the answer.
 */
import { randomUUID } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  inputResponse,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type InputRequests,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { z } from 'zod';
import { clip, SshgateError } from '../errors.js';
import type { FanOutHost } from '../gateway/fan-out.js';
import type { Gateway } from '../gateway/gateway.js';
import type * as S from '../gateway/tool-contract.js';
import { answerOf, approvalKey, declaresElicitation, formRequest } from './client-approval.js';
import { toToolError, toToolResult, withinLimit } from './results.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** How often a client should poll tasks/get. */
export const POLL_INTERVAL_MS = 1000;
/** At most this many handles are remembered across all callers, and per caller (so that one cannot push another's out); the oldest go first. */
const MAX_HANDLES = 10_000;
const MAX_HANDLES_PER_CALLER = 1000;
/** A handle outlives the latest moment its tasks can be forgotten by this much. */
const HANDLE_MARGIN_MS = 60_000;

type Status = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

/** The Task of the extension: what tools/call answers with, and tasks/get with more. */
export type TaskBody = {
  taskId: string;
  status: Status;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number | null;
  pollIntervalMs: number;
};
export type CreateTaskResult = TaskBody & { resultType: 'task' };
/** tasks/get's answer: the task and, once completed, the tool's result; while input_required, what it asks. */
export type DetailedTask = TaskBody & { result?: CallToolResult; inputRequests?: InputRequests };

/** What a handle remembers beyond the task ids: how to shape the result, and when to forget it. */
type Handle = (
  | { kind: 'run'; maxBytes: number | undefined; forgetAt: number }
  | { kind: 'fan-out'; input: S.RunOnTagInput; hosts: FanOutHost[]; cancelled: boolean; forgetAt: number }
) & {
  /** The principal whose call gave it out (none: sshgate's own view). */
  owner?: string;
  /** The approval whose form the client's user dismissed (cancel): left to an operator, not asked again. */
  dismissed?: string;
};

/**
 * The handles of every server of one `serve`: over HTTP a server is built for each 2026-07-28
 * request, so a handle must outlive the server that gave it out. Bounded, and each handle is
 * forgotten once its tasks are sure to be.
 */
export class TaskHandles {
  private readonly handles = new Map<string, Handle>();

  constructor(private readonly now: () => number = Date.now) {}

  add(id: string, handle: Handle): void {
    this.prune();
    this.handles.delete(id);
    const mine = [...this.handles].filter(([, h]) => h.owner === handle.owner);
    // The caller's own oldest goes when it holds its share.
    if (mine.length >= MAX_HANDLES_PER_CALLER) this.handles.delete(mine[0]?.[0] as string);
    this.handles.set(id, handle);
    for (const oldest of this.handles.keys()) {
      if (this.handles.size <= MAX_HANDLES) break;
      this.handles.delete(oldest);
    }
  }

  get(id: string): Handle | undefined {
    this.prune();
    return this.handles.get(id);
  }

  /** The handle of the fan-out one of whose hosts' tasks this is, if one was given out. */
  fanOutOf(taskId: string): string | undefined {
    this.prune();
    for (const [id, h] of this.handles) if (h.kind === 'fan-out' && h.hosts.some((host) => host.task_id === taskId)) return id;
    return undefined;
  }

  get size(): number {
    return this.handles.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [id, h] of this.handles) if (h.forgetAt < now) this.handles.delete(id);
  }
}

/** Whether this request declared the Tasks extension in its `_meta` envelope (2026-07-28 only). */
export function declaresTasks(ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const caps = envelope?.[CLIENT_CAPABILITIES_META_KEY] as { extensions?: Record<string, unknown> } | undefined;
  const declared = caps?.extensions?.[TASKS_EXTENSION];
  return typeof declared === 'object' && declared !== null;
}

/** The tools that run as a task when the request declared the extension. */
const TASK_TOOLS = new Set(['ssh_run', 'ssh_run_on_tag']);

/** A fan-out's handle starts so; it is never a well-formed sshgate task id (a uuid has dashes, a timestamp none). */
const FAN_OUT_PREFIX = 'fan-out:';

const TaskIdParams = z.object({ taskId: z.unknown() });

export class TasksExtension {
  constructor(
    private readonly gateway: Gateway,
    private readonly handles: TaskHandles,
    private readonly logger: Logger,
  ) {}

  /** Whether a call of this tool from this request is answered with a task. */
  runsAsTask(tool: string, ctx: ServerContext): boolean {
    return TASK_TOOLS.has(tool) && declaresTasks(ctx);
  }

  /**
   * Starts the tool's work and answers with its handle at once. What never becomes a task (a
   * policy denial, an unknown host) throws, and is the tool error the call would have got; a
   * fan-out in which no host started answers with its result.
   */
  start(tool: string, input: Record<string, unknown>): CreateTaskResult | CallToolResult {
    if (tool === 'ssh_run') {
      // Checked against ssh_run's input schema by the caller (server.ts).
      const run = input as S.RunInput;
      const task_id = this.gateway.startRun(run);
      const status = this.gateway.statusWithLimits({ task_id });
      this.handles.add(task_id, { kind: 'run', maxBytes: run.max_bytes, forgetAt: latestEnd([status]), ...this.owner() });
      return { resultType: 'task', ...this.runTask(task_id) };
    }
    const fan = input as S.RunOnTagInput;
    const hosts = this.gateway.startOnTag(fan);
    const ids = hosts.flatMap((h) => (h.task_id !== undefined ? [h.task_id] : []));
    if (ids.length === 0) return withinLimit(toToolResult(this.gateway.onTagResult(fan, hosts)), this.logger, tool);
    // A retry with the call's request_id gets the tasks the first call started, and so its handle.
    const earlier = this.handles.fanOutOf(ids[0] as string);
    if (earlier !== undefined) return { resultType: 'task', ...this.fanOutTask(earlier) };
    const id = `${FAN_OUT_PREFIX}${fan.tag}:${randomUUID()}`;
    const statuses = ids.map((task_id) => this.gateway.statusWithLimits({ task_id }));
    this.handles.add(id, { kind: 'fan-out', input: fan, hosts, cancelled: false, forgetAt: latestEnd(statuses), ...this.owner() });
    return { resultType: 'task', ...this.fanOutTask(id) };
  }

  private owner(): { owner?: string } {
    const name = this.gateway.callerName();
    return name !== undefined ? { owner: name } : {};
  }

  /** tasks/get, tasks/cancel and tasks/update, each for requests that declared the extension. */
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the low-level Server: see server.ts
  register(server: Server): void {
    server.setRequestHandler('tasks/get', { params: TaskIdParams }, (params, ctx) => this.get(taskIdOf(params, ctx), ctx));
    server.setRequestHandler('tasks/cancel', { params: TaskIdParams }, async (params, ctx) => {
      await this.cancel(taskIdOf(params, ctx), ctx.mcpReq.signal);
      return {};
    });
    // The SDK lifts inputResponses out of the params: they are read from the context.
    server.setRequestHandler('tasks/update', { params: TaskIdParams }, (params, ctx) => {
      const id = taskIdOf(params, ctx);
      this.get(id);
      this.update(id, ctx.mcpReq.inputResponses);
      return {};
    });
  }

  /**
   * The task as it stands; an id this view does not know is -32602. With `ctx` of a request that
   * declares form elicitation, a task awaiting an approval its client may give is input_required.
   */
  get(id: string, ctx?: ServerContext): DetailedTask {
    const asks = ctx !== undefined && declaresElicitation(ctx);
    return this.isFanOut(id) ? this.fanOutTask(id, asks) : this.runTask(id, asks);
  }

  /**
   * tasks/update: the answer to the form of the approval the task awaits, under its key. Keys of
   * no pending approval (unknown, answered already) are ignored, and so is an answer that does not
   * fit the form; `cancel` leaves the approval to an operator.
   */
  update(id: string, responses: Record<string, unknown> | undefined): void {
    const form = this.formOf(id);
    if (!form) return;
    const response = inputResponse(responses, approvalKey(form.approvalId));
    const answer = response.kind === 'elicit' ? answerOf(response) : undefined;
    if (!answer) return;
    const handle = this.handles.get(id);
    if (answer.action === 'cancel' && handle) handle.dismissed = form.approvalId;
    // The update shows the client saw the form, if this server did not give it out itself.
    this.gateway.clientAsked(form.approvalId);
    try {
      this.gateway.clientAnswered(form.approvalId, answer);
    } catch (err) {
      // Answered meanwhile (an operator was quicker): like an answered key, ignored.
      if (!(err instanceof SshgateError)) throw err;
    }
  }

  /** The form of the approval the task (or one of the fan-out's) awaits, if its client may answer it. */
  private formOf(id: string) {
    const handle = this.handles.get(id);
    const ids = handle?.kind === 'fan-out' ? handle.hosts.flatMap((h) => (h.task_id !== undefined ? [h.task_id] : [])) : [id];
    for (const taskId of ids) {
      const form = known(id, () => this.gateway.approvalForm(taskId));
      if (form) return form.approvalId === handle?.dismissed ? undefined : form;
    }
    return undefined;
  }

  /** The task body as input_required with the approval's form, when the client may answer it. */
  private asking(id: string, body: TaskBody, statusMessage: string): DetailedTask | undefined {
    const form = this.formOf(id);
    if (!form) return undefined;
    this.gateway.clientAsked(form.approvalId);
    return { ...body, status: 'input_required', statusMessage, inputRequests: { [approvalKey(form.approvalId)]: formRequest(form) } };
  }

  /**
   * Stops the task as ssh_cancel does (TERM, grace period, KILL, the sweep) and answers once it
   * has ended, or the wait ran out (the grace period plus 3 s); a task that had ended is left as
   * it is. A fan-out stops all its hosts' tasks at once and is `cancelled` from then on.
   */
  async cancel(id: string, signal: AbortSignal): Promise<void> {
    if (!this.isFanOut(id)) {
      known(id, () => this.gateway.statusWithLimits({ task_id: id }));
      await this.gateway.cancel({ task_id: id }, signal);
      return;
    }
    const { handle } = this.fanOut(id);
    handle.cancelled = true;
    const ids = handle.hosts.flatMap((h) => (h.task_id !== undefined ? [h.task_id] : []));
    await Promise.all(ids.map((task_id) => this.gateway.cancel({ task_id }, signal).catch(() => undefined)));
  }

  /** A fan-out's handle is looked up, not parsed: a host may be called "fan-out" too. */
  private isFanOut(id: string): boolean {
    return this.handles.get(id)?.kind === 'fan-out';
  }

  private runTask(id: string, asks = false): DetailedTask {
    const status = known(id, () => this.gateway.statusWithLimits({ task_id: id }));
    const body = taskBody(id, [status]);
    if (status.state === 'queued' || status.state === 'running' || status.state === 'awaiting_approval') {
      const statusMessage = `${status.state.replace('_', ' ')} on ${status.alias}`;
      const asking = asks && status.state === 'awaiting_approval' ? this.asking(id, body, statusMessage) : undefined;
      return asking ?? { ...body, status: 'working', statusMessage };
    }
    if (status.state === 'cancelled') return { ...body, status: 'cancelled', statusMessage: ended(status) };
    const handle = this.handles.get(id);
    const maxBytes = handle?.kind === 'run' ? handle.maxBytes : undefined;
    const outcome = known(id, () => this.gateway.runOutcome({ task_id: id, max_bytes: maxBytes }));
    const result = 'error' in outcome ? toToolError(outcome.error, this.logger, 'ssh_run') : toToolResult(outcome.result);
    return { ...body, status: 'completed', statusMessage: ended(status), result: withinLimit(result, this.logger, 'ssh_run') };
  }

  private fanOutTask(id: string, asks = false): DetailedTask {
    const { handle, statuses } = this.fanOut(id);
    const body = taskBody(id, statuses);
    const done = statuses.filter((s) => s.state !== 'queued' && s.state !== 'running' && s.state !== 'awaiting_approval').length;
    const notStarted = handle.hosts.length - statuses.length;
    const progress = `${done} of ${statuses.length} hosts' tasks ended${notStarted ? `, ${notStarted} hosts did not start` : ''}`;
    if (handle.cancelled)
      return { ...body, status: done < statuses.length ? 'working' : 'cancelled', statusMessage: `cancelled: ${progress}` };
    if (done < statuses.length) {
      const awaiting = asks && statuses.some((st) => st.state === 'awaiting_approval');
      return (
        (awaiting ? this.asking(id, body, `awaiting approval: ${progress}`) : undefined) ?? {
          ...body,
          status: 'working',
          statusMessage: progress,
        }
      );
    }
    const result = known(id, () => this.gateway.onTagResult(handle.input, handle.hosts));
    const s = result.summary;
    return {
      ...body,
      status: 'completed',
      statusMessage: `${s.succeeded} succeeded, ${s.failed} failed, ${s.denied} denied of ${s.total} hosts`,
      result: withinLimit(toToolResult(result), this.logger, 'ssh_run_on_tag'),
    };
  }

  /** A fan-out this view knows: its handle, and the status of each host's task. */
  private fanOut(id: string): { handle: Extract<Handle, { kind: 'fan-out' }>; statuses: Polled[] } {
    const handle = this.handles.get(id);
    if (handle?.kind !== 'fan-out') throw unknownTask(id);
    const ids = handle.hosts.flatMap((h) => (h.task_id !== undefined ? [h.task_id] : []));
    // Its tasks are the caller's own or none: another caller's fan-out is as unknown as none.
    const statuses = ids.map((task_id) => known(id, () => this.gateway.statusWithLimits({ task_id })));
    return { handle, statuses };
  }
}

type Polled = ReturnType<Gateway['statusWithLimits']>;

/** The Task fields tasks share; for a fan-out, from all its hosts' tasks. */
function taskBody(id: string, tasks: Polled[]): TaskBody {
  const ms = (iso: string) => Date.parse(iso);
  const created = Math.min(...tasks.map((t) => ms(t.created_at)));
  const updated = Math.max(...tasks.map((t) => ms(t.ended_at ?? t.started_at ?? t.created_at)));
  // Kept until the first of them is forgotten: task_result_ttl after it ends, and it ends by its time limit.
  const forgotten = Math.min(...tasks.map((t) => forgetTime(t)));
  return {
    taskId: id,
    status: 'working',
    createdAt: new Date(created).toISOString(),
    lastUpdatedAt: new Date(updated).toISOString(),
    ttlMs: Math.max(0, forgotten - created),
    pollIntervalMs: POLL_INTERVAL_MS,
  };
}

/** When a task is forgotten at the earliest: task_result_ttl after it ended, or after its time limit. */
function forgetTime(t: Polled): number {
  const end = t.ended_at !== null ? Date.parse(t.ended_at) : Date.parse(t.created_at) + t.limits.max_seconds * 1000;
  return end + t.limits.task_result_ttl * 1000;
}

/** When a handle's tasks are sure to be forgotten: the last of them ends late, by a margin. */
function latestEnd(tasks: Polled[]): number {
  return Math.max(...tasks.map((t) => forgetTime(t))) + HANDLE_MARGIN_MS;
}

function ended(status: Polled): string {
  const how = status.exit_code !== null ? `exit code ${status.exit_code}` : status.signal !== null ? `signal ${status.signal}` : undefined;
  return `${status.state} on ${status.alias}${how ? ` (${how})` : status.error ? `: ${status.error.message}` : ''}`;
}

/** The gateway's answer, with a task id it does not know (or lets this caller see) as -32602. */
function known<T>(id: string, look: () => T): T {
  try {
    return look();
  } catch (err) {
    if (err instanceof SshgateError && (err.code === 'not_found' || err.code === 'invalid_input')) throw unknownTask(id);
    throw err;
  }
}

function unknownTask(id: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `unknown task "${clip(id)}": no task of this caller has that id (finished tasks are forgotten after their task_result_ttl)`,
  );
}

/** The task id of a tasks/* request, once the request has shown it declared the extension. */
function taskIdOf(params: { taskId?: unknown }, ctx: ServerContext): string {
  if (!declaresTasks(ctx)) {
    throw new MissingRequiredClientCapabilityError(
      { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
      `${ctx.mcpReq.method} is part of the Tasks extension (${TASKS_EXTENSION}): declare it in the request's client capabilities`,
    );
  }
  if (typeof params.taskId !== 'string' || params.taskId === '')
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `invalid ${ctx.mcpReq.method}: params.taskId must be a task id`);
  return params.taskId;
}
