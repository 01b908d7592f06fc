/**
 * The requests the gateway takes and the results it gives, as zod schemas: the MCP tools publish
 * them as their input and output schemas, and the handlers' types are inferred from them.
 */
import { z } from 'zod';
import { Alias, BecomeUser, HostShell, Tag, TargetTag } from '../config/file-formats.js';
import { ApprovalTermsView, LimitsSchema, SegmentVerdict, TaskLimitsSchema } from '../policy/decision.js';
import { FINAL_STATES, OPEN_STATES } from '../tasks/task-manager.js';
import { MAX_STDIN_BYTES } from './call-extras.js';
import { DEFAULT_INLINE_BYTES, FAN_OUT_INLINE_BYTES, MAX_INLINE_BYTES, MAX_READ_BYTES } from './budget.js';

export const TaskState = z.enum([...OPEN_STATES, ...FINAL_STATES]);

const Command = z.string().describe('the command line, as a shell would read it; the policy judges every part');
const Become = BecomeUser.describe(
  'run the command as this user (sudo, or doas, on the host), e.g. "root"; only where every part of the command is allowed by a policy rule with become: naming this user (ssh_plan with become shows it). The policy judges the command itself, not a sudo around it. Not with tty',
);
const TaskId = z.string().describe('alias:hash:timestamp, as ssh_run returned it');

export const ErrorBody = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
  retry_after_seconds: z.int().min(1).optional().describe('rate_limited: the wait in seconds after which the call would be allowed'),
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
  shell: HostShell.describe(
    'the shell that runs commands there: bash (/bin/bash --noprofile --norc) or sh (/bin/sh), whatever the login shell',
  ),
  jump_chain: z.array(z.string()).describe('the hops from the first jump host to this host'),
  credential: z.string().describe('the name of the credential entry; never its secret'),
  auth_methods: z.array(z.enum(['key', 'agent', 'password'])),
  limits: LimitsSchema,
  rules: z.array(
    z.object({
      name: z.string(),
      action: z.enum(['allow', 'ask', 'deny']).describe("ask: its commands need a person's approval"),
      commands: z.array(z.string()),
      source: z.string(),
      tty: z.boolean().describe('an allow rule whose commands may also run with a terminal (ssh_run tty: true)'),
      stdin: z.boolean().describe('an allow rule whose commands may also be given stdin (ssh_run stdin)'),
      callers: z.array(z.string()).nullable().describe('the principals (name, or role:NAME) the rule applies to; null: everyone'),
      approval: z
        .object({
          approve_by: z.enum(['client', 'operator', 'either']),
          timeout_seconds: z.number(),
          four_eyes: z.boolean(),
          grant_minutes: z.number().nullable(),
        })
        .optional()
        .describe('an ask rule: who approves its commands, how long a request stays open, grants'),
      become: z
        .array(z.string())
        .nullable()
        .describe(
          'the users an elevated call may run as under this rule; null: the rule is for calls that do not elevate (a deny rule: for every call)',
        ),
    }),
  ),
  files: z
    .array(
      z.object({
        name: z.string(),
        action: z.enum(['allow', 'deny']),
        read: z.array(z.string()).describe('path globs it allows (or denies) reading; listing a directory reads the directory itself'),
        write: z.array(z.string()).describe('path globs it allows (or denies) writing; writing does not imply reading'),
        source: z.string(),
        callers: z.array(z.string()).nullable(),
        become: z.array(z.string()).nullable(),
        max_file_bytes: z.number().nullable().describe("an allow rule's own cap, below the host's max_file_bytes; null: none"),
      }),
    )
    .describe('the files: rules for this host (ssh_read_file, ssh_write_file…): what may be read and written'),
});

// ------------------------------------------------------------------ plan

