/** Which hosts a call names: one alias, or every host with a tag — for the tools and the CLI alike. */
import { clip, SshgateError } from '../errors.js';
import type { Inventory } from './load-inventory.js';
import { ALL_HOSTS, type HostEntry } from './file-formats.js';
import { didYouMean } from './suggest.js';

export function hostByAlias(inventory: Inventory, alias: string): HostEntry {
  const host = inventory.byAlias.get(alias);
  if (!host) {
    const meant = didYouMean(alias, inventory.byAlias.keys());
    throw new SshgateError(
      'unknown_host',
      `no host "${clip(alias)}" in the inventory`,
      `${meant ? `${meant} ` : ''}ssh_list_hosts (or sshgate check) lists the aliases`,
    );
  }
  return host;
}

/** In inventory order; unknown_host when no host has the tag. "@all" and "*" are every host. */
export function hostsWithTag(inventory: Inventory, tag: string): HostEntry[] {
  const all = (ALL_HOSTS as readonly string[]).includes(tag);
  const hosts = all ? inventory.hosts : inventory.hosts.filter((h) => h.tags.includes(tag));
  if (hosts.length === 0) {
    const meant = didYouMean(
      tag,
      inventory.hosts.flatMap((h) => h.tags),
    );
    throw new SshgateError(
      'unknown_host',
      `no host has the tag "${clip(tag)}"`,
      `${meant ? `${meant} ` : ''}ssh_list_hosts (or sshgate check) shows the hosts and their tags`,
    );
  }
  return hosts;
}

/** Exactly one of alias and tag. */
export function selectHosts(inventory: Inventory, by: { alias?: string; tag?: string }): HostEntry[] {
  if ((by.alias === undefined) === (by.tag === undefined)) {
    throw new SshgateError(
      'invalid_input',
      'give either alias or tag, not both and not neither',
      'ssh_plan {"alias": "web1", "command": "uptime"}',
    );
  }
  return by.alias !== undefined ? [hostByAlias(inventory, by.alias)] : hostsWithTag(inventory, by.tag as string);
}
