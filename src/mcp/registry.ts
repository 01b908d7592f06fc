/**
 * The tool table the server serves. A tool is a name, a description, zod input and output
 * schemas, its four annotations and a handler. Input is validated here, so a bad argument is an
 * `invalid_input` tool error with a hint like every other error (the SDK's McpServer would answer
 * it with untyped text instead), and the published JSON Schemas come from the same zod schemas.
 */
import type { Tool, ToolAnnotations, ServerContext } from '@modelcontextprotocol/server';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { clip, SshgateError } from '../errors.js';
import type { ClientApprover } from '../gateway/gateway.js';
import { deepFreeze } from '../deep-freeze.js';

/** Problems named in one invalid_input error; the rest are counted. */
const SHOWN_ISSUES = 5;

/**
 * What a tool handler gets besides its input: the abort signal, progress, the HTTP request, and
 * (2025 era, a client that declared form elicitation) how to ask the client's user to approve.
 */
export type CallContext = ServerContext & { approver?: ClientApprover };

export interface ToolDef<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: Required<Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint' | 'openWorldHint'>>;
  handler: (input: z.infer<I>, ctx: CallContext) => Promise<z.infer<O>> | z.infer<O>;
  /** JSON Schema keywords zod cannot say, merged into the input schema (e.g. oneOf required). */
  inputConstraints?: Record<string, unknown>;
}

type JsonSchema = { [key: string]: unknown };

/**
 * The output schema as results are sent (results.ts leaves null fields out): a nullable field
 * becomes an optional one of its non-null type, and every other schema is walked as it is.
 */
export function optionalForNull(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(optionalForNull);
  if (typeof schema !== 'object' || schema === null) return schema;
  const s = { ...(schema as JsonSchema) };
  if (s.properties && typeof s.properties === 'object') {
    const props: JsonSchema = {};
    const nullable = new Set<string>();
    for (const [k, v] of Object.entries(s.properties as JsonSchema)) {
      const plain = withoutNull(v as JsonSchema);
      if (plain) nullable.add(k);
      props[k] = optionalForNull(plain ?? v);
    }
    s.properties = props;
    if (Array.isArray(s.required)) s.required = (s.required as string[]).filter((k) => !nullable.has(k));
  }
  for (const key of ['items', 'anyOf', 'oneOf', 'allOf', 'additionalProperties']) if (key in s) s[key] = optionalForNull(s[key]);
  return s;
}

/** The non-null form of a nullable schema, or undefined when it is not nullable. */
function withoutNull(s: JsonSchema): JsonSchema | undefined {
  if (Array.isArray(s.type) && s.type.includes('null')) {
    const rest = (s.type as string[]).filter((t) => t !== 'null');
    return { ...s, type: rest.length === 1 ? rest[0] : rest };
  }
  if (Array.isArray(s.anyOf) && s.anyOf.some((b: JsonSchema) => b.type === 'null')) {
    const rest = (s.anyOf as JsonSchema[]).filter((b) => b.type !== 'null');
    const others = { ...s };
    delete others.anyOf;
    return rest.length === 1 ? { ...others, ...rest[0] } : { ...others, anyOf: rest };
  }
  return undefined;
}

/** A tool's two schemas as tools/list publishes them (before inputConstraints are merged in). */
export interface PublishedSchemas {
  input: JsonSchema;
  output: JsonSchema;
}

/**
 * The published schemas `npm run build` converted (rolldown.config.mjs writes them beside the
 * bundle): converting the 18 tools' schemas took some 30 ms of a start, most of what a stdio
 * server did between reading its policy and answering tools/list. Absent when running from the
 * sources (the tests); then each is converted once per process. test/e2e/start.test.ts compares
 * what a built server lists with what the sources convert, so a stale file cannot go unnoticed.
 */
export const PUBLISHED_SCHEMAS_FILE = 'tool-schemas.json';
let prebuilt: Record<string, PublishedSchemas> | null | undefined;

