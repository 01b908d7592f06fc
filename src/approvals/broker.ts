/**
 * Where a person's answer becomes a task that runs, or one that never does. A command an ask rule
 * matched starts as a held task (awaiting_approval); the broker holds the approval request bound
 * to it — principal, hosts, the exact command (sha256), the ask rules, the become target, a
 * deadline — and takes exactly one answer: approve releases the request's tasks, deny or the
 * deadline refuses them. An approval is used once; a grant (an ask rule's grant_minutes) lets the
 * same principal run the same command on the same host again for a while, and nothing wider.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DEFAULTS } from '../defaults.js';
import { clip, SshgateError, whole } from '../errors.js';
import { strictestTerms, type ApprovalTermsView } from '../policy/decision.js';
import type { Principal } from '../principal.js';
import type { Task, TaskManager } from '../tasks/task-manager.js';

/** How an answer reached sshgate: the caller's MCP client (elicitation), or an operator out of band. */
export type AnswerChannel = 'elicitation' | 'control-socket' | 'http-admin';

/** Who answered, as the audit records it. */
export interface Answerer {
  name: string;
  via: string;
  channel: AnswerChannel;
}

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn';

/**
 * What runs, as a person approves it: the exact command, the call's workdir (a cd before it) and
 * variables, and the user it runs as. An approval and a grant bind all of it (its sha256).
 */
export interface ApprovedCall {
  command: string;
  workdir?: string | undefined;
  env?: Readonly<Record<string, string>> | undefined;
  become: string | null;
}