export const PlanInput = z.strictObject({
  alias: Alias.optional(),
  tag: TargetTag.optional().describe('every host with this tag; "@all" (or "*") for every host'),
  command: Command,
  become: Become.optional(),
});
export const PlanResult = z.object({
  verdict: z.enum(['allow', 'ask', 'deny']).describe('deny if any host denies it; else ask if any host needs approval; else allow'),
  allowed: z.boolean().describe("verdict is 'allow': it runs without anyone's approval"),
  approval: ApprovalTermsView.describe(
    "with verdict 'ask': who approves, how long the request stays open, grants (the strictest over the hosts)",
  ),
  tty_allowed: z.boolean().describe('allowed with a terminal too (ssh_run tty: true): every segment is allowed by a rule with tty: true'),
  stdin_allowed: z
    .boolean()
    .describe('allowed with data on stdin too (ssh_run stdin): every segment is allowed by a rule with stdin: true'),
  targets: z.array(z.string()),
  segments: z.array(SegmentVerdict),
  limits: LimitsSchema,
  reason: z.string(),
  caller: z
    .object({ name: z.string(), roles: z.array(z.string()) })
    .nullable()
    .describe('the principal the command was decided for: the caller of this call (rules with callers: apply to it)'),
  become: z.string().nullable().describe('the user the command was decided to run as (become); null: the login user'),
  decisions: z
    .array(
      z.object({
        alias: z.string(),
        verdict: z.enum(['allow', 'ask', 'deny']),
        allowed: z.boolean(),
        tty_allowed: z.boolean(),
        reason: z.string(),
      }),
    )
    .describe('one per target host'),
});

// ------------------------------------------------------------------ run, cancel

const InlineBytes = z
  .number()
  .int()
  .min(0)
  .max(MAX_INLINE_BYTES)
  .describe(
    `output shown in the result, per stream (default ${DEFAULT_INLINE_BYTES}); beyond it the head and tail are shown and the rest is read by cursor with ssh_get_task_output`,
  );

const Stdin = z
  .string()
  .refine((s) => !s.includes('\0'), 'stdin cannot carry a NUL byte')
  .describe(`written to the command's stdin, then EOF (at most ${MAX_STDIN_BYTES} bytes as UTF-8); without it stdin is empty`);
const Workdir = z.string().max(4096).describe('the directory the command starts in: an absolute path the policy lists under workdirs');
const Env = z
  .record(
    z.string().max(128),
    z
      .string()
      .max(4096)
      .refine((v) => !v.includes('\0'), 'a value cannot carry a NUL byte'),
  )
  .refine((e) => Object.keys(e).length <= 64, 'at most 64 variables')
  .describe('environment variables for the command: only names the policy lists under env');
const CallExtras = { stdin: Stdin.optional(), workdir: Workdir.optional(), env: Env.optional() };
const Tty = z
  .boolean()
  .describe(
    'run with a terminal (default false), for programs that need one; only where every part of the command is allowed by a policy rule with tty: true (ssh_plan shows tty_allowed). ' +
      'stdout and stderr then arrive merged, on stdout; stdin cannot be given with it',
  );
const Ansi = z
  .enum(['strip', 'keep'])
  .describe(
    "with tty: 'strip' (default) removes the terminal's escape sequences and turns \\r\\n into \\n; 'keep' passes its bytes as they are",
  );

const RequestId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, '1 to 128 of A-Z a-z 0-9 . _ : -')
  .describe(
    'an idempotency key: a retry of this call with the same request_id (and the same arguments) within the task TTL returns the task the first call started instead of running the command again',
  );

export const RunInput = z.strictObject({
  alias: Alias,
  command: Command,
  become: Become.optional(),
  ...CallExtras,
  request_id: RequestId.optional(),
  timeout_seconds: z.number().int().min(1).max(86_400).optional().describe('shortens the policy max_seconds, never extends it'),
  wait_seconds: z.number().min(0).max(600).optional().describe('how long to wait before returning a still-running task (default 50)'),
  max_bytes: InlineBytes.optional(),
  tty: Tty.optional(),
  ansi: Ansi.optional(),
});
const StreamCounts = z.object({ stdout: z.number(), stderr: z.number() });
const ReadCursor = z
  .object({ stdout: z.number(), stderr: z.number() })
  .describe('where ssh_get_task_output goes on from: the first byte not shown, per stream');
export const TaskApproval = z
  .object({
    approval_id: z.string(),
    deadline: z.string().describe('unanswered by then, the task ends denied (approval_timeout)'),
    note: z.string().optional().describe('while it awaits approval: what happens next'),
  })
  .describe('the approval request of a command an ask rule matched');
