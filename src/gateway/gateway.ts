/**
 * What sshgate does for a caller, whatever the transport: look hosts up, decide a command by the
 * policy, and only then turn it into a task on a pooled connection. The configuration it serves
 * from is live-config.ts: one snapshot, swapped whole on reload.
 */
import { whenAborted } from '../abort.js';
import type { Auditor } from '../audit/auditor.js';
import { jumpChain } from '../config/load-inventory.js';
import { selectHosts } from '../config/select-hosts.js';
import type { HostEntry } from '../config/file-formats.js';
import { DEFAULTS } from '../defaults.js';
import { clip, quotedForReview, SshgateError } from '../errors.js';
import { effectiveLimits, taskLimits } from '../policy/limits.js';
import { commandInputProblem } from '../policy/command-input.js';
import { fileRulesFor } from '../policy/file-decision.js';
import { decideForHost, stdinRefusal, ttyRefusal } from '../policy/host-decision.js';
import { auditedPrincipal, isAdmin, type Principal } from '../principal.js';
import { RateLimiter, type DayCounts } from '../policy/rate-limits.js';
import { parseTaskId } from '../tasks/ids.js';
import { isFinal, type Executor, type Task, type TaskManager } from '../tasks/task-manager.js';
import { DEFAULT_INLINE_BYTES, LIST_COST } from './budget.js';
import { callExtras } from './call-extras.js';
import { followOnTag, onTagResult, startOnTag, type FanOutHost, type Started } from './fan-out.js';
import { RequestIds } from './request-ids.js';
import { ApprovalBroker, type Answerer, type ApprovalRequest, type ApprovedCall } from '../approvals/broker.js';
import { strictestTerms, type Decision } from '../policy/decision.js';
import type { HostExecutor } from './host-executor.js';
import type * as S from './tool-contract.js';
import { FileOps } from './file-ops.js';
import { LiveConfig, type LiveConfigDeps } from './live-config.js';
import { TransferRoot } from './transfer-local.js';
import { Transfers } from './transfers.js';
import { hasNew, neverRan, readOutput, runResult, taskStatus, type Cursor } from './views.js';

/** What a long call can tell its caller while it waits (MCP progress notifications). */
/** Settles once the notification is on its way: a result sent after it cannot overtake it. */
export type ProgressSink = (p: { progress: number; total?: number; message: string }) => Promise<void> | void;

/** Progress messages go out at most this often, each with at most this much output. */
const PROGRESS_EVERY_MS = 250;
const PROGRESS_MAX_CHARS = 4000;

/**
 * The last `max` UTF-16 units of `text`, or one fewer where the cut would fall inside a surrogate
 * pair: a lone half is no character, and strict JSON parsers (serde_json) refuse the message.
 */
export function tail(text: string, max: number): string {
  const start = text.length - max;
  const code = text.charCodeAt(start);
  return text.slice(code >= 0xdc00 && code <= 0xdfff ? start + 1 : start);
}
const DEFAULT_OUTPUT_BYTES = 65_536;
/**
 * ssh_cancel waits for the task to end at most the grace period plus this: room for the sweep to
 * list the processes (up to 1 s), the close after KILL (200 ms) and a slow host.
 */
const CANCEL_MARGIN_MS = 3000;

/** A task held for approval, and the terms its host's ask rules set (fan-out.ts opens one request for all). */
export interface Held {
  task: Task;
  terms: NonNullable<Decision['approval']>;
}

/**
 * What the MCP layer shows the user of the caller's client to approve a command: a message naming
 * the hosts, the exact command, the become target, the ask rules (file:line) and the deadline, and
 * a form of one yes/no and an optional reason.
 */
export interface ApprovalForm {
  approvalId: string;
  /** When the request expires (ms since the epoch): an elicitation need not wait longer. */
  deadline: number;
  message: string;
  requestedSchema: {
    type: 'object';
    properties: {
      approve: { type: 'boolean'; title: string; description: string; default: boolean };
      reason: { type: 'string'; title: string; description: string; maxLength: number };
    };
    required: ['approve'];
  };
}

/** The client's answer to an ApprovalForm, as MCP elicitation results carry it. */
export interface ClientAnswer {
  action: 'accept' | 'decline' | 'cancel';
  approve?: boolean;
  reason?: string;
}

/** Asks the caller's client (MCP elicitation); resolves undefined when it cannot ask. */
export type ClientApprover = (form: ApprovalForm, signal: AbortSignal) => Promise<ClientAnswer | undefined>;

/** Who a view's calls come from: a principal, and the 2025-era HTTP session they came in. */
export interface Caller {
  principal: Principal;
  session?: string;
}

export interface GatewayDeps extends LiveConfigDeps {
  audit: Auditor;
  tasks: TaskManager;
  /** Where commands run: the connection pool (src/ssh/pool.ts), or a scripted host in tests. */
  pool: HostExecutor;
  graceMs?: number;
  /** Where the commands each principal ran today are counted (quotas survive a restart); in memory by default. */
  days?: DayCounts;
  /** The checked transfer root (transfer-root.ts) of ssh_put_file and ssh_get_file; none: they refuse. */
  transferRoot?: string;
  /**
   * serve: create() resolves without loading ssh2 and the shell grammar or reading credentials, so
   * that the server can answer its client first; the server awaits ready() before every call.
   * Default: create() awaits ready().
   */
  readyLater?: boolean;
}