function prebuiltSchemas(): Record<string, PublishedSchemas> | null {
  if (prebuilt === undefined) {
    try {
      prebuilt = deepFreeze(
        JSON.parse(readFileSync(new URL(`./${PUBLISHED_SCHEMAS_FILE}`, import.meta.url), 'utf8')) as Record<string, PublishedSchemas>,
      );
    } catch {
      prebuilt = null;
    }
  }
  return prebuilt;
}

/**
 * Each zod schema's published JSON Schema, made once per process: converting takes about a
 * millisecond a tool, and a server is built for every 2026-07-28 HTTP request and every session,
 * each listing the same tools. Frozen, since every list shares them.
 */
const published = { input: new WeakMap<z.ZodType, JsonSchema>(), output: new WeakMap<z.ZodType, JsonSchema>() };

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  let json = published[io].get(schema);
  if (!json) {
    const converted = z.toJSONSchema(schema, { io }) as JsonSchema;
    json = deepFreeze((io === 'output' ? optionalForNull(converted) : converted) as JsonSchema);
    published[io].set(schema, json);
  }
  return json;
}

export class ToolRegistry {
  private readonly tools = new Map<string, ToolDef>();

  register<I extends z.ZodObject, O extends z.ZodObject>(def: ToolDef<I, O>): void {
    this.tools.set(def.name, def);
  }

  get(name: string): ToolDef | undefined {
    return this.tools.get(name);
  }

  list(): Tool[] {
    const schemas = prebuiltSchemas();
    return [...this.tools.values()].map((t) => {
      const { input, output } = schemas?.[t.name] ?? this.convert(t);
      return {
        name: t.name,
        title: t.title,
        description: t.description,
        inputSchema: { ...(input as Tool['inputSchema']), ...t.inputConstraints },
        outputSchema: output,
        annotations: { title: t.title, ...t.annotations },
      };
    });
  }

  /** Every tool's schemas converted from zod, by tool name: what the build writes to PUBLISHED_SCHEMAS_FILE. */
  converted(): Record<string, PublishedSchemas> {
    return Object.fromEntries([...this.tools.values()].map((t) => [t.name, this.convert(t)]));
  }

  private convert(t: ToolDef): PublishedSchemas {
    return { input: jsonSchemaOf(t.input, 'input'), output: jsonSchemaOf(t.output, 'output') };
  }
}

/**
 * A tool's input schema as zod's JIT builds it, made at its first call. zod-settings.ts turns the
 * JIT off for a start, whose schemas (config, policy, the SDK's) are parsed once each; a tool's
 * arguments are parsed at every call: with ssh_run's parse left out altogether, 1,500 warm calls
 * alternated took 0.05–0.08 ms less; with its compiled parser, 0.06 ms less. A copy (`clone()`
 * builds the schema again, reading the setting anew) made with the JIT on; every other schema is
 * as it was.
 */
const compiledInputs = new WeakMap<z.ZodObject, z.ZodObject>();

export function compiled<I extends z.ZodObject>(schema: I): I {
  let copy = compiledInputs.get(schema);
  if (!copy) {
    const jitless = z.config().jitless;
    z.config({ jitless: false });
    try {
      copy = schema.clone();
    } finally {
      z.config({ jitless });
    }
    compiledInputs.set(schema, copy);
  }
  return copy as I;
}

/** Validates arguments against a tool's input schema; every problem named by its field. */
export function parseInput<I extends z.ZodObject>(tool: ToolDef<I>, args: unknown): z.infer<I> {
  const parsed = compiled(tool.input).safeParse(args ?? {});
  if (parsed.success) return parsed.data;
  // The issues quote the caller's keys: a few of them, each clipped, never megabytes of echo.
  const issues = parsed.error.issues;
  const problems = issues.slice(0, SHOWN_ISSUES).map((i) => clip(`${i.path.length ? i.path.join('.') : 'arguments'}: ${i.message}`));
  if (issues.length > SHOWN_ISSUES) problems.push(`and ${issues.length - SHOWN_ISSUES} more`);
  throw new SshgateError(
    'invalid_input',
    `invalid arguments for ${tool.name}: ${problems.join('; ')}`,
    `the input schema of ${tool.name} (tools/list) gives each field and its type`,
  );
}
