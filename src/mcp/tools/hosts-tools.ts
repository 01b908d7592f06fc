/** ssh_list_hosts, ssh_describe_host: what the inventory holds, without a secret. */
import type { Gateway } from '../../gateway/gateway.js';
import { DescribeHostInput, DescribeHostResult, ListHostsInput, ListHostsResult } from '../../gateway/tool-contract.js';
import type { ToolRegistry } from '../registry.js';

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

export function registerHostTools(tools: ToolRegistry, gateway: Gateway): void {
  tools.register({
    name: 'ssh_list_hosts',
    title: 'List hosts',
    description:
      'List the hosts in the inventory (alias, tags, description), optionally only those with a tag. Use the alias with the other tools.',
    input: ListHostsInput,
    output: ListHostsResult,
    annotations: READ_ONLY,
    handler: (input) => gateway.listHosts(input),
  });
  tools.register({
    name: 'ssh_describe_host',
    title: 'Describe a host',
    description:
      'Show one host: address, port, user, tags, the shell its commands run under (bash or sh), jump chain, effective limits and the policy rules that apply to it. Connects to nothing; shows no secret.',
    input: DescribeHostInput,
    output: DescribeHostResult,
    annotations: READ_ONLY,
    handler: (input) => gateway.describeHost(input),
  });
}