export class Gateway {
  private constructor(
    private readonly deps: GatewayDeps,
    /** Shared by every view of the gateway, so that a reload through one is seen by all. */
    private readonly config: LiveConfig,
    /** The rate limits and quotas of every principal, shared by every view. */
    private readonly limiter: RateLimiter,
    /** The request_ids callers sent with their run calls (request-ids.ts), shared by every view. */
    private readonly requestIds: RequestIds,
    /** The approval requests of ask decisions (src/approvals/broker.ts), shared by every view. */
    private readonly approvals: ApprovalBroker,
    /** The remote paths being transferred (`alias\0path`), shared by every view: one transfer each at a time. */
    private readonly transferring: Set<string>,
    /** Whose calls this view serves; none: sshgate's own (`sshgate run`), which sees every task. */
    private readonly caller?: Caller,
  ) {}

  /** Loads the configuration; a ConfigError says what is wrong with it. */
  static async create(deps: GatewayDeps): Promise<Gateway> {
    const config = await LiveConfig.load(deps);
    if (!deps.readyLater) await config.ready();
    const limiter = new RateLimiter({ policy: () => config.loaded.policy, ...(deps.days ? { days: deps.days } : {}) });
    const approvals = new ApprovalBroker({
      tasks: deps.tasks,
      // A reload while a request waited: the call is decided again, workdir and variables included.
      recheck: (req, alias) => {
        const host = config.loaded.inventory.byAlias.get(alias);
        if (!host) return { refusal: `host "${alias}" is no longer in the inventory`, terms: null };
        try {
          callExtras(config.loaded.policy, { ...(req.workdir !== undefined ? { workdir: req.workdir } : {}), env: { ...req.env } });
        } catch (err) {
          return { refusal: err instanceof SshgateError ? err.message : 'its workdir or variables are no longer allowed', terms: null };
        }
        const d = decideForHost(config.loaded.engine, host, req.command, {
          principal: req.principal,
          ...(req.workdir !== undefined ? { workdir: req.workdir } : {}),
          ...(req.become !== null ? { become: req.become } : {}),
        });
        return d.verdict === 'deny' ? { refusal: d.reason, terms: null } : { terms: d.approval };
      },
      events: {
        requested: (r) => deps.audit.approval(r),
        answered: (r) => deps.audit.approval(r),
        granted: (g) => deps.audit.grantUsed(g),
        refusedAnswer: (r, answerer, why) => deps.audit.approvalAnswerRefused(r, answerer, why),
      },
    });
    return new Gateway(deps, config, limiter, new RequestIds(), approvals, new Set());
  }

  /** Resolves once calls can be decided and run (LiveConfig.ready): at once after the first time. */
  ready(): Promise<void> {
    return this.config.ready();
  }

  /**
   * The same gateway for one caller: it decides for their principal, starts tasks as theirs and
   * sees no one else's (an admin sees all).
   */
  forCaller(caller: Caller): Gateway {
    return new Gateway(this.deps, this.config, this.limiter, this.requestIds, this.approvals, this.transferring, caller);
  }

  listHosts(input: S.ListHostsInput): S.ListHostsResult {
    this.admitCall();
    const hosts = this.config.loaded.inventory.hosts.filter((h) => input.tag === undefined || h.tags.includes(input.tag));
    return { hosts: hosts.map((h) => ({ alias: h.alias, tags: h.tags, description: h.description })) };
  }

  describeHost(input: S.DescribeHostInput): S.DescribeHostResult {
    this.admitCall();
    const { inventory, policy, engine } = this.config.loaded;
    const host = this.config.host(input.alias);
    const cred = inventory.credentialByName.get(host.credentials);
    const methods: S.DescribeHostResult['auth_methods'] = [];
    if (cred?.key_path) methods.push('key');
    if (cred?.agent) methods.push('agent');
    if (cred?.password_secret) methods.push('password');
    return {
      alias: host.alias,
      host: host.host,
      port: host.port,
      user: host.user ?? cred?.username ?? null,
      tags: host.tags,
      description: host.description,
      shell: host.shell,
      jump_chain: jumpChain(inventory, host.alias).slice(0, -1),
      credential: host.credentials,
      auth_methods: methods,
      limits: effectiveLimits(policy, host).values,
      rules: engine.rulesFor(host).map((r) => ({
        name: r.name,
        action: r.action,
        commands: r.commands,
        source: r.source,
        tty: r.tty,
        stdin: r.stdin,
        callers: r.callers,
        ...(r.approval
          ? {
              approval: {
                approve_by: r.approval.approveBy,
                timeout_seconds: r.approval.timeoutSeconds,
                four_eyes: r.approval.fourEyes,
                grant_minutes: r.approval.grantMinutes,
              },
            }
          : {}),
        become: r.become,
      })),
      files: fileRulesFor(policy, host).map((r) => ({
        name: r.name,
        action: r.action,
        read: r.read,
        write: r.write,
        source: r.source,
        callers: r.callers,
        become: r.become,
        max_file_bytes: r.maxFileBytes,
      })),
    };
  }

