/**
 * Asking the user of the caller's MCP client to approve a command (an ask rule with approve_by
 * client or either). The gateway decides whether the client may answer and what an answer does;
 * this module only carries the form out and the answer back, in each protocol era:
 *
 * - 2025 era: the server sends `elicitation/create` on the tools/call's own stream (pushApprover).
 * - 2026-07-28: tools/call answers `input_required` with the form and a signed requestState, and
 *   the client calls again with the answer (ApprovalRounds). No server keeps anything between the
 *   two calls (over HTTP each has its own): the requestState names the task, the gateway holds it.
 * - Tasks extension: tasks/get shows the form as `input_required`, tasks/update answers it
 *   (tasks-extension.ts, with formRequest and answerOf from here).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  createRequestStateCodec,
  inputRequired,
  inputResponse,
  ProtocolError,
  ProtocolErrorCode,
  type ClientCapabilities,
  type InputRequest,
  type InputRequiredResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { FanOutHost } from '../gateway/fan-out.js';
import type { ApprovalForm, ClientAnswer, ClientApprover, Gateway, ProgressSink } from '../gateway/gateway.js';
import type * as S from '../gateway/tool-contract.js';

/** The key of an approval's input request: unique over the task's life, as the Tasks extension asks. */
export function approvalKey(approvalId: string): string {
  return `approve-${approvalId}`;
}

/** Whether an elicitation capability covers form mode: `{}` is form mode, as 2025-06-18 clients declare it. */
export function formElicitation(capability: unknown): boolean {
  if (typeof capability !== 'object' || capability === null) return false;
  const { form, url } = capability as { form?: unknown; url?: unknown };
  return form !== undefined || url === undefined;
}

/** Whether this 2026-07-28 request's envelope declares form elicitation. */
export function declaresElicitation(ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const caps = envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
  return formElicitation(caps?.elicitation);
}

/** The form as an embedded input request (2026-07-28 and the Tasks extension). */
export function formRequest(form: ApprovalForm): InputRequest {
  return inputRequired.elicit({ mode: 'form', message: form.message, requestedSchema: form.requestedSchema });
}

const AcceptedContent = z.object({ approve: z.boolean(), reason: z.string().optional() });

/**
 * A client's elicitation result as the gateway takes it; undefined for an accept whose content is
 * not the form's (no boolean approve), which counts as no answer. Client values are untrusted.
 */
export function answerOf(result: { action?: unknown; content?: unknown }): ClientAnswer | undefined {
  if (result.action === 'decline' || result.action === 'cancel') return { action: result.action };
  if (result.action !== 'accept') return undefined;
  const content = AcceptedContent.safeParse(result.content ?? {});
  if (!content.success) return undefined;
  const { approve, reason } = content.data;
  return { action: 'accept', approve, ...(reason !== undefined && reason !== '' ? { reason } : {}) };
}

/**
 * 2025 era: asks through `elicitation/create` on the call's own stream. relatedRequestId is what
 * puts it there over HTTP (without it the request goes to the standalone GET stream, or nowhere);
 * the form is open until the approval's deadline, and closes when the call is cancelled or the
 * task ends (`signal`).
 */
export function pushApprover(ctx: ServerContext): ClientApprover {
  return async (form, signal) => {
    // The SDK marks it deprecated because 2026-07-28 has no server-sent requests; this is the 2025 path.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    const result = await ctx.mcpReq.elicitInput(
      { mode: 'form', message: form.message, requestedSchema: form.requestedSchema },
      {
        relatedRequestId: ctx.mcpReq.id,
        timeout: Math.max(1000, form.deadline - Date.now()),
        signal: AbortSignal.any([signal, ctx.mcpReq.signal]),
      },
    );
    return answerOf(result);
  };
}

/** What a 2026-07-28 requestState carries between the call and its retry (signed, readable by the client). */
const RoundState = z.object({
  /** The tool and a digest of its arguments: the retry must be the same call. */
  tool: z.enum(['ssh_run', 'ssh_run_on_tag']),
  args: z.string(),
  approval: z.string(),
  /** ssh_run's task, or ssh_run_on_tag's hosts as startOnTag gave them. */
  task: z.string().optional(),
  hosts: z.array(z.object({ alias: z.string(), task_id: z.string().optional(), outcome: z.unknown().optional() })).optional(),
});
type RoundState = z.infer<typeof RoundState>;

/**
 * The requestState's HMAC key: one per process, made on first use. Every round of a call reaches
 * the same process (approvals live in its memory), and a restart voids the states given out
 * along with the approvals they name.
 */
let stateKey: Buffer | undefined;

/** A retry may arrive a little after the approval's deadline: it then gets approval_timeout, not an opaque -32602. */
const STATE_MARGIN_SECONDS = 30;

