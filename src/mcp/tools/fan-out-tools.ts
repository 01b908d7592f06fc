/** ssh_run_on_tag: one command on every host with a tag, concurrently. */
import type { Gateway } from '../../gateway/gateway.js';
import { RunOnTagInput, RunOnTagResult } from '../../gateway/tool-contract.js';
import { progressSink } from '../progress.js';
import type { ToolRegistry } from '../registry.js';

export function registerFanOutTools(tools: ToolRegistry, gateway: Gateway): void {
  tools.register({
    name: 'ssh_run_on_tag',
    title: 'Run a command on every host with a tag',
    description:
      'Run a command on every host with the tag, concurrently (at most concurrency hosts at once, default 16). ' +
      'The policy decides per host: denied hosts are reported as denied and the others run. ' +
      'Returns one result per host (or its error) and a summary; hosts still running after wait_seconds (default 50) are returned as running with their task_id.',
    input: RunOnTagInput,
    output: RunOnTagResult,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    handler: (input, ctx) => gateway.runOnTag(input, ctx.mcpReq.signal, progressSink(ctx), ctx.approver),
  });
}