  plan(input: S.PlanInput): S.PlanResult {
    this.admitCall();
    const command = checkCommand(input.command);
    const hosts = selectHosts(this.config.loaded.inventory, input);
    const become = input.become !== undefined ? { become: input.become } : {};
    const decisions = hosts.map((h) => decideForHost(this.config.loaded.engine, h, command, { ...this.principal(), ...become }));
    for (const d of decisions)
      this.deps.audit.decision(d, { tool: 'ssh_plan', ...this.audited(), ...(input.tag ? { tag: input.tag } : {}) });
    const allowed = decisions.every((d) => d.allowed);
    const shown = decisions.find((d) => d.verdict === 'deny') ?? decisions.find((d) => !d.allowed) ?? decisions[0];
    // selectHosts names at least one host or throws unknown_host.
    if (!shown) throw new SshgateError('unknown_host', 'no host matched', 'ssh_list_hosts lists the aliases and tags');
    const denied = decisions.filter((d) => !d.allowed);
    const reason =
      decisions.length === 1
        ? shown.reason
        : allowed
          ? `allowed on all ${decisions.length} hosts`
          : `${denied.some((d) => d.verdict === 'deny') ? 'denied' : 'needs approval'} on ${denied.length} of ${decisions.length} hosts (${denied.map((d) => d.alias).join(', ')}); first: ${shown.reason}`;
    const asking = decisions.flatMap((d) => (d.approval ? [d.approval] : []));
    return {
      verdict: denied.some((d) => d.verdict === 'deny') ? 'deny' : allowed ? 'allow' : 'ask',
      allowed,
      approval:
        asking.length > 0 && !denied.some((d) => d.verdict === 'deny')
          ? strictestTerms(asking, { approve_by: DEFAULTS.approval.approveBy, timeout_seconds: DEFAULTS.approval.timeoutSeconds })
          : null,
      tty_allowed: decisions.every((d) => d.tty_allowed),
      stdin_allowed: decisions.every((d) => d.stdin_allowed),
      targets: hosts.map((h) => h.alias),
      segments: shown.segments,
      limits: shown.limits,
      reason,
      caller: shown.caller,
      become: shown.become,
      decisions: decisions.map((d) => ({
        alias: d.alias,
        verdict: d.verdict,
        allowed: d.allowed,
        tty_allowed: d.tty_allowed,
        reason: d.reason,
      })),
    };
  }

  /**
   * Decides, starts the task, and waits for it up to wait_seconds (or until the caller gives up).
   * A command that needs approval waits for it within the same wait; with `approver`, the caller's
   * client is asked (an elicitation) where the ask rules let it answer.
   */
  async run(input: S.RunInput, callerSignal?: AbortSignal, progress?: ProgressSink, approver?: ClientApprover): Promise<S.RunResult> {
    const task = this.startRunTask(input);
    if (approver) this.askClient(task, approver);
    return this.awaitRun(task, input, callerSignal, progress);
  }

  /**
   * ssh_run's wait for a task it started earlier (the retry of a 2026-era input-required round
   * trip): up to wait_seconds, then its result as ssh_run gives it.
   */
  continueRun(taskId: string, input: S.RunInput, callerSignal?: AbortSignal, progress?: ProgressSink): Promise<S.RunResult> {
    return this.awaitRun(this.task(taskId), input, callerSignal, progress);
  }

  private async awaitRun(task: Task, input: S.RunInput, callerSignal?: AbortSignal, progress?: ProgressSink): Promise<S.RunResult> {
    const stopListening = whenAborted(callerSignal, () => this.deps.tasks.cancel(task.id));
    try {
      await this.follow(task, (input.wait_seconds ?? DEFAULTS.waitSeconds) * 1000, progress);
    } finally {
      stopListening();
    }
    const outcome = runOutcome(task, input.max_bytes ?? DEFAULT_INLINE_BYTES);
    if ('error' in outcome) throw outcome.error;
    return outcome.result;
  }

  /** ssh_run without its wait, for a caller that polls (the Tasks extension): the task's id. */
  startRun(input: S.RunInput): string {
    return this.startRunTask(input).id;
  }

  /** ssh_run's task: one call against the caller's rate limit, and once per request_id. */
  private startRunTask(input: S.RunInput): Task {
    this.admitCall();
    return this.onceTask('ssh_run', input, () => this.startTask(input, 'ssh_run'));
  }

  /**
   * What ssh_run answers for a task of this view, for a caller that polls instead of waiting (the
   * Tasks extension): its result, or the error of a task that never ran. Like a status read of a
   * poll, it is not counted as a call.
   */
  runOutcome(input: { task_id: string; max_bytes?: number | undefined }): RunOutcome {
    return runOutcome(this.task(input.task_id), input.max_bytes ?? DEFAULT_INLINE_BYTES);
  }

  /**
   * ssh_get_task_status with the limits the task runs under (how long it is kept follows from
   * them), for a caller that polls (the Tasks extension): not counted as a call.
   */
  statusWithLimits(input: S.TaskStatusInput): S.TaskStatus & { limits: S.RunResult['limits'] } {
    const task = this.task(input.task_id);
    return { ...taskStatus(task), limits: { ...task.limits } };
  }

  runAsync(input: S.RunAsyncInput): S.RunAsyncResult {
    this.admitCall();
    const task = this.onceTask('ssh_run_async', input, () => this.startTask(input, 'ssh_run_async'));
    return { task_id: task.id, state: task.state };
  }

  status(input: S.TaskStatusInput): S.TaskStatus {
    this.admitCall();
    return taskStatus(this.task(input.task_id));
  }

  listTasks(input: S.ListTasksInput): S.ListTasksResult {
    this.admitCall();
    const mine = this.deps.tasks.list(input.state).filter((t) => this.sees(t));
    const tasks: S.TaskStatus[] = [];
    let cost = 0;
    for (const t of mine.slice(0, input.limit ?? 50)) {
      const status = taskStatus(t);
      // Both copies in the message, escaping counted roughly: a list of a thousand stays one message.
      cost += 2.5 * Buffer.byteLength(JSON.stringify(status));
      if (cost > LIST_COST) break;
      tasks.push(status);
    }
    const omitted = Math.min(mine.length, input.limit ?? 50) - tasks.length;
    return { tasks, ...(omitted > 0 ? { omitted_tasks: omitted } : {}) };
  }

