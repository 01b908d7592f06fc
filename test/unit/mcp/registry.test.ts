/**
 * The tool table's published schemas: a server is built for every 2026-07-28 HTTP request and
 * every session, and each lists the same tools from the same schemas, made once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { compiled, ToolRegistry } from '../../../src/mcp/registry.js';
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

describe('compiled (the tool input schemas parsed with zod’s JIT)', () => {
  const tools = new ToolRegistry();
  registerTools(tools, NO_GATEWAY);
  const run = tools.get('ssh_run');
  if (!run) throw new Error('no ssh_run');
  /** The schema as a start has it: built with the JIT off (zod-settings.ts). */
  const generic = withJitless(true, () => run.input.clone());

  it('is made once per schema, and leaves zod’s setting as it found it', () => {
    for (const setting of [true, false, undefined]) {
      const schema = z.object({ a: z.string() });
      withJitless(setting, () => {
        const copy = compiled(schema);
        expect(copy).not.toBe(schema);
        expect(compiled(schema)).toBe(copy);
        expect(z.config().jitless).toBe(setting);
      });
    }
  });

  it('accepts and refuses what the schema does, with the same data and issues', () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer({ min: -5, max: 100_000 }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom('h1', 'true', 'keep', 'strip', 'root', 'r-1'),
      fc.dictionary(fc.constantFrom('A', 'PATH', 'x y', ''), fc.oneof(fc.string(), fc.integer())),
      fc.array(fc.string(), { maxLength: 2 }),
    );
    const keys = [
      'alias',
      'command',
      'become',
      'stdin',
      'workdir',
      'env',
      'request_id',
      'timeout_seconds',
      'wait_seconds',
      'max_bytes',
      'tty',
      'ansi',
      'other',
    ];
    const args = fc.dictionary(fc.constantFrom(...keys), value);
    const valid = fc.record({
      alias: fc.constantFrom('h1', 'web-2'),
      command: fc.string({ minLength: 1 }),
      wait_seconds: fc.integer({ min: 0, max: 600 }),
    });
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(args, valid), (a) => {
        const fast = compiled(run.input).safeParse(a);
        const slow = generic.safeParse(a);
        expect(fast.success).toBe(slow.success);
        if (fast.success) accepted++;
        expect(fast.success ? fast.data : fast.error.issues).toEqual(slow.success ? slow.data : slow.error.issues);
      }),
      { numRuns: 5_000 },
    );
    expect(accepted).toBeGreaterThan(500);
  });
});

function withJitless<T>(setting: boolean | undefined, f: () => T): T {
  const before = z.config().jitless;
  z.config({ jitless: setting });
  try {
    return f();
  } finally {
    z.config({ jitless: before });
  }
}
