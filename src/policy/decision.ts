/** The shape of a policy decision, shared by `sshgate plan --json` and the `ssh_plan` tool. */
import { z } from 'zod';

export const LimitsSchema = z.object({
  max_seconds: z.number(),
  max_output_bytes: z.number(),
  max_concurrent_per_host: z.number(),
  task_result_ttl: z.number(),
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

export const Decision = z.object({
  alias: z.string(),
  command: z.string(),
  caller: DecisionCaller,
  verdict: Verdict.describe('deny if any segment is denied; else ask if any segment needs approval; else allow'),
  allowed: z.boolean().describe("verdict is 'allow': it may run as it is"),
  tty_allowed: z.boolean().describe('allowed, and every segment also with a terminal (ssh_run with tty: true)'),
  stdin_allowed: z.boolean().describe('allowed, and every segment also with data on stdin (ssh_run with stdin)'),
  reason: z.string(),
  segments: z.array(SegmentVerdict),
  matched_rules: z.array(MatchedRule),
  limits: LimitsSchema,
});
export type Decision = z.infer<typeof Decision>;

/** A caller as rules name it: `alice`, or `alice (role:ops, role:dev)`. */
export function callerLabel(caller: { name: string; roles: readonly string[] }): string {
  return caller.roles.length > 0 ? `${caller.name} (${caller.roles.map((r) => `role:${r}`).join(', ')})` : caller.name;
}
