/** The shape of a policy decision, shared by `sshgate plan --json` and the `ssh_plan` tool. */
import { z } from 'zod';

/** The limits a task runs under (a task records these, and only these). */
export const TaskLimitsSchema = z.object({
  max_seconds: z.number(),
  max_output_bytes: z.number(),
  max_concurrent_per_host: z.number(),
  task_result_ttl: z.number(),
});

/** The limits of a host: its tasks', and the size cap of its file operations. */
export const LimitsSchema = TaskLimitsSchema.extend({
  max_file_bytes: z.number().describe('the size cap of a file operation on the host, before any file rule lowers it'),
});

/** deny > ask > allow: ask is allowed only once a person approves the exact command. */
export const Verdict = z.enum(['allow', 'ask', 'deny']);
export type Verdict = z.infer<typeof Verdict>;

export const SegmentVerdict = z.object({
  text: z.string().describe('one simple command, normalised: quotes removed and re-applied one way'),
  verdict: Verdict.describe('allow; ask: an ask rule matches it, and no deny rule does (it needs approval); deny'),
  allowed: z.boolean().describe("verdict is 'allow'"),
  rule: z.string().nullable().describe('the rule that decided this segment, if any'),
  source: z.string().nullable().describe('file:line:column of that rule'),
  reason: z.string(),
  nested: z.boolean().describe('inside a command or process substitution'),
  tty: z.boolean().describe('an allow rule with tty: true matches it, and no deny rule does: it may run with a terminal'),
  stdin: z.boolean().describe('an allow rule with stdin: true matches it, and no deny rule does: it may be given stdin'),
});
export type SegmentVerdict = z.infer<typeof SegmentVerdict>;

export const MatchedRule = z.object({
  name: z.string(),
  action: z.enum(['allow', 'ask', 'deny']),
  source: z.string(),
});

export const DecisionCaller = z
  .object({ name: z.string(), roles: z.array(z.string()) })
  .nullable()
  .describe(
    'the principal the command was decided for; null: none was known, so allow rules with callers: did not apply and deny rules with callers: did',
  );

/** What approving an ask decision takes: its ask rules' terms, the strictest of each (docs/approvals.md). */
export const ApprovalTermsView = z
  .object({
    approve_by: z
      .enum(['client', 'operator', 'either'])
      .describe("client: the caller's MCP client asks its user (an operator when it cannot); operator: only out of band; either: both"),
    timeout_seconds: z.number().describe('unanswered this long, the request is refused (approval_timeout)'),
    four_eyes: z.boolean().describe('the approver must be another principal than the caller'),
    grant_minutes: z.number().nullable().describe('an approval also covers the same command on the same host this long; null: once'),
    rules: z.array(z.object({ name: z.string(), source: z.string() })).describe('the ask rules that make the command need approval'),
  })
  .nullable()
  .describe("with verdict 'ask': how it is approved; null otherwise");
export type ApprovalTermsView = z.infer<typeof ApprovalTermsView>;

export const Decision = z.object({
  alias: z.string(),
  command: z.string(),
  caller: DecisionCaller,
  become: z
    .string()
    .nullable()
    .describe('the user the command was decided to run as (become); null: as the login user, and only rules without become: allowed it'),
  verdict: Verdict.describe('deny if any segment is denied; else ask if any segment needs approval; else allow'),
  allowed: z.boolean().describe("verdict is 'allow': it may run as it is"),
  tty_allowed: z.boolean().describe('allowed, and every segment also with a terminal (ssh_run with tty: true)'),
  stdin_allowed: z.boolean().describe('allowed, and every segment also with data on stdin (ssh_run with stdin)'),
  reason: z.string(),
  segments: z.array(SegmentVerdict),
  matched_rules: z.array(MatchedRule),
  approval: ApprovalTermsView,
  limits: LimitsSchema,
});
export type Decision = z.infer<typeof Decision>;

export const FileAccess = z.enum(['read', 'write']);
export type FileAccess = z.infer<typeof FileAccess>;

/** What the policy decides for one file operation on one host: `decideFile` in file-decision.ts. */
export const FileDecision = z.object({
  alias: z.string(),
  access: FileAccess.describe('read: reading the file, or listing the directory; write: creating, replacing or editing it'),
  path: z.string().describe('the path as given: judged as written, never resolved or normalised'),
  caller: DecisionCaller,
  become: z
    .string()
    .nullable()
    .describe('the user the operation was decided to run as (become); null: as the login user, and only rules without become: allowed it'),
  verdict: z.enum(['allow', 'deny']).describe('deny if any deny rule matches the path for this access; else allow if an allow rule does'),
  allowed: z.boolean().describe("verdict is 'allow'"),
  rule: z
    .object({ name: z.string(), source: z.string() })
    .nullable()
    .describe('the rule that decided: the first deny rule that matched, else the first allow rule; null when none did'),
  reason: z.string(),
  matched_rules: z.array(MatchedRule).describe('every file rule whose patterns for this access match the path'),
  max_file_bytes: z
    .number()
    .describe("the size cap of this operation: the host's max_file_bytes, lowered by the caps of the allow rules that matched"),
});
export type FileDecision = z.infer<typeof FileDecision>;

/** A caller as rules name it: `alice`, or `alice (role:ops, role:dev)`. */
export function callerLabel(caller: { name: string; roles: readonly string[] }): string {
  return caller.roles.length > 0 ? `${caller.name} (${caller.roles.map((r) => `role:${r}`).join(', ')})` : caller.name;
}

type Terms = NonNullable<ApprovalTermsView>;

/**
 * Of several ask rules' terms (segments of one command, hosts of one fan-out), the strictest of
 * each: operator over client over either (operator trusts no elicitation; client lets an operator
 * answer only where the client cannot ask), the shortest timeout, four eyes if any says so, a grant
 * only if every one gives one (the shortest).
 */
export function strictestTerms(terms: readonly Terms[], fallback: Pick<Terms, 'approve_by' | 'timeout_seconds'>): Terms {
  const approveBy = (['operator', 'client', 'either'] as const).find((by) => terms.some((t) => t.approve_by === by));
  const grants = terms.map((t) => t.grant_minutes);
  const rules = new Map(terms.flatMap((t) => t.rules).map((r) => [r.source, r]));
  return {
    approve_by: approveBy ?? fallback.approve_by,
    timeout_seconds: terms.length > 0 ? Math.min(...terms.map((t) => t.timeout_seconds)) : fallback.timeout_seconds,
    four_eyes: terms.some((t) => t.four_eyes),
    grant_minutes: grants.length > 0 && grants.every((g) => g !== null) ? Math.min(...grants) : null,
    rules: [...rules.values()],
  };
}