  /** Output from the cursor on; with wait_seconds, waits for some when there is none yet. */
  async output(input: S.TaskOutputInput, signal?: AbortSignal): Promise<S.TaskOutputResult> {
    this.admitCall();
    const task = this.task(input.task_id);
    const cursor: Cursor = input.cursor ?? { stdout: 0, stderr: 0 };
    const until = Date.now() + (input.wait_seconds ?? 0) * 1000;
    for (;;) {
      // What a read would return decides, not the byte counts: an unfinished UTF-8 character at
      // the end is held back, and is not news until the rest of it arrives.
      const r = readOutput(task, cursor, input.max_bytes ?? DEFAULT_OUTPUT_BYTES);
      const news = r.stdout !== '' || r.stderr !== '' || r.dropped_bytes.stdout > 0 || r.dropped_bytes.stderr > 0;
      if (news || r.done || isFinal(task.state) || Date.now() >= until || signal?.aborted) return r;
      await this.deps.tasks.waitForChange(task, until - Date.now());
    }
  }

  /**
   * Waits up to `ms` for the task to end. With a progress sink it sends the task id first, then
   * the output as it comes, at most every PROGRESS_EVERY_MS.
   */
  private async follow(task: Task, ms: number, progress?: ProgressSink): Promise<void> {
    if (!progress) return this.deps.tasks.waitFor(task, ms);
    const until = Date.now() + ms;
    let cursor: Cursor = { stdout: 0, stderr: 0 };
    let sent = 0;
    // A person has to answer first: the first message says so too (progress may not repeat a value).
    const waiting =
      task.state === 'awaiting_approval' && task.approval
        ? `; awaiting approval ${task.approval.id} until ${new Date(task.approval.deadline).toISOString()}: it runs once a person approves it`
        : '';
    void progress({ progress: 0, message: `task_id ${task.id}${waiting}` });
    while (!isFinal(task.state) && Date.now() < until) {
      await this.deps.tasks.waitForChange(task, until - Date.now());
      if (!hasNew(task, cursor)) continue;
      const chunk = readOutput(task, cursor, DEFAULT_OUTPUT_BYTES);
      cursor = chunk.next_cursor;
      const text = [chunk.stdout, chunk.stderr ? `[stderr] ${chunk.stderr}` : ''].join('');
      const total = cursor.stdout + cursor.stderr;
      if (text && total > sent) {
        void progress({ progress: total, message: text.length > PROGRESS_MAX_CHARS ? `…${tail(text, PROGRESS_MAX_CHARS)}` : text });
        sent = total;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(PROGRESS_EVERY_MS, until - Date.now()))));
    }
  }

  /**
   * Cancels the task and answers once it has ended — TERM, grace period, KILL and the pid sweep all
   * done — so a status read right after sees the final state. The wait is bounded: a host that
   * never closes the channel gets an answer with `final: false` after the grace period plus a margin.
   */
  async cancel(input: S.CancelInput, callerSignal?: AbortSignal): Promise<S.CancelResult> {
    const task = this.task(input.task_id);
    const { result } = this.deps.tasks.cancel(task.id);
    const started = Date.now();
    if (!isFinal(task.state)) {
      const bound = (this.deps.graceMs ?? DEFAULTS.graceMs) + CANCEL_MARGIN_MS;
      let stopListening = (): void => undefined;
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((r) => (stopListening = whenAborted(callerSignal, r)));
      await Promise.race([task.done, gaveUp, new Promise<void>((r) => (timer = setTimeout(r, bound)))]);
      stopListening();
      clearTimeout(timer);
    }
    const final = isFinal(task.state);
    return {
      task_id: task.id,
      result: result === 'cancelled' ? 'cancelled' : 'already_finished',
      state: task.state,
      final,
      waited_ms: Date.now() - started,
      ...(final ? {} : { note: 'the task had not ended when the wait ran out; ssh_get_task_status shows when it has' }),
    };
  }

  /** The name of the principal whose calls this view serves; none for sshgate's own view. */
  callerName(): string | undefined {
    return this.caller?.principal.name;
  }

  /** Cancels every unfinished task started in this view's session (it ended); returns how many. */
  cancelSessionTasks(): number {
    const session = this.caller?.session;
    if (session === undefined) return 0;
    const mine = this.deps.tasks.list().filter((t) => t.session === session && !isFinal(t.state));
    for (const t of mine) this.deps.tasks.cancel(t.id);
    return mine.length;
  }

  /** The 2025-era HTTP sessions that have a task not yet ended. */
  sessionsWithUnfinishedTasks(): Set<string> {
    const sessions = new Set<string>();
    for (const t of this.deps.tasks.list()) if (t.session !== undefined && !isFinal(t.state)) sessions.add(t.session);
    return sessions;
  }

  /** Cancels a task by id (a fan-out whose caller gave up); unknown ids are ignored. */
  cancelTask(id: string): void {
    const task = this.deps.tasks.get(id);
    if (task && this.sees(task)) this.deps.tasks.cancel(id);
  }

  /**
   * Another caller's task is as unknown to this view as a task that never was, and so is a task of
   * an earlier run on a host that is not in the inventory now.
   */
  private sees(task: Task): boolean {
    const principal = this.caller?.principal;
    if (principal && !isAdmin(principal) && task.owner !== principal.name) return false;
    return !task.restored || this.config.loaded.inventory.byAlias.has(task.alias);
  }

  /**
   * One tool call against the caller's calls_per_minute (ssh_cancel never: an agent can always
   * stop its work); sshgate's own view (`sshgate run`, a person at a terminal) has no limits.
   */
  private admitCall(): void {
    const refused = this.caller && this.limiter.checkCall(this.caller.principal);
    if (refused) throw refused;
  }

  /** The decision's principal option: the caller's, when this view has one. */
  private principal(): { principal?: Principal } {
    return this.caller ? { principal: this.caller.principal } : {};
  }

  /** Who the audit names for this view's decisions. */
  private audited(): Record<string, string> {
    return this.caller ? auditedPrincipal(this.caller.principal) : {};
  }

  private task(id: string): Task {
    if (!parseTaskId(id)) {
      throw new SshgateError(
        'invalid_input',
        `"${clip(id)}" is not a task id`,
        'a task id looks like alias:hash:timestamp, as ssh_run returned it',
      );
    }
    const task = this.deps.tasks.get(id);
    if (!task || !this.sees(task)) throw notFound(id);
    return task;
  }

  /** Reads the files again and swaps them in whole; a bad file leaves the running config alone. */
  async reload(): Promise<S.ReloadResult> {
    this.admitCall();
    await this.config.reload();
    this.deps.pool.retireAll();
    const { loaded, hostKeys } = this.config;
    return {
      reloaded: true,
      hosts: loaded.inventory.hosts.length,
      rules: loaded.policy.rules.length,
      policy_files: loaded.policy.files,
      host_key_policy: hostKeys.policy,
      known_hosts: hostKeys.path,
    };
  }

  /** Runs after every successful reload (the HTTP server rereads its tokens file). */
  onReload(listener: () => void): void {
    this.config.onReload(listener);
  }

  /** ssh_run_on_tag: the command on every host with the tag (fan-out.ts); `approver` as for run. */
  runOnTag(input: S.RunOnTagInput, signal?: AbortSignal, progress?: ProgressSink, approver?: ClientApprover): Promise<S.RunOnTagResult> {
    const started = this.startedOnTag(input);
    const held = started.find((s) => s.task?.state === 'awaiting_approval')?.task;
    if (held && approver) this.askClient(held, approver);
    return followOnTag(this, input, started, signal, progress);
  }

  /**
   * ssh_run_on_tag's wait for hosts that startOnTag started earlier (the retry of a 2026-era
   * input-required round trip): up to wait_seconds, then the result as ssh_run_on_tag gives it.
   */
  continueOnTag(
    input: S.RunOnTagInput,
    hosts: readonly FanOutHost[],
    signal?: AbortSignal,
    progress?: ProgressSink,
  ): Promise<S.RunOnTagResult> {
    const started = hosts.map((h): Started =>
      h.task_id !== undefined ? { alias: h.alias, task: this.task(h.task_id) } : { alias: h.alias, early: h.outcome },
    );
    return followOnTag(this, input, started, signal, progress);
  }

  /**
   * What the caller's client may show its user to approve the task's request: undefined when the
   * task awaits none, or the request's terms do not let the client answer (approve_by: operator,
   * four_eyes — the client's user is the caller).
   */
  approvalForm(taskId: string): ApprovalForm | undefined {
    const task = this.task(taskId);
    const req = task.state === 'awaiting_approval' && task.approval ? this.approvals.get(task.approval.id) : undefined;
    if (!req || req.state !== 'pending') return undefined;
    // The terms in force now: a reload may have made the rule operator-only or four-eyes.
    const terms = this.approvals.currentTerms(req);
    if (terms.approve_by === 'operator' || terms.four_eyes) return undefined;
    return approvalForm(req);
  }

  /**
   * The client was sent the form (an elicitation, or an input-required result): with approve_by
   * client only its answer counts now, until `clientCannotAnswer`.
   */
  clientAsked(approvalId: string): void {
    if (this.ownsApproval(approvalId)) this.approvals.askedClient(approvalId);
  }

  /** The client could not answer (no capability after all, an error, its user dismissed the form): an operator may. */
  clientCannotAnswer(approvalId: string): void {
    if (this.ownsApproval(approvalId)) this.approvals.clientUnavailable(approvalId);
  }

  /**
   * The client's answer to the form of one of this caller's requests. `accept` with approve: true
   * approves it; `decline`, or approve: false, refuses it; `cancel` (the user dismissed the form)
   * leaves it to an operator.
   */
  clientAnswered(approvalId: string, answer: ClientAnswer): void {
    if (!this.ownsApproval(approvalId))
      throw new SshgateError('not_found', `no approval request "${clip(approvalId)}"`, 'the request was made in another call');
    const principal = this.caller?.principal as Principal;
    const answerer: Answerer = { name: principal.name, via: principal.via, channel: 'elicitation' };
    if (answer.action === 'cancel') return this.approvals.clientUnavailable(approvalId);
    const approve = answer.action === 'accept' && answer.approve === true;
    const reason = answer.reason ?? (answer.action === 'decline' ? 'declined in the MCP client' : undefined);
    this.approvals.answer(approvalId, answerer, approve, reason);
  }

  /** Sends the client the form of the task's request, and its answer to the broker; any failure leaves it to an operator. */
  private askClient(task: Task, approver: ClientApprover): void {
    const form = this.approvalForm(task.id);
    if (!form) return;
    const stop = new AbortController();
    // Withdrawn once anyone has answered (an operator under either), not only when the task ends:
    // a user must not answer a form whose answer no longer counts.
    void this.approvals.settled(form.approvalId).then(() => stop.abort());
    void task.done.then(() => stop.abort());
    this.approvals.askedClient(form.approvalId);
    approver(form, stop.signal)
      .then((answer) => {
        if (!answer) this.approvals.clientUnavailable(form.approvalId);
        else if (this.approvals.get(form.approvalId)?.state === 'pending') this.clientAnswered(form.approvalId, answer);
      })
      // No answer, or one the broker refused (an operator answered first): an operator may answer.
      .catch(() => this.approvals.clientUnavailable(form.approvalId));
  }

  private ownsApproval(id: string): boolean {
    const req = this.approvals.get(id);
    return req !== undefined && this.caller !== undefined && req.principal.name === this.caller.principal.name;
  }

  /**
   * ssh_run_on_tag without its wait, for a caller that polls (the Tasks extension): each host's
   * task id, or the outcome of a host that did not start.
   */
  startOnTag(input: S.RunOnTagInput): FanOutHost[] {
    return this.startedOnTag(input).map((s) => (s.task ? { alias: s.alias, task_id: s.task.id } : { alias: s.alias, outcome: s.early }));
  }

  /** ssh_run_on_tag's result for hosts that startOnTag started, as their tasks stand now. */
  onTagResult(input: S.RunOnTagInput, hosts: readonly FanOutHost[]): S.RunOnTagResult {
    return onTagResult(
      input,
      hosts.map((h) => (h.task_id !== undefined ? { alias: h.alias, task: this.task(h.task_id) } : { alias: h.alias, early: h.outcome })),
    );
  }

  /**
   * ssh_run_on_tag's tasks: one call against the caller's rate limit, and once per request_id: a
   * retry gets the tasks the first call started, and decides again the hosts that did not start.
   */
  private startedOnTag(input: S.RunOnTagInput): Started[] {
    this.admitCall();
    const key = this.requestKey(input);
    if (!key) return startOnTag(this, input);
    const reuse = new Map<string, Task>();
    for (const h of this.requestIds.recall(key.principal, key.id, 'ssh_run_on_tag', key.args) ?? []) {
      const task = h.taskId !== undefined ? this.deps.tasks.get(h.taskId) : undefined;
      if (task) reuse.set(h.alias, task);
    }
    const started = startOnTag(this, input, reuse);
    const hosts = started.map((s) => ({ alias: s.alias, ...(s.task ? { taskId: s.task.id } : {}) }));
    this.requestIds.remember(
      key.principal,
      key.id,
      'ssh_run_on_tag',
      key.args,
      hosts,
      keptFor(started.flatMap((s) => (s.task ? [s.task] : []))),
    );
    return started;
  }

  /** A run call's task, once per request_id (request-ids.ts): a retry gets the first call's task while it is known. */
  private onceTask(tool: string, input: { request_id?: string | undefined }, start: () => Task): Task {
    const key = this.requestKey(input);
    if (!key) return start();
    const earlier = this.requestIds.recall(key.principal, key.id, tool, key.args)?.[0]?.taskId;
    const known = earlier !== undefined ? this.deps.tasks.get(earlier) : undefined;
    if (known) return known;
    const task = start();
    this.requestIds.remember(key.principal, key.id, tool, key.args, [{ alias: task.alias, taskId: task.id }], keptFor([task]));
    return task;
  }

  /** Whose request_id it is, when the call has one and this view a caller. */
  private requestKey(input: {
    request_id?: string | undefined;
  }): { principal: string; id: string; args: Record<string, unknown> } | undefined {
    const principal = this.caller?.principal.name;
    if (input.request_id === undefined || principal === undefined) return undefined;
    return { principal, id: input.request_id, args: input };
  }

  async ping(input: S.PingInput, signal?: AbortSignal): Promise<S.PingResult> {
    this.admitCall();
    if (input.alias !== undefined) return this.pingOne(this.config.host(input.alias), signal);
    const all = await Promise.all(this.config.loaded.inventory.hosts.map((h) => this.pingOne(h, signal)));
    const latencies = all.map((p) => p.latency_ms).filter((l): l is number => l !== null);
    return {
      alias: '*',
      reachable: all.every((p) => p.reachable),
      latency_ms: latencies.length ? Math.max(...latencies) : null,
      hosts: all,
    };
  }

  private async pingOne(host: HostEntry, signal?: AbortSignal): Promise<S.PingOne> {
    const limit = effectiveLimits(this.config.loaded.policy, host).values.max_seconds * 1000;
    const deadline = Date.now() + Math.min(limit, DEFAULTS.connectTimeoutSeconds * 1000);
    try {
      const target = this.config.target(host);
      const ms = await this.deps.pool.ping(target, signal ?? new AbortController().signal, deadline);
      return { alias: host.alias, reachable: true, latency_ms: Math.round(ms * 10) / 10 };
    } catch (err) {
      const e = err instanceof SshgateError ? err : new SshgateError('internal', 'ping failed unexpectedly', 'see the server log');
      return { alias: host.alias, reachable: false, latency_ms: null, error: e.toJSON() };
    }
  }

  /**
   * Decides the command for one host and, if allowed, starts its task; throws when denied. A
   * command that needs approval starts held (awaiting_approval) under a new approval request — or,
   * with `held` (a fan-out), is added to it for one request covering all its hosts.
   */
  startTask(input: S.RunAsyncInput, tool: string, wrap: (run: Executor) => Executor = (run) => run, held?: Held[]): Task {
    const host = this.config.host(input.alias);
    const command = checkCommand(input.command);
    const extras = callExtras(this.config.loaded.policy, input);
    if (input.tty && input.become !== undefined) {
      throw new SshgateError(
        'invalid_input',
        'become cannot be given with tty: true',
        "sudo would read its password through the terminal, which echoes into the command's output; run the elevated command without tty",
      );
    }
    if (input.tty && extras.stdin) {
      throw new SshgateError(
        'invalid_input',
        'stdin cannot be given with tty: true',
        'on a terminal stdin is typed as keys, which interactive programs act on (top kills on k) and no policy rule allows; give stdin without tty, or tty without stdin',
      );
    }
    const decided = decideForHost(this.config.loaded.engine, host, command, {
      ...(extras.workdir !== undefined ? { workdir: extras.workdir } : {}),
      ...(input.become !== undefined ? { become: input.become } : {}),
      ...this.principal(),
    });
    // With a terminal the command must be allowed with one; a refusal is audited as a denial. Ask
    // rules carry no tty: or stdin:, so a command that needs approval runs with neither.
    const asks = decided.verdict === 'ask';
    const noTty = input.tty && (decided.allowed || asks) ? (asks ? ASK_NO_TTY : ttyRefusal(decided)) : undefined;
    // The engine never sees a call's stdin: every part of the command must be allowed to read it.
    const noStdin = extras.stdin && (decided.allowed || asks) && !noTty ? (asks ? ASK_NO_STDIN : stdinRefusal(decided)) : undefined;
    const refused = { verdict: 'deny' as const, allowed: false, approval: null };
    const decision = noTty
      ? { ...decided, ...refused, reason: `with a terminal (tty: true): ${noTty}` }
      : noStdin
        ? { ...decided, ...refused, reason: `with stdin: ${noStdin}` }
        : decided;
    this.deps.audit.decision(decision, { tool, ...this.audited(), ...extras.audit, ...(input.tty ? { tty: true } : {}) });
    if (decision.verdict === 'ask' && !this.caller) {
      throw new SshgateError(
        'policy_denied',
        `host "${host.alias}": ${decision.reason}, and sshgate run cannot ask a person for it`,
        'run it through the MCP server (sshgate serve), where an approver answers the request (docs/approvals.md)',
      );
    }
    if (decision.verdict === 'deny') {
      throw new SshgateError(
        'policy_denied',
        `host "${host.alias}": ${decision.reason}`,
        noTty
          ? 'a command runs with a terminal only when every part of it is allowed by a policy rule with tty: true (ssh_plan shows tty_allowed, and tty per part); run it without tty, or ask for a policy change'
          : noStdin
            ? 'a command is given stdin only when every part of it is allowed by a policy rule with stdin: true (ssh_plan shows stdin_allowed, and stdin per part); run it without stdin, or ask for a policy change'
            : 'ssh_plan (or sshgate plan) shows each part of the command and the rule that decides it; ask for a policy change if it should be allowed',
      );
    }
    const terms = decision.approval;
    const principal = this.caller?.principal;
    const call: ApprovedCall = { command, workdir: extras.workdir, env: input.env, become: input.become ?? null };
    // An allowed command (or one that needs approval) counts against the caller's quotas; a denied
    // one cost only its call. Before the grant is looked up: a run the quota refuses is not
    // audited as one under a grant.
    const overQuota = this.caller && this.limiter.check(this.caller.principal, host);
    if (overQuota) throw overQuota;
    // An earlier approval with grant_minutes covers the same call on the same host, if the rules
    // still give grants; otherwise a person answers this one.
    const hold =
      terms !== null &&
      principal !== undefined &&
      !(terms.grant_minutes !== null && this.approvals.grantCovers(principal, host.alias, call));
    if (hold && principal && !held) this.approvals.admit(principal);
    const target = this.config.target(host);
    // A held task reaches its host as the configuration says when it is approved (a reload may
    // have moved the host), not as it said when it was asked for.
    const targetNow = () => (hold ? this.config.target(this.config.host(host.alias)) : target);
    const limits = taskLimits(decision.limits);
    if (input.timeout_seconds !== undefined) limits.max_seconds = Math.min(limits.max_seconds, input.timeout_seconds);
    const graceMs = this.deps.graceMs ?? DEFAULTS.graceMs;
    const task = this.deps.tasks.start(
      host.alias,
      command,
      limits,
      wrap((ctx) => {
        const target = targetNow();
        return this.deps.pool.exec(target, extras.prelude + command, {
          signal: ctx.signal,
          deadline: ctx.deadline,
          stdout: ctx.stdout,
          stderr: ctx.stderr,
          graceMs,
          ...(extras.stdin ? { stdin: extras.stdin } : {}),
          ...(input.tty ? { tty: { ansi: input.ansi ?? 'strip' } } : {}),
          ...(input.become !== undefined ? { become: { ...(target.become ?? { method: 'sudo' as const }), user: input.become } } : {}),
        });
      }),
      {
        ...(input.become !== undefined ? { become: input.become } : {}),
        ...(this.caller ? { owner: this.caller.principal.name } : {}),
        ...(this.caller?.session !== undefined ? { session: this.caller.session } : {}),
        ...(hold ? { held: true } : {}),
      },
    );
    if (hold && terms) {
      if (held) held.push({ task, terms });
      else this.openApproval([{ task, terms }], call);
    }
    return task;
  }

  /** One approval request for held tasks of this view's caller (one host, or a fan-out's hosts). */
  openApproval(held: readonly Held[], call: ApprovedCall): void {
    const principal = this.caller?.principal;
    if (!principal) return;
    try {
      this.approvals.admit(principal);
    } catch (err) {
      // Over the bound: the fan-out's held tasks end as refused, none is left waiting unasked.
      for (const h of held) this.deps.tasks.refuse(h.task.id, (err as SshgateError).toJSON());
      return;
    }
    this.approvals.open({
      principal,
      tasks: held.map((h) => h.task),
      call,
      terms: strictestTerms(
        held.map((h) => h.terms),
        { approve_by: DEFAULTS.approval.approveBy, timeout_seconds: DEFAULTS.approval.timeoutSeconds },
      ),
    });
  }

  /**
   * The approval requests an operator sees (the control socket, an approver over HTTP): pending
   * ones, oldest first; with `all`, the answered ones still kept too.
   */
  listApprovals(all = false): S.ApprovalView[] {
    return this.approvals.list(all).map(approvalView);
  }

  /** An operator's or a client's answer to an approval request (broker.ts says who may give which). */
  answerApproval(id: string, answerer: Answerer, approve: boolean, reason?: string): S.ApprovalView {
    return approvalView(this.approvals.answer(id, answerer, approve, reason));
  }

  /** Refuses the answers still awaited at shutdown: the timers go, the held tasks end with the rest. */
  closeApprovals(): void {
    this.approvals.close();
  }

  /** The file tools (file-ops.ts), for this view's caller. */
  files(): FileOps {
    const caller = this.caller;
    return new FileOps({
      config: this.config,
      tasks: this.deps.tasks,
      pool: this.deps.pool,
      audit: this.deps.audit,
      ...this.principal(),
      audited: this.audited(),
      ...(caller ? { owner: caller.principal.name } : {}),
      ...(caller?.session !== undefined ? { session: caller.session } : {}),
      admitCall: () => this.admitCall(),
      admitOnHost: (host) => {
        const over = caller && this.limiter.check(caller.principal, host);
        if (over) throw over;
      },
    });
  }

  /** ssh_put_file and ssh_get_file (transfers.ts), for this view's caller. */
  transfers(): Transfers {
    return new Transfers({
      ops: this.files(),
      tasks: this.deps.tasks,
      root: this.deps.transferRoot !== undefined ? TransferRoot.of(this.deps.transferRoot, this.caller?.principal) : undefined,
      busy: this.transferring,
    });
  }

  hostsWithTag(tag: string): HostEntry[] {
    return this.config.hostsWithTag(tag);
  }
}

