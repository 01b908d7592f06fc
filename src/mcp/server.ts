/**
 * Builds the MCP server over a gateway: tools/list from the registry, tools/call validated, run
 * and turned into a tool result. Starts nothing; the serve command hands it to a transport.
 */
import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { MESSAGE_LIMIT } from '../gateway/budget.js';
import type { Gateway } from '../gateway/gateway.js';
import { clip, SshgateError } from '../errors.js';
import { parseInput, ToolRegistry, type CallContext } from './registry.js';
import { toToolError, toToolResult } from './results.js';
import { registerTools } from './tools/index.js';

export interface ServerDeps {
  gateway: Gateway;
  logger: Logger;
  version: string;
}

// The low-level Server on purpose (the SDK marks it for advanced use): sshgate owns tools/call
// dispatch, its tool table, input checks and errors (registry.ts), which McpServer would replace.
// eslint-disable-next-line @typescript-eslint/no-deprecated
export function createServer(deps: ServerDeps): Server {
  const tools = new ToolRegistry();
  registerTools(tools, deps.gateway);
  const listed = tools.list();
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- see above
  const server = new Server(
    { name: 'sshgate', title: 'sshgate: SSH under a reviewed policy', version: deps.version },
    {
      capabilities: { tools: {} },
      instructions:
        'sshgate runs shell commands on the hosts of an inventory over SSH, as far as a reviewed policy allows. ' +
        'Start with ssh_list_hosts; check a command with ssh_plan before running it with ssh_run.',
    },
  );
  // A line that is not JSON-RPC gets no answer from the SDK: the operator at least sees it.
  server.onerror = (err) => deps.logger.warn({ error: clip(err.message) }, 'an MCP message could not be read or handled');
  server.setRequestHandler('tools/list', (request) => {
    // Every tool is on the one page there is: a cursor can only be one this server never gave.
    if (request.params?.cursor !== undefined)
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        'invalid cursor: this server lists all its tools in one page, so there is no next page',
      );
    return { tools: listed };
  });
  // tools/call goes past the SDK's wrapper, which answers a malformed call with its schema dump:
  // the request is checked here instead (callOf), and every result is sshgate's own.
  server.fallbackRequestHandler = async (request, ctx: CallContext): Promise<CallToolResult> => {
    if (request.method !== 'tools/call')
      throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `method not found: ${clip(request.method)}`);
    const { name, args } = callOf(request.params);
    const tool = tools.get(name);
    if (!tool)
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `unknown tool "${clip(name)}"; tools/list names the tools this server offers`,
      );
    let result: CallToolResult;
    try {
      result = toToolResult(await tool.handler(parseInput(tool, args), ctx));
    } catch (err) {
      return toToolError(err, deps.logger, name);
    }
    return withinLimit(result, deps.logger, name);
  };
  return server;
}

/** The tool name and arguments of a call, or -32602 with a message a person can act on. */
function callOf(params: unknown): { name: string; args: unknown } {
  const invalid = (why: string) => new ProtocolError(ProtocolErrorCode.InvalidParams, `invalid tools/call: ${why}`);
  if (typeof params !== 'object' || params === null || Array.isArray(params))
    throw invalid('params must be an object with the tool name and its arguments');
  const { name, arguments: args } = params as { name?: unknown; arguments?: unknown };
  if (typeof name !== 'string' || name === '') throw invalid('params.name must be the name of a tool, as tools/list gives it');
  if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args)))
    throw invalid("params.arguments must be an object of the tool's arguments");
  return { name, args };
}

/**
 * The last guard of the message limit: the budgets keep every result below it, and a result that
 * still is not is an error (logged), never a message a client would refuse.
 */
function withinLimit(result: CallToolResult, logger: Logger, tool: string): CallToolResult {
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
