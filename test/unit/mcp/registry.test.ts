/**
 * The tool table's published schemas: a server is built for every 2026-07-28 HTTP request and
 * every session, and each lists the same tools from the same schemas, made once.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { ToolRegistry } from '../../../src/mcp/registry.js';
import { registerTools } from '../../../src/mcp/tools/index.js';

/** Registering only captures the gateway in the handlers; listing never calls it. */
const NO_GATEWAY = {} as Gateway;

function listed(): ReturnType<ToolRegistry['list']> {
  const tools = new ToolRegistry();
  registerTools(tools, NO_GATEWAY);
  return tools.list();
}

describe('ToolRegistry.list', () => {
  it('gives every server the same schemas, converted from zod once', () => {
    const [first, second] = [listed(), listed()];
    expect(second).toEqual(first);
    for (const [i, tool] of first.entries()) {
      expect(second[i]?.outputSchema, tool.name).toBe(tool.outputSchema);
      expect(second[i]?.inputSchema.properties, tool.name).toBe(tool.inputSchema.properties);
    }
  });

  it('keeps the shared schemas from being changed through one list', () => {
    const [tool] = listed();
    expect(() => {
      (tool?.outputSchema as { type: string }).type = 'string';
    }).toThrow(TypeError);
    expect(listed()[0]?.outputSchema?.type).toBe('object');
  });

  it('publishes a nullable output field as optional and merges input constraints per tool', () => {
    const tools = new ToolRegistry();
    const input = z.object({ alias: z.string().optional(), tag: z.string().optional() });
    const output = z.object({ exit_code: z.number().nullable(), stdout: z.string() });
    const annotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
    const oneOf = [{ required: ['alias'] }, { required: ['tag'] }];
    tools.register({ name: 'a', title: 'A', description: 'a', input, output, annotations, handler: () => ({ exit_code: 0, stdout: '' }) });
    tools.register({
      name: 'b',
      title: 'B',
      description: 'b',
      input,
      output,
      annotations,
      inputConstraints: { oneOf },
      handler: () => ({ exit_code: 0, stdout: '' }),
    });
    const [a, b] = tools.list();
    expect(a?.outputSchema).toMatchObject({ properties: { exit_code: { type: 'number' } }, required: ['stdout'] });
    expect(a?.inputSchema).not.toHaveProperty('oneOf');
    expect(b?.inputSchema).toMatchObject({ oneOf });
  });
});
