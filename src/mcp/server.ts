/**
 * Builds the MCP server over a gateway: tools/list from the registry, tools/call validated, run
 * and turned into a tool result. Starts nothing; the serve command connects a transport.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import { clip, SshgateError } from '../errors.js';
import { parseInput, ToolRegistry } from './registry.js';
import { toToolError, toToolResult } from './results.js';
import { registerTools } from './tools/index.js';

export interface ServerDeps {
  gateway: Gateway;
  logger: Logger;
  version: string;
}

export function createServer(deps: ServerDeps): Server {
  const tools = new ToolRegistry();
  registerTools(tools, deps.gateway);
  const listed = tools.list();
  const server = new Server(
    { name: 'sshgate', version: deps.version },
    {
      capabilities: { tools: {} },
      instructions:
        'sshgate runs shell commands on the hosts of an inventory over SSH, as far as a reviewed policy allows. ' +
        'Start with ssh_list_hosts; check a command with ssh_plan before running it with ssh_run.',
    },
  );
  // A line that is not JSON-RPC gets no answer from the SDK: the operator at least sees it.
  server.onerror = (err) => deps.logger.warn({ error: clip(err.message) }, 'an MCP message could not be read or handled');
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const name = request.params.name;
    const tool = tools.get(name);
    try {
      if (!tool) throw new SshgateError('invalid_input', `no tool "${name.slice(0, 100)}"`, 'tools/list names the tools this server offers');
      const input = parseInput(tool, request.params.arguments);
      return toToolResult(await tool.handler(input, extra));
    } catch (err) {
      return toToolError(err, deps.logger, name);
    }
  });
  return server;
}
