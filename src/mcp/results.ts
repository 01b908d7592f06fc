/**
 * One place where results and errors become MCP tool results: the structured value and the same
 * JSON as text; an error is `isError` with `{ code, message, hint }` as its JSON text, and never
 * a stack trace.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { SshgateError } from '../errors.js';

export function toToolResult(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
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