const ASK_NO_TTY = 'the command needs approval, and a command that needs approval never runs with a terminal (ask rules carry no tty:)';
const ASK_NO_STDIN = 'the command needs approval, and a command that needs approval is never given stdin (ask rules carry no stdin:)';

function approvalForm(r: ApprovalRequest): ApprovalForm {
  const lines = [
    `sshgate: ${r.principal.name} asks to run a command that needs your approval.`,
    `host${r.hosts.length === 1 ? '' : 's'}: ${r.hosts.join(', ')}`,
    `command: ${quotedForReview(r.command)}`,
    ...(r.workdir !== undefined ? [`in directory: ${quotedForReview(r.workdir)}`] : []),
    ...Object.entries(r.env).map(([k, v]) => `with ${k}=${quotedForReview(v)}`),
    ...(r.become !== null ? [`as user: ${r.become}`] : []),
    `rule${r.terms.rules.length === 1 ? '' : 's'}: ${r.terms.rules.map((x) => `${x.name} (${x.source})`).join(', ')}`,
    `approval ${r.id}, open until ${new Date(r.deadline).toISOString()}${r.terms.grant_minutes !== null ? `; approving also lets the same command run on the same host for ${r.terms.grant_minutes} min` : ', for this one run'}`,
  ];
  return {
    approvalId: r.id,
    deadline: r.deadline,
    message: lines.join('\n'),
    requestedSchema: {
      type: 'object',
      properties: {
        approve: {
          type: 'boolean',
          title: 'Run this command',
          description: 'yes: it runs once, exactly as shown; no: it is refused',
          default: false,
        },
        reason: { type: 'string', title: 'Reason', description: 'optional; recorded in the audit log', maxLength: 500 },
      },
      required: ['approve'],
    },
  };
}