/** The sha256 of a call, in one fixed spelling (variables sorted by name). */
export function callSha256(call: ApprovedCall): string {
  const env = Object.entries(call.env ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sha256(JSON.stringify([call.command, call.workdir ?? null, env, call.become]));
}

/** At the moment of approval, what the policy in force says of one host of the request. */
export interface Recheck {
  /** Why the call may no longer run there (denied now, workdir or env no longer listed, host gone). */
  refusal?: string;
  /** The terms of approval it would get now (null: allowed outright now). */
  terms: NonNullable<ApprovalTermsView> | null;
}

export interface ApprovalRequest {
  /** `apr-` and 16 hex digits: what `sshgate approve` is given. */
  readonly id: string;
  readonly principal: Principal;
  readonly hosts: readonly string[];
  readonly taskIds: readonly string[];
  readonly command: string;
  /** sha256 of the exact command, hex. */
  readonly commandSha256: string;
  /** sha256 of the whole call (callSha256): what the approval and its grant bind. */
  readonly callSha256: string;
  readonly become: string | null;
  /** The call's workdir, judged as a cd before the command (the recheck at approval judges it so too). */
  readonly workdir?: string;
  /** The call's variables, exported before the command. */
  readonly env: Readonly<Record<string, string>>;
  readonly terms: NonNullable<ApprovalTermsView>;
  readonly createdAt: number;
  readonly deadline: number;
  state: ApprovalState;
  answeredBy?: Answerer;
  reason?: string;
  /** The client was asked (an elicitation is out): with approve_by client, only its answer counts. */
  clientAsked: boolean;
}

/** What the audit hears of an approval's life. */
export interface ApprovalEvents {
  requested(req: ApprovalRequest): void;
  answered(req: ApprovalRequest): void;
  /** A command run under a grant instead of a new request. */
  granted(grant: GrantUse): void;
  /** An answer the request's terms refused (four eyes, a channel they do not take, too late). */
  refusedAnswer(req: ApprovalRequest, answerer: Answerer, why: string): void;
}

/** A command that ran under an earlier approval's grant. */
export interface GrantUse {
  principal: string;
  alias: string;
  callSha256: string;
  become: string | null;
  until: number;
  approvalId: string;
}

export interface BrokerOptions {
  tasks: TaskManager;
  events: ApprovalEvents;
  /**
   * At the moment of approval, what the policy in force now says of the request on a host: a
   * reload while it waited may have denied it, or made its terms stricter.
   */
  recheck?: (req: ApprovalRequest, alias: string) => Recheck;
  now?: () => number;
  maxPending?: { perPrincipal: number; total: number };
}

interface Grant {
  until: number;
  approvalId: string;
}

/** Answered requests stay listed this long (`sshgate approvals list --all`), then are forgotten. */
const KEEP_ANSWERED_MS = 60 * 60 * 1000;
const KEEP_ANSWERED_MAX = 1000;

export class ApprovalBroker {
  private readonly requests = new Map<string, ApprovalRequest>();
  private readonly grants = new Map<string, Grant>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Who waits for a request's answer (a client's form, to withdraw it once anyone answered). */
  private readonly waiters = new Map<string, (() => void)[]>();
  private readonly now: () => number;
  private readonly maxPending: { perPrincipal: number; total: number };

  constructor(private readonly options: BrokerOptions) {
    this.now = options.now ?? Date.now;
    this.maxPending = options.maxPending ?? DEFAULTS.maxPendingApprovals;
  }

  /**
   * Whether an earlier approval's grant covers this command for this principal on this host (and
   * become target) now; audited when it does.
   */
  grantCovers(principal: Principal, alias: string, call: ApprovedCall): boolean {
    const sha = callSha256(call);
    const key = grantKey(principal.name, alias, sha);
    const grant = this.grants.get(key);
    if (!grant) return false;
    if (grant.until <= this.now()) {
      this.grants.delete(key);
      return false;
    }
    this.options.events.granted({
      principal: principal.name,
      alias,
      callSha256: sha,
      become: call.become,
      until: grant.until,
      approvalId: grant.approvalId,
    });
    return true;
  }

  /** Refuses a new request over the pending bounds, before any task is made for it. */
  admit(principal: Principal): void {
    const pending = [...this.requests.values()].filter((r) => r.state === 'pending');
    const mine = pending.filter((r) => r.principal.name === principal.name).length;
    if (mine >= this.maxPending.perPrincipal || pending.length >= this.maxPending.total) {
      throw new SshgateError(
        'busy',
        mine >= this.maxPending.perPrincipal
          ? `${mine} of your approval requests already wait for an answer`
          : `${pending.length} approval requests already wait for an answer`,
        'wait for them to be answered, or cancel some (ssh_list_tasks state=awaiting_approval)',
      );
    }
  }

  /** Opens a request for held tasks (TaskManager.start with held); they run once it is approved. */
  open(fields: {
    principal: Principal;
    tasks: readonly Task[];
    call: ApprovedCall;
    terms: NonNullable<ApprovalTermsView>;
  }): ApprovalRequest {
    const { call } = fields;
    const createdAt = this.now();
    const req: ApprovalRequest = {
      id: `apr-${randomBytes(8).toString('hex')}`,
      principal: fields.principal,
      hosts: fields.tasks.map((t) => t.alias),
      taskIds: fields.tasks.map((t) => t.id),
      command: call.command,
      commandSha256: sha256(call.command),
      callSha256: callSha256(call),
      become: call.become,
      ...(call.workdir !== undefined ? { workdir: call.workdir } : {}),
      env: { ...(call.env ?? {}) },
      terms: fields.terms,
      createdAt,
      deadline: createdAt + fields.terms.timeout_seconds * 1000,
      state: 'pending',
      clientAsked: false,
    };
    this.prune();
    this.requests.set(req.id, req);
    for (const t of fields.tasks) t.approval = { id: req.id, deadline: req.deadline };
    this.timers.set(req.id, setTimeout(() => this.expire(req), req.deadline - createdAt).unref());
    this.options.events.requested(req);
    // The caller cancelled its tasks (or they ended otherwise): nothing is left to approve.
    void Promise.all(fields.tasks.map((t) => t.done)).then(() => {
      if (req.state === 'pending') this.settle(req, 'withdrawn');
    });
    return req;
  }

  get(id: string): ApprovalRequest | undefined {
    return this.requests.get(id);
  }

  /** Pending requests, oldest first; with `all`, the answered ones still kept too. */
  list(all = false): ApprovalRequest[] {
    this.prune();
    return [...this.requests.values()].filter((r) => all || r.state === 'pending');
  }

  /** Settles once the request is answered, expired or withdrawn (at once if it already is). */
  settled(id: string): Promise<void> {
    const req = this.requests.get(id);
    if (!req || req.state !== 'pending') return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(id, [...(this.waiters.get(id) ?? []), resolve]));
  }

  /**
   * The terms an answer is judged by now: the request's, made stricter where the policy in force
   * (after a reload) says more — as answer() judges it.
   */
  currentTerms(req: ApprovalRequest): NonNullable<ApprovalTermsView> {
    const current = req.hosts.flatMap((alias) => this.options.recheck?.(req, alias).terms ?? []);
    return current.length > 0 ? strictestTerms([req.terms, ...current], req.terms) : req.terms;
  }

  /** The client was sent an elicitation for the request. */
  askedClient(id: string): void {
    const req = this.requests.get(id);
    if (req) req.clientAsked = true;
  }

  /** The client could not be asked after all (no answer came, an error): an operator may answer. */
  clientUnavailable(id: string): void {
    const req = this.requests.get(id);
    if (req) req.clientAsked = false;
  }

  /**
   * One answer to a pending request. Refused (the error says why): an unknown or answered
   * request, a channel the request's terms do not accept, or — with four_eyes — the requester.
   */
  answer(id: string, answerer: Answerer, approve: boolean, reason?: string): ApprovalRequest {
    const req = this.requests.get(id);
    if (!req) {
      throw new SshgateError('not_found', `no approval request "${clip(id)}"`, 'sshgate approvals list shows the pending ones');
    }
    if (req.state !== 'pending') {
      throw new SshgateError(
        'invalid_input',
        `approval request ${id} is already ${req.state}${req.answeredBy ? ` (by ${req.answeredBy.name})` : ''}`,
        'an approval is answered once; a new call of the command asks again',
      );
    }
    if (this.now() >= req.deadline) {
      // The timer may lag the clock (a stalled event loop, a suspended machine): the deadline rules.
      this.expire(req);
      this.refuse(req, answerer, `approval request ${id} is already expired (at ${new Date(req.deadline).toISOString()})`, 'invalid_input');
    }
    // A reload while the request waited: the policy in force decides again, and its terms apply
    // where they are stricter.
    const rechecks = approve ? req.hosts.map((alias) => this.options.recheck?.(req, alias) ?? { terms: null }) : [];
    const current = approve ? rechecks.flatMap((r) => (r.terms ? [r.terms] : [])) : [];
    const terms = current.length > 0 ? strictestTerms([req.terms, ...current], req.terms) : req.terms;
    const refusal = channelRefusal(req, terms, answerer.channel);
    if (refusal) this.refuse(req, answerer, refusal, 'forbidden', 'the ask rule says who approves (approve_by)');
    if (approve && terms.four_eyes && answerer.name === req.principal.name) {
      this.refuse(
        req,
        answerer,
        `${answerer.name} asked for this command and cannot approve it: the ask rule says four_eyes: true`,
        'forbidden',
        'another person must approve it (sshgate approve on the server, or a principal with the approver role)',
      );
    }
    req.answeredBy = answerer;
    if (reason !== undefined) req.reason = whole(reason, 500);
    this.settle(req, approve ? 'approved' : 'denied', rechecks);
    return req;
  }

  /** Audits a refused answer, then throws it. */
  private refuse(req: ApprovalRequest, answerer: Answerer, message: string, code: 'forbidden' | 'invalid_input', hint?: string): never {
    this.options.events.refusedAnswer(req, answerer, message);
    throw new SshgateError(
      code,
      message,
      hint ?? 'an approval is answered once, before its deadline; a new call of the command asks again',
    );
  }

  /** Refuses every pending request (shutdown): their held tasks end as the TaskManager ends them. */
  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private expire(req: ApprovalRequest): void {
    if (req.state === 'pending') this.settle(req, 'expired');
  }

  private settle(req: ApprovalRequest, state: Exclude<ApprovalState, 'pending'>, rechecks: readonly Recheck[] = []): void {
    req.state = state;
    for (const wake of this.waiters.get(req.id) ?? []) wake();
    this.waiters.delete(req.id);
    clearTimeout(this.timers.get(req.id));
    this.timers.delete(req.id);
    const { tasks } = this.options;
    if (state === 'approved') {
      const minutes = req.terms.grant_minutes;
      req.taskIds.forEach((id, i) => {
        const alias = req.hosts[i] as string;
        const refusal = rechecks[i]?.refusal;
        if (refusal !== undefined) {
          tasks.refuse(id, {
            code: 'policy_denied',
            message: `approval ${req.id} came, but the policy in force now refuses the command: ${refusal}`,
            hint: 'the policy was changed while the request waited; ssh_plan shows what it decides now',
          });
          return;
        }
        if (!tasks.release(id)) return;
        // A grant only where the command ran on this approval, and only while the rules still give one.
        const recheck = rechecks[i];
        const grantNow = recheck === undefined || recheck.terms === null ? minutes : recheck.terms.grant_minutes;
        if (minutes !== null && grantNow !== null) {
          const until = this.now() + Math.min(minutes, grantNow) * 60_000;
          this.grants.set(grantKey(req.principal.name, alias, req.callSha256), { until, approvalId: req.id });
        }
      });
    } else if (state === 'denied') {
      const by = req.answeredBy ? ` by ${req.answeredBy.name}` : '';
      for (const id of req.taskIds) {
        tasks.refuse(id, {
          code: 'approval_denied',
          message: `approval ${req.id} was refused${by}${req.reason ? `: ${req.reason}` : ''}`,
          hint: 'the command did not run; ask the approver why, or run something else',
        });
      }
    } else if (state === 'expired') {
      for (const id of req.taskIds) {
        tasks.refuse(id, {
          code: 'approval_timeout',
          message: `no one answered approval ${req.id} within ${req.terms.timeout_seconds} s`,
          hint: 'the command did not run; ask an operator to watch sshgate approvals list, then run it again',
        });
      }
    }
    this.options.events.answered(req);
  }

  private prune(): void {
    const now = this.now();
    for (const [key, g] of this.grants) if (g.until <= now) this.grants.delete(key);
    const answered = [...this.requests.values()].filter((r) => r.state !== 'pending');
    const excess = answered.length - KEEP_ANSWERED_MAX;
    answered.forEach((r, i) => {
      if (i < excess || now - r.deadline > KEEP_ANSWERED_MS) this.requests.delete(r.id);
    });
  }
}

/** Why this channel may not answer the request under these terms, or undefined when it may. */
function channelRefusal(req: ApprovalRequest, terms: NonNullable<ApprovalTermsView>, channel: AnswerChannel): string | undefined {
  const by = terms.approve_by;
  if (channel === 'elicitation') {
    return by === 'operator' || terms.four_eyes || !req.clientAsked
      ? `approval request ${req.id} is not answered through the MCP client`
      : undefined;
  }
  if (by === 'client' && req.clientAsked) {
    return `approval request ${req.id} is answered by the user of the caller's MCP client (approve_by: client)`;
  }
  return undefined;
}

function grantKey(principal: string, alias: string, callSha: string): string {
  return JSON.stringify([principal, alias, callSha]);
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
