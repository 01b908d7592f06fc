/** ssh_run and ssh_cancel: a command on one host as a task, and stopping it. */
import type { Gateway } from '../../gateway/gateway.js';
import { CancelInput, CancelResult, RunInput, RunResult } from '../../gateway/tool-contract.js';
import { progressSink } from '../progress.js';
import type { ToolRegistry } from '../registry.js';

export function registerRunTools(tools: ToolRegistry, gateway: Gateway): void {
  tools.register({
    name: 'ssh_run',
    title: 'Run a command on a host',
    description:
      'Run a command on one host over SSH, if the policy allows every part of it (see ssh_plan). ' +
      'Returns stdout, stderr, exit_code, signal and duration_ms; a non-zero exit is a result, not an error. ' +
      'If the command is still running after wait_seconds (default 50), returns state "running" and its task_id: ' +
      'the task goes on as an async task (ssh_get_task_output, ssh_cancel). timeout_seconds can only shorten the policy limit. ' +
      'With a progress token, progress notifications carry the task id first, then the output as it arrives. ' +
      "tty: true runs it with a terminal where the policy allows that (ssh_plan: tty_allowed): stdout and stderr then arrive merged on stdout, escape sequences stripped unless ansi is 'keep'. " +
      'become: "root" runs it as that user through sudo on the host, where a policy rule with become: allows it; the policy judges the command itself.',
    input: RunInput,
    output: RunResult,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    handler: (input, ctx) => gateway.run(input, ctx.mcpReq.signal, progressSink(ctx), ctx.approver),
  });
  tools.register({
    name: 'ssh_cancel',
    title: 'Cancel a task',
    description:
      'Stop a running or queued task: the remote command gets TERM, then KILL after a grace period, and every process it started is removed. ' +
      'Answers once the task has ended (final: true, state cancelled), so a status read right after sees it; the wait is bounded by the grace period plus 3 s (final: false if it ran out). ' +
      'Answers already_finished for a task that had ended.',
    input: CancelInput,
    output: CancelResult,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    handler: (input, ctx) => gateway.cancel(input, ctx.mcpReq.signal),
  });
}