export type TaskApproval = z.infer<typeof TaskApproval>;

export const RunResult = z.object({
  task_id: z.string(),
  state: TaskState,
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean().describe('output beyond max_output_bytes was dropped from the middle and is not kept'),
  stdout_bytes: z.number().describe('bytes the command wrote to stdout, shown or not'),
  stderr_bytes: z.number(),
  omitted_bytes: StreamCounts.describe('bytes between the head and the tail shown (max_bytes), per stream'),
  read_cursor: ReadCursor,
  duration_ms: z.number(),
  limits: TaskLimitsSchema.describe("the limits the task runs under: the policy's, shortened by timeout_seconds"),
  become: z.string().optional().describe('the user the command ran as (become), when it was elevated'),
  error: ErrorBody.optional().describe('why the task ended without an exit status (timeout, lost connection, approval refused)'),
  approval: TaskApproval.optional(),
});

export const CancelInput = z.strictObject({ task_id: TaskId });
export const CancelResult = z.object({
  task_id: z.string(),
  result: z.enum(['cancelled', 'already_finished']),
  state: TaskState.describe('the state when the answer was sent: final unless the wait ran out'),
  final: z.boolean().describe('the task has ended: its processes are gone (TERM, grace period, KILL, sweep)'),
  waited_ms: z.number().describe('how long the cancel waited for the task to end'),
  note: z.string().optional().describe('set when the wait ran out before the task ended'),
});

// ------------------------------------------------------------------ async tasks

export const RunAsyncInput = z.strictObject({
  alias: Alias,
  command: Command,
  become: Become.optional(),
  ...CallExtras,
  timeout_seconds: RunInput.shape.timeout_seconds,
  tty: RunInput.shape.tty,
  ansi: RunInput.shape.ansi,
  request_id: RequestId.optional(),
});
export const RunAsyncResult = z.object({ task_id: z.string(), state: TaskState });

export const TaskStatusInput = z.strictObject({ task_id: TaskId });
export const TaskStatus = z.object({
  task_id: z.string(),
  alias: z.string(),
  command: z.string(),
  become: z.string().optional().describe('the user the command runs as (become), when it is elevated'),
  state: TaskState,
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
  created_at: z.string().describe('ISO 8601'),
  started_at: z.string().nullable(),
  ended_at: z.string().nullable(),
  duration_ms: z.number().nullable(),
  stdout_bytes: z.number().describe('bytes the command has written so far, kept or not'),
  stderr_bytes: z.number(),
  error: ErrorBody.optional(),
  approval: TaskApproval.optional(),
});

export const ListTasksInput = z.strictObject({
  state: TaskState.optional(),
  limit: z.number().int().min(1).max(1000).optional().describe('at most this many, newest first (default 50)'),
});
export const ListTasksResult = z.object({
  tasks: z.array(TaskStatus),
  omitted_tasks: z
    .number()
    .optional()
    .describe('tasks within limit left out to keep the result within its size (the oldest); a state filter or a smaller limit shows them'),
});

const Cursor = z.object({
  stdout: z.number().int().min(0).describe('byte offset into the whole stdout stream'),
  stderr: z.number().int().min(0),
});
export const TaskOutputInput = z.strictObject({
  task_id: TaskId,
  cursor: Cursor.optional().describe('next_cursor of the previous call; from the start when absent'),
  max_bytes: z
    .number()
    .int()
    .min(64)
    .max(MAX_READ_BYTES)
    .optional()
    .describe(
      `per stream (default 65536, at most ${MAX_READ_BYTES}); a read returns less when JSON escaping would make the message too large`,
    ),
  wait_seconds: z.number().min(0).max(50).optional().describe('wait this long for new output when there is none yet (default 0)'),
});
export const TaskOutputResult = z.object({
  task_id: z.string(),
  state: TaskState,
  stdout: z.string(),
  stderr: z.string(),
  next_cursor: Cursor,
  done: z.boolean().describe('the task has ended and all its kept output has been read'),
  dropped_bytes: z
    .object({ stdout: z.number(), stderr: z.number() })
    .describe('bytes between the cursor and this output that were not kept (max_output_bytes)'),
});

