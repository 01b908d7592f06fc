/**
 * What tools/list publishes, as the SDK's own Client reads it over the in-memory transport: the
 * tools, each with an output schema the client checks every result against (with the
 * validator the SDK Client uses, AJV).
 */
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';
import { TOOL_NAMES } from '../../../support/tools.js';

/** The SDK Client's check of a tool's structuredContent, built from the output schema tools/list gives. */
type Validator = (value: unknown) => { valid: boolean; errorMessage?: string };
function validatorOf(gate: InProcessGate, tool: string): Validator | undefined {
  const schema = gate.tools.find((t) => t.name === tool)?.outputSchema;
  return schema ? new AjvJsonSchemaValidator().getValidator(schema) : undefined;
}

let gate: InProcessGate;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1)]);
});
afterAll(() => gate?.close());

describe('tools/list', () => {
  it('lists every tool, each with an output schema and all four annotations', () => {
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
