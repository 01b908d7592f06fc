/**
 * What tools/list publishes, as the SDK's own Client reads it over the in-memory transport: the
 * twelve tools, each with an output schema the client checks every result against.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';
import { TOOL_NAMES } from '../../../support/tools.js';

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
    expect(gate.tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES]);
    for (const tool of gate.tools) {
      expect(tool.outputSchema, tool.name).toMatchObject({ type: 'object' });
      expect(Object.keys(tool.annotations ?? {}), tool.name).toEqual(
        expect.arrayContaining(['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']),
      );
    }
  });

  it('gives the client a check per tool, which refuses a result the schema does not describe', () => {
    for (const name of TOOL_NAMES) {
      const check = validatorOf(gate, name);
      expect(check, name).toBeTypeOf('function');
      expect(check?.({ unexpected: true }).valid, name).toBe(false);
    }
  });
});