// ------------------------------------------------------------------ fan-out

export const RunOnTagInput = z.strictObject({
  tag: TargetTag.describe(
    'every host with this tag; "@all" (or "*") for every host of the inventory, each decided by the policy on its own',
  ),
  command: Command,
  become: Become.optional(),
  ...CallExtras,
  request_id: RequestId.optional(),
  concurrency: z.number().int().min(1).max(256).optional().describe('hosts at once (default 16)'),
  timeout_seconds: RunInput.shape.timeout_seconds,
  wait_seconds: RunInput.shape.wait_seconds,
  max_bytes: InlineBytes.optional().describe(
    `output shown per host and stream (default ${DEFAULT_INLINE_BYTES}), shared out of ${FAN_OUT_INLINE_BYTES} bytes for the whole result; the rest is read by cursor with ssh_get_task_output`,
  ),
});
export const HostOutcome = z.object({
  alias: z.string(),
  status: z.enum(['succeeded', 'failed', 'denied', 'error', 'running', 'cancelled', 'timed_out', 'lost', 'queued', 'awaiting_approval']),
  task_id: z.string().nullable(),
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
  stdout_bytes: z.number(),
  stderr_bytes: z.number(),
  omitted_bytes: StreamCounts,
  read_cursor: ReadCursor,
  duration_ms: z.number().nullable(),
  limits: TaskLimitsSchema.optional().describe('the limits its task runs under'),
  reason: z.string().optional().describe('why the policy denied it'),
  error: ErrorBody.optional(),
});
export const RunOnTagResult = z.object({
  tag: z.string(),
  results: z.array(HostOutcome),
  summary: z.object({ total: z.number(), succeeded: z.number(), failed: z.number(), denied: z.number(), running: z.number() }),
  omitted_hosts: z
    .number()
    .optional()
    .describe('hosts left out of results to keep the result within its size; the summary counts them, ssh_list_tasks lists their tasks'),
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
export type RunAsyncInput = z.infer<typeof RunAsyncInput>;
export type RunAsyncResult = z.infer<typeof RunAsyncResult>;
export type TaskStatusInput = z.infer<typeof TaskStatusInput>;
export type TaskStatus = z.infer<typeof TaskStatus>;
export type ListTasksInput = z.infer<typeof ListTasksInput>;
export type ListTasksResult = z.infer<typeof ListTasksResult>;
export type TaskOutputInput = z.infer<typeof TaskOutputInput>;
export type TaskOutputResult = z.infer<typeof TaskOutputResult>;
export type RunOnTagInput = z.infer<typeof RunOnTagInput>;
export type HostOutcome = z.infer<typeof HostOutcome>;
export type RunOnTagResult = z.infer<typeof RunOnTagResult>;

// ------------------------------------------------------------------ approvals

export const ApprovalView = z.object({
  approval_id: z.string().describe('what sshgate approve and sshgate deny are given'),
  state: z.enum(['pending', 'approved', 'denied', 'expired', 'withdrawn']),
  principal: z.string().describe('who asked'),
  hosts: z.array(z.string()),
  task_ids: z.array(z.string()),
  command: z.string().describe('the exact command the approval covers'),
  command_sha256: z.string(),
  become: z.string().nullable().describe('the user it runs as; null: the login user'),
  workdir: z.string().optional().describe('the directory it starts in (a cd before the command)'),
  env: z.record(z.string(), z.string()).describe('the variables it runs with'),
  rules: z.array(z.object({ name: z.string(), source: z.string() })).describe('the ask rules, with file:line:column'),
  approve_by: z.enum(['client', 'operator', 'either']),
  four_eyes: z.boolean(),
  grant_minutes: z.number().nullable(),
  created_at: z.string(),
  deadline: z.string().describe('unanswered by then, the request is refused (approval_timeout)'),
  answered_by: z.object({ name: z.string(), via: z.string(), channel: z.string() }).optional(),
  reason: z.string().optional(),
});
export type ApprovalView = z.infer<typeof ApprovalView>;
