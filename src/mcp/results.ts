/**
 * One place where results and errors become MCP tool results: the structured value and the same
 * JSON as text; an error is `isError` with `{ code, message, hint }` as its JSON text, and never
 * a stack trace.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { MESSAGE_LIMIT } from '../gateway/budget.js';
import { SshgateError } from '../errors.js';

export function toToolResult(value: Record<string, unknown>): CallToolResult {
  const structured = withoutNulls(value) as Record<string, unknown>;
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured };
}

/**
 * The value with every null field left out: a field with nothing to say is absent, as the
 * published output schemas say (registry.ts), not null — nullable types (`["number", "null"]`,
 * or an anyOf with null) are what strict schema checkers such as MCP Inspector's warn about.
 */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out;
}

export function toToolError(err: unknown, logger: Logger, tool: string): CallToolResult {
  let body: ReturnType<SshgateError['toJSON']>;
  if (err instanceof SshgateError) {
    body = err.toJSON();
  } else {
    logger.error({ tool, err }, 'a tool failed unexpectedly');
    body = { code: 'internal', message: `${tool} failed unexpectedly`, hint: 'the server log has the details' };
  }
  // No structuredContent: clients check it against the tool's output schema, errors included.
  return { isError: true, content: [{ type: 'text', text: JSON.stringify(body) }] };
}

/**
 * The last guard of the message limit: the budgets keep every result below it, and a result that
 * still is not is an error (logged), never a message a client would refuse.
 */
export function withinLimit(result: CallToolResult, logger: Logger, tool: string): CallToolResult {
  const size = Buffer.byteLength(JSON.stringify(result));
  if (size <= MESSAGE_LIMIT - 1024) return result;
  logger.error({ tool, bytes: size }, 'a tool result was larger than the message limit');
  return toToolError(
    new SshgateError(
      'internal',
      `the result of ${tool} was too large to send (${size} bytes)`,
      'ask for less output (max_bytes), or read it by cursor with ssh_get_task_output',
    ),
    logger,
    tool,
  );
}