/** An approval request as operators and callers see it. */
function approvalView(r: ApprovalRequest): S.ApprovalView {
  return {
    approval_id: r.id,
    state: r.state,
    principal: r.principal.name,
    hosts: [...r.hosts],
    task_ids: [...r.taskIds],
    command: r.command,
    command_sha256: r.commandSha256,
    become: r.become,
    ...(r.workdir !== undefined ? { workdir: r.workdir } : {}),
    env: { ...r.env },
    rules: r.terms.rules,
    approve_by: r.terms.approve_by,
    four_eyes: r.terms.four_eyes,
    grant_minutes: r.terms.grant_minutes,
    created_at: new Date(r.createdAt).toISOString(),
    deadline: new Date(r.deadline).toISOString(),
    ...(r.answeredBy ? { answered_by: { name: r.answeredBy.name, via: r.answeredBy.via, channel: r.answeredBy.channel } } : {}),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
  };
}

/** The checks a command gets before the policy sees it: what no reviewed rule could mean. */
function checkCommand(command: string): string {
  const problem = commandInputProblem(command);
  if (problem) throw new SshgateError('invalid_input', problem.reason, problem.hint);
  return command;
}

/**
 * How long a call's request_id is remembered: as long as its tasks may run and their results are
 * kept after (max_seconds, then task_result_ttl), so that a retry of a long task never runs it twice.
 */
