/** ssh_reload_config and ssh_ping: the configuration and the reachability of hosts. */
import type { Gateway } from '../../gateway/gateway.js';
import { PingInput, PingResult, ReloadInput, ReloadResult } from '../../gateway/tool-contract.js';
import type { ToolRegistry } from '../registry.js';

export function registerConfigTools(tools: ToolRegistry, gateway: Gateway): void {
  tools.register({
    name: 'ssh_reload_config',
    title: 'Reload the configuration',
    description:
      'Read the inventory, credentials, policy and known_hosts again and swap them in at once. ' +
      'If any file is invalid, nothing changes and the error lists the problems. Running tasks keep the policy they started under.',
    input: ReloadInput,
    output: ReloadResult,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler: () => gateway.reload(),
  });
  tools.register({
    name: 'ssh_ping',
    title: 'Check that hosts are reachable',
    description:
      'Really connect to a host (or, without alias, to every host): TCP, host key check and login, and report the handshake latency or the error. Runs no command.',
    input: PingInput,
    output: PingResult,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    handler: (input, ctx) => gateway.ping(input, ctx.mcpReq.signal),
  });
}
