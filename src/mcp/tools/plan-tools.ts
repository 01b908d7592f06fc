/** ssh_plan: what the policy decides for a command, part by part, without running anything. */
import type { Gateway } from '../../gateway/gateway.js';
import { PlanInput, PlanResult } from '../../gateway/tool-contract.js';
import type { ToolRegistry } from '../registry.js';

export function registerPlanTools(tools: ToolRegistry, gateway: Gateway): void {
  tools.register({
    name: 'ssh_plan',
    title: 'Check a command against the policy',
    description:
      'Ask whether a command would be allowed on a host (alias) or on every host with a tag, without running it; give exactly one of alias and tag. ' +
      'The command is parsed as shell; each simple command (segment) is shown with the rule that allows or denies it, and the limits that would apply. ' +
      'With become, it is decided for a call that runs it as that user (only rules with become: naming the user allow it).',
    input: PlanInput,
    output: PlanResult,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler: (input) => gateway.plan(input),
    inputConstraints: { oneOf: [{ required: ['alias'] }, { required: ['tag'] }] },
  });
}