/**
 * ssh_run and ssh_run_on_tag at 2026-07-28 for a client that declared form elicitation: a task
 * that awaits an approval its client may give is answered with `input_required` (the form, and a
 * requestState bound to the caller, the tool and its arguments, naming the task); the retry
 * carries the answer, which goes to the gateway, and then waits for the task as ssh_run does.
 * The retry never starts a task: a retry of an answered call gets the first call's task.
 */
export class ApprovalRounds {
  constructor(private readonly gateway: Gateway) {}

  async call(
    tool: 'ssh_run' | 'ssh_run_on_tag',
    input: Record<string, unknown>,
    ctx: ServerContext,
    progress?: ProgressSink,
  ): Promise<S.RunResult | S.RunOnTagResult | InputRequiredResult> {
    const raw = ctx.mcpReq.requestState<unknown>();
    if (raw !== undefined) return this.retry(tool, input, ctx, raw, progress);
    const signal = ctx.mcpReq.signal;
    const elicits = declaresElicitation(ctx);
    if (tool === 'ssh_run') {
      const run = input as S.RunInput;
      if (!elicits) return this.gateway.run(run, signal, progress);
      const task = this.gateway.startRun(run);
      const form = this.gateway.approvalForm(task);
      if (!form) return this.gateway.continueRun(task, run, signal, progress);
      return this.ask(form, { tool, args: digest(tool, input), approval: form.approvalId, task }, ctx);
    }
    const fan = input as S.RunOnTagInput;
    if (!elicits) return this.gateway.runOnTag(fan, signal, progress);
    const hosts = this.gateway.startOnTag(fan);
    const form = this.formOfHosts(hosts);
    if (!form) return this.gateway.continueOnTag(fan, hosts, signal, progress);
    return this.ask(form, { tool, args: digest(tool, input), approval: form.approvalId, hosts }, ctx);
  }

  private async retry(
    tool: 'ssh_run' | 'ssh_run_on_tag',
    input: Record<string, unknown>,
    ctx: ServerContext,
    raw: unknown,
    progress?: ProgressSink,
  ): Promise<S.RunResult | S.RunOnTagResult | InputRequiredResult> {
    let state: RoundState;
    try {
      if (typeof raw !== 'string') throw new Error('malformed');
      state = RoundState.parse(await this.codec(0).verify(raw, ctx));
    } catch {
      throw invalidState('it is not one this server gave this caller, or it has expired; call the tool again without it');
    }
    if (state.tool !== tool || state.args !== digest(tool, input))
      throw invalidState('it was given for another call; retry with the same tool and arguments');
    const hosts = (state.hosts ?? []) as FanOutHost[];
    // Still pending: the answer goes to the gateway; answered (a retry sent twice): the task's result.
    const form = state.task !== undefined ? this.gateway.approvalForm(state.task) : this.formOfHosts(hosts);
    if (form?.approvalId === state.approval) {
      const response = inputResponse(ctx.mcpReq.inputResponses, approvalKey(state.approval));
      const answer = response.kind === 'elicit' ? answerOf(response) : undefined;
      // No answer, or not one the form allows: ask again.
      if (!answer) return this.ask(form, state, ctx);
      this.gateway.clientAnswered(state.approval, answer);
    }
    const signal = ctx.mcpReq.signal;
    if (state.task !== undefined) return this.gateway.continueRun(state.task, input as S.RunInput, signal, progress);
    return this.gateway.continueOnTag(input as S.RunOnTagInput, hosts, signal, progress);
  }

  private async ask(form: ApprovalForm, state: RoundState, ctx: ServerContext): Promise<InputRequiredResult> {
    this.gateway.clientAsked(form.approvalId);
    const ttl = Math.ceil((form.deadline - Date.now()) / 1000) + STATE_MARGIN_SECONDS;
    return inputRequired({
      inputRequests: { [approvalKey(form.approvalId)]: formRequest(form) },
      requestState: await this.codec(ttl).mint(state, ctx),
    });
  }

  /** The approval a fan-out's held hosts share (one request covers them all), if the client may answer it. */
  private formOfHosts(hosts: readonly FanOutHost[]): ApprovalForm | undefined {
    for (const h of hosts) {
      const form = h.task_id !== undefined ? this.gateway.approvalForm(h.task_id) : undefined;
      if (form) return form;
    }
    return undefined;
  }

  /** The codec; its TTL counts only when minting (verify reads the expiry from the state). */
  private codec(ttlSeconds: number) {
    const caller = this.gateway.callerName() ?? '';
    return createRequestStateCodec<unknown>({
      key: (stateKey ??= randomBytes(32)),
      ttlSeconds,
      bind: () => `tools/call\0${caller}`,
    });
  }
}

/** sha256 of the tool and its checked arguments, keys sorted: what binds a requestState to its call. */
function digest(tool: string, args: Record<string, unknown>): string {
  return createHash('sha256')
    .update(canonical([tool, args]))
    .digest('hex');
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function invalidState(why: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `invalid requestState: ${why}`);
}
