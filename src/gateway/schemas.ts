/**
 * The requests the gateway takes and the results it gives, as zod schemas: the MCP tools publish
 * them as their input and output schemas, and the handlers' types are inferred from them.
 */
import { z } from 'zod';
import { Alias, Tag } from '../config/schemas.js';
import { LimitsSchema, SegmentVerdict } from '../policy/decision.js';
import { FINAL_STATES } from '../tasks/task-manager.js';

export const TaskState = z.enum(['queued', 'running', ...FINAL_STATES]);

const Command = z.string().describe('the command line, as a shell would read it; the policy judges every part');
const TaskId = z.string().describe('alias:hash:timestamp, as ssh_run returned it');

export const ErrorBody = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
});

// ------------------------------------------------------------------ hosts

export const ListHostsInput = z.strictObject({ tag: Tag.optional().describe('only hosts with this tag') });
export const ListHostsResult = z.object({
  hosts: z.array(z.object({ alias: z.string(), tags: z.array(z.string()), description: z.string() })),
});

export const DescribeHostInput = z.strictObject({ alias: Alias });
export const DescribeHostResult = z.object({
  alias: z.string(),
  host: z.string(),
  port: z.number(),
  user: z.string().nullable(),
  tags: z.array(z.string()),
  description: z.string(),
  jump_chain: z.array(z.string()).describe('the hops from the first jump host to this host'),
  credential: z.string().describe('the name of the credential entry; never its secret'),
  auth_methods: z.array(z.enum(['key', 'agent', 'password'])),
  limits: LimitsSchema,
  rules: z.array(z.object({ name: z.string(), action: z.enum(['allow', 'deny']), commands: z.array(z.string()), source: z.string() })),
});

// ------------------------------------------------------------------ plan

export const PlanInput = z.strictObject({
  alias: Alias.optional(),
  tag: Tag.optional(),
  command: Command,
});
export const PlanResult = z.object({
  allowed: z.boolean(),
  targets: z.array(z.string()),
  segments: z.array(SegmentVerdict),
  limits: LimitsSchema,
  reason: z.string(),
  decisions: z
    .array(z.object({ alias: z.string(), allowed: z.boolean(), reason: z.string() }))
    .describe('one per target host'),
});

// ------------------------------------------------------------------ run, cancel

export const RunInput = z.strictObject({
  alias: Alias,
  command: Command,
  timeout_seconds: z.number().int().min(1).max(86_400).optional().describe('shortens the policy max_seconds, never extends it'),
  wait_seconds: z.number().min(0).max(600).optional().describe('how long to wait before returning a still-running task (default 50)'),
});
export const RunResult = z.object({
  task_id: z.string(),
  state: TaskState,
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean().describe('output beyond max_output_bytes was dropped from the middle'),
  duration_ms: z.number(),
  error: ErrorBody.optional().describe('why the task ended without an exit status (timeout, lost connection)'),
});

export const CancelInput = z.strictObject({ task_id: TaskId });
export const CancelResult = z.object({
  task_id: z.string(),
  result: z.enum(['cancelled', 'already_finished']),
  state: TaskState,
});

// ------------------------------------------------------------------ config, ping

export const ReloadInput = z.strictObject({});
export const ReloadResult = z.object({
  reloaded: z.literal(true),
  hosts: z.number(),
  rules: z.number(),
  policy_files: z.array(z.string()),
  host_key_policy: z.enum(['strict', 'accept-new']),
  known_hosts: z.string(),
});

export const PingInput = z.strictObject({ alias: Alias.optional().describe('one host; without it, every host') });
export const PingOne = z.object({
  alias: z.string(),
  reachable: z.boolean(),
  latency_ms: z.number().nullable().describe('the SSH handshake, connection to authenticated session'),
  error: ErrorBody.optional(),
});
export const PingResult = PingOne.extend({
  hosts: z.array(PingOne).optional().describe('without alias: one entry per host; the top level sums them up'),
});

export type ListHostsInput = z.infer<typeof ListHostsInput>;
export type ListHostsResult = z.infer<typeof ListHostsResult>;
export type DescribeHostInput = z.infer<typeof DescribeHostInput>;
export type DescribeHostResult = z.infer<typeof DescribeHostResult>;
export type PlanInput = z.infer<typeof PlanInput>;
export type PlanResult = z.infer<typeof PlanResult>;
export type RunInput = z.infer<typeof RunInput>;
export type RunResult = z.infer<typeof RunResult>;
export type CancelInput = z.infer<typeof CancelInput>;
export type CancelResult = z.infer<typeof CancelResult>;
export type ReloadResult = z.infer<typeof ReloadResult>;
export type PingInput = z.infer<typeof PingInput>;
export type PingOne = z.infer<typeof PingOne>;
export type PingResult = z.infer<typeof PingResult>;
