/**
 * Builds the MCP server over a gateway: tools/list from the registry, tools/call validated, run
 * and turned into a tool result; at 2026-07-28, the Tasks extension too (tasks-extension.ts).
 * Starts nothing; the serve command hands it to a transport.
 */
import {
  isInputRequiredResult,
  ProtocolError,
  ProtocolErrorCode,
  Server,
  type CallToolResult,
  type InputRequiredResult,
  type ProtocolEra,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import { clip } from '../errors.js';
import { ApprovalRounds, formElicitation, pushApprover } from './client-approval.js';
import { progressSink } from './progress.js';
import { parseInput, ToolRegistry, type CallContext } from './registry.js';
import { toToolError, toToolResult, withinLimit } from './results.js';
import { TaskHandles, TASKS_EXTENSION, TasksExtension, type CreateTaskResult } from './tasks-extension.js';
import { registerTools } from './tools/index.js';

export interface ServerDeps {
  gateway: Gateway;
  logger: Logger;
  version: string;
  /**
   * The revision family the server answers (the SDK's factory says which): a 2026-07-28 server
   * ('modern') offers the Tasks extension, a 2025-era one ('legacy', the default) does not.
   */
  era?: ProtocolEra;
  /** The Tasks extension's handles, shared by every server of one serve (default: this server's own). */
  taskHandles?: TaskHandles;
  /**
   * Called once the client is served what it starts with: after each tools/list answer has gone
   * out, and at a tools/call (a client that never lists). What it starts must be idempotent.
   */
  warm?: () => void;
}

// The low-level Server on purpose (the SDK marks it for advanced use): sshgate owns tools/call
// dispatch, its tool table, input checks and errors (registry.ts), which McpServer would replace.
// eslint-disable-next-line @typescript-eslint/no-deprecated
export function createServer(deps: ServerDeps): Server {
  const tools = new ToolRegistry();
  registerTools(tools, deps.gateway);
  const listed = tools.list();
  const modern = deps.era === 'modern';
  const tasks = modern ? new TasksExtension(deps.gateway, deps.taskHandles ?? new TaskHandles(), deps.logger) : undefined;
  // How a command an ask rule holds is put to the client's user (client-approval.ts): 2026-07-28
  // answers with input_required and takes the answer on the retry; a 2025-era server asks.
  const rounds = modern ? new ApprovalRounds(deps.gateway) : undefined;
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- see above
  const server = new Server(
    { name: 'sshgate', title: 'sshgate: SSH under a reviewed policy', version: deps.version },
    {
      capabilities: { tools: {}, ...(modern ? { extensions: { [TASKS_EXTENSION]: {} } } : {}) },
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
    if (deps.warm) setImmediate(deps.warm);
    return { tools: listed };
  });
  tasks?.register(server);
  // tools/call goes past the SDK's wrapper, which answers a malformed call with its schema dump:
  // the request is checked here instead (callOf), and every result is sshgate's own.
  server.fallbackRequestHandler = async (request, ctx: CallContext): Promise<CallToolResult | CreateTaskResult | InputRequiredResult> => {
    if (request.method !== 'tools/call')
      throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `method not found: ${clip(request.method)}`);
    deps.warm?.();
    const { name, args } = callOf(request.params);
    const tool = tools.get(name);
    if (!tool)
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `unknown tool "${clip(name)}"; tools/list names the tools this server offers`,
      );
    let result: CallToolResult;
    try {
      const input = parseInput(tool, args);
      // A server answers its client before it has loaded what a call needs (Gateway.ready).
      await deps.gateway.ready();
      // The retry of an input-required round goes back to its task, never to a new one.
      const retry = ctx.mcpReq.requestState() !== undefined;
      // A request that declared the Tasks extension gets ssh_run's and ssh_run_on_tag's task at once.
      if (!retry && tasks?.runsAsTask(name, ctx)) return tasks.start(name, input);
      if (rounds && (name === 'ssh_run' || name === 'ssh_run_on_tag')) {
        const out = await rounds.call(name, input, ctx, progressSink(ctx));
        if (isInputRequiredResult(out)) return out;
        result = toToolResult(out);
      } else {
        result = toToolResult(await tool.handler(input, { ...ctx, approver: approverFor(ctx) }));
      }
    } catch (err) {
      // A refused requestState is a protocol error (-32602), not a tool result.
      if (err instanceof ProtocolError) throw err;
      return toToolError(err, deps.logger, name);
    }
    return withinLimit(result, deps.logger, name);
  };
  /** 2025 era: an approver for a client that declared form elicitation (pushApprover), else none. */
  function approverFor(ctx: CallContext) {
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the 2025-era handshake's capabilities
    return !modern && formElicitation(server.getClientCapabilities()?.elicitation) ? pushApprover(ctx) : undefined;
  }
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
