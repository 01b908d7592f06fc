/** ssh_run_async, ssh_get_task_status, ssh_get_task_output, ssh_list_tasks: long work as tasks. */
import type { Gateway } from '../../gateway/gateway.js';
import {
  ListTasksInput,
  ListTasksResult,
  RunAsyncInput,
  RunAsyncResult,
  TaskOutputInput,
  TaskOutputResult,
  TaskStatus,
  TaskStatusInput,
} from '../../gateway/tool-contract.js';
import type { ToolRegistry } from '../registry.js';

const READS_TASKS = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

export function registerTaskTools(tools: ToolRegistry, gateway: Gateway): void {
  tools.register({
    name: 'ssh_run_async',
    title: 'Start a command on a host',
    description:
      'Start a command on one host, if the policy allows it, and return its task_id at once. ' +
      'Read its output with ssh_get_task_output (by cursor, waiting for new output), its state with ssh_get_task_status; stop it with ssh_cancel. ' +
      'For commands that may outlive a tool call. tty and ansi as for ssh_run.',
    input: RunAsyncInput,
    output: RunAsyncResult,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    handler: (input) => gateway.runAsync(input),
  });
  tools.register({
    name: 'ssh_get_task_status',
    title: 'Task status',
    description:
      'The state of a task (queued, running, succeeded, failed, cancelled, timed_out, lost), its exit code, times and how many bytes it has written.',
    input: TaskStatusInput,
    output: TaskStatus,
    annotations: READS_TASKS,
    handler: (input) => gateway.status(input),
  });
  tools.register({
    name: 'ssh_get_task_output',
    title: 'Read task output',
    description:
      'Output of a task from a cursor on: pass the next_cursor of the previous call to get only what is new; every byte is returned once. ' +
      'With wait_seconds (up to 50), waits for new output instead of returning empty. done is true once the task has ended and everything is read. ' +
      'dropped_bytes counts output that was not kept (beyond max_output_bytes the head and the tail are kept).',
    input: TaskOutputInput,
    output: TaskOutputResult,
    annotations: READS_TASKS,
    handler: (input, ctx) => gateway.output(input, ctx.mcpReq.signal),
  });
  tools.register({
    name: 'ssh_list_tasks',
    title: 'List tasks',
    description: 'Recent tasks, newest first, optionally only those in one state. Finished tasks stay listed for their task_result_ttl.',
    input: ListTasksInput,
    output: ListTasksResult,
    annotations: READS_TASKS,
    handler: (input) => gateway.listTasks(input),
  });
}
