/**
 * What tools/list publishes, as the SDK's own Client reads it over the in-memory transport: the
 * twelve tools, each with an output schema the client checks every result against.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';

const TOOLS = [
  'ssh_list_hosts',
  'ssh_describe_host',
  'ssh_plan',
  'ssh_run',
  'ssh_cancel',
  'ssh_run_async',
  'ssh_get_task_status',
  'ssh_get_task_output',
  'ssh_list_tasks',
  'ssh_run_on_tag',
  'ssh_reload_config',
  'ssh_ping',
];

/** The SDK Client's check of a tool's structuredContent, built from tools/list (private in its types). */
type Validator = (value: unknown) => { valid: boolean; errorMessage?: string };
function validatorOf(gate: InProcessGate, tool: string): Validator | undefined {
  return (gate.client as unknown as { getToolOutputValidator(name: string): Validator | undefined }).getToolOutputValidator(tool);
}

let gate: InProcessGate;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1)]);
});
afterAll(() => gate?.close());

describe('tools/list', () => {
  it('lists the twelve tools, each with an output schema and all four annotations', () => {
    expect(gate.tools.map((t) => t.name).sort()).toEqual([...TOOLS].sort());
    for (const tool of gate.tools) {
      expect(tool.outputSchema, tool.name).toMatchObject({ type: 'object' });
      expect(Object.keys(tool.annotations ?? {}), tool.name).toEqual(expect.arrayContaining(['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']));
    }
  });

  it('gives the client a check per tool, which refuses a result the schema does not describe', () => {
    for (const name of TOOLS) {
      const check = validatorOf(gate, name);
      expect(check, name).toBeTypeOf('function');
      expect(check?.({ unexpected: true }).valid, name).toBe(false);
    }
  });
});