function keptFor(tasks: readonly Task[]): number {
  // A task held for approval may wait until its deadline before its max_seconds begin.
  const waits = (t: Task) => (t.approval ? Math.max(0, Math.ceil((t.approval.deadline - Date.now()) / 1000)) : 0);
  const spans = tasks.map((t) => waits(t) + t.limits.max_seconds + t.limits.task_result_ttl);
  return (spans.length > 0 ? Math.max(...spans) : DEFAULTS.limits.task_result_ttl) * 1000;
}

/** What ssh_run answers for a task: its result, or — it never ran, or its outcome is unknown — an error. */
export type RunOutcome = { result: S.RunResult } | { error: SshgateError };

function runOutcome(task: Task, maxBytes: number): RunOutcome {
  if (!neverRan(task)) return { result: runResult(task, maxBytes) };
  const e = task.error as NonNullable<Task['error']>;
  // The error carries the task id to look the task up by.
  return { error: new SshgateError(e.code, e.message, `${e.hint ?? ''}${e.hint ? ' ' : ''}(task ${task.id})`) };
}

function notFound(id: string): SshgateError {
  return new SshgateError(
    'not_found',
    `no task "${clip(id)}"`,
    'finished tasks are forgotten after their task_result_ttl; ssh_list_tasks lists the known ones',
  );
}
