/**
 * Loads the inventory (config/servers.yml) and the credential references (config/credentials.yml)
 * as one unit: either everything is valid and cross-checked, or a ConfigError lists every problem.
 */
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { CredentialEntry, CredentialsFile, HostEntry, ServersFile } from './file-formats.js';
import { didYouMean } from './suggest.js';
import { IssueSink, readYamlFile, type YamlFile } from './yaml-file.js';

export interface Inventory {
  hosts: HostEntry[];
  credentials: CredentialEntry[];
  byAlias: ReadonlyMap<string, HostEntry>;
  credentialByName: ReadonlyMap<string, CredentialEntry>;
}

export interface InventoryOptions {
  configDir: string;
  keysDir: string;
}

export function loadInventory(options: InventoryOptions): Inventory {
  const sink = new IssueSink();
  const servers = readYamlFile(join(options.configDir, 'servers.yml'), join(options.configDir, 'servers.yml'), sink);
  const creds = readYamlFile(join(options.configDir, 'credentials.yml'), join(options.configDir, 'credentials.yml'), sink);
  const hosts = servers ? validItems(servers, ServersFile, 'hosts', HostEntry, 'alias', sink) : undefined;
  const credentials = creds ? validItems(creds, CredentialsFile, 'entries', CredentialEntry, 'name', sink) : undefined;

  const credentialByName = new Map<string, CredentialEntry>();
  if (creds && credentials) checkCredentials(creds, credentials.valid, credentialByName, options.keysDir, sink);
  const byAlias = new Map<string, HostEntry>();
  if (servers && hosts)
    checkHosts(servers, hosts, byAlias, credentials ? { valid: credentialByName, failed: credentials.failed } : undefined, sink);

  if (sink.issues.length > 0) throw new ConfigError(sink.issues);
  return {
    hosts: (hosts?.valid ?? []).map((h) => h.value),
    credentials: (credentials?.valid ?? []).map((c) => c.value),
    byAlias,
    credentialByName,
  };
}

interface Item<T> {
  index: number;
  value: T;
}

interface Checked<T> {
  /** The items that passed their schema. */
  valid: Item<T>[];
  /**
   * The names of the items that failed it. Each is reported once, at its own problem: no
   * cross-check speaks of it, or of an item that names it (a host whose port has the wrong type
   * is still the jump host "bastion" that another host names).
   */
  failed: Set<string>;
}

/**
 * Validates the file's outer shape, then each list item on its own, so that the cross-checks can
 * still run over the good items and every problem of the file is reported in one pass.
 */
function validItems<T>(
  file: YamlFile,
  outer: typeof ServersFile | typeof CredentialsFile,
  listKey: 'hosts' | 'entries',
  itemSchema: z.ZodType<T>,
  nameKey: 'alias' | 'name',
  sink: IssueSink,
): Checked<T> {
  const checked: Checked<T> = { valid: [], failed: new Set() };
  const top = outer.safeParse(file.data);
  if (!top.success) {
    sink.zod(file, [], top.error);
    return checked;
  }
  const list = (top.data as Record<string, unknown[]>)[listKey] ?? [];
  list.forEach((raw, index) => {
    const parsed = itemSchema.safeParse(raw);
    if (parsed.success) return void checked.valid.push({ index, value: parsed.data });
    sink.zod(file, [listKey, index], parsed.error);
    const name = (raw as Record<string, unknown> | null)?.[nameKey];
    if (typeof name === 'string') checked.failed.add(name);
  });
  return checked;
}

function checkCredentials(
  file: YamlFile,
  items: Item<CredentialEntry>[],
  byName: Map<string, CredentialEntry>,
  keysDir: string,
  sink: IssueSink,
): void {
  const firstIndex = new Map<string, number>();
  for (const { index, value: c } of items) {
    const at = (key: string, message: string) => sink.at(file, ['entries', index, key], message);
    const seen = firstIndex.get(c.name);
    if (seen !== undefined) {
      at('name', `duplicate credential name "${c.name}" (first defined in entries[${seen}])`);
      continue;
    }
    firstIndex.set(c.name, index);
    byName.set(c.name, c);
    if (!c.key_path && !c.agent && !c.password_secret) {
      at('name', `credential "${c.name}" has no way to log in: set key_path, agent: true or password_secret`);
    }
    if (c.become_method === 'doas' && c.become_password_secret) {
      at(
        'become_password_secret',
        `credential "${c.name}": doas reads a password only from a terminal, so it elevates without one (a nopass rule in doas.conf); remove become_password_secret, or use become_method: sudo`,
      );
    }
    if (c.key_passphrase_secret && !c.key_path) {
      at('key_passphrase_secret', `credential "${c.name}" names a key passphrase but no key_path`);
    }
    if (c.key_path) {
      const problem = keyPathProblem(c.key_path, keysDir);
      if (problem) at('key_path', problem);
    }
    if (c.certificate_path && !c.key_path) {
      at(
        'certificate_path',
        `credential "${c.name}" names a certificate but no key_path: a certificate logs in with its key (an ssh-agent's certificates need no certificate_path)`,
      );
    } else if (c.certificate_path) {
      const problem = keyPathProblem(c.certificate_path, keysDir);
      if (problem) at('certificate_path', problem.replace(/^key_path/, 'certificate_path'));
    }
  }
}

/** A key must live under the keys dir: no absolute path, no "..", no symlink leading out of it. */
export function keyPathProblem(keyPath: string, keysDir: string): string | undefined {
  if (isAbsolute(keyPath) || /^[A-Za-z]:/.test(keyPath)) {
    return `key_path "${keyPath}" is absolute; give a path relative to the keys dir (${keysDir})`;
  }
  if (keyPath.split(/[\\/]/).includes('..')) {
    return `key_path "${keyPath}" contains ".."; keys must stay inside the keys dir (${keysDir})`;
  }
  const full = join(keysDir, keyPath);
  if (!existsSync(full) || !existsSync(keysDir)) return undefined; // absent keys are reported when used
  const real = realpathSync(full);
  const rel = relative(realpathSync(keysDir), real);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    return `key_path "${keyPath}" resolves outside the keys dir (a symlink to ${real}); keys must stay inside ${keysDir}`;
  }
  return undefined;
}

function checkHosts(
  file: YamlFile,
  hosts: Checked<HostEntry>,
  byAlias: Map<string, HostEntry>,
  credentials: { valid: ReadonlyMap<string, CredentialEntry>; failed: ReadonlySet<string> } | undefined,
  sink: IssueSink,
): void {
  const firstIndex = new Map<string, number>();
  for (const { index, value: h } of hosts.valid) {
    const at = (key: string, message: string) => sink.at(file, ['hosts', index, key], message);
    const seen = firstIndex.get(h.alias);
    if (seen !== undefined) {
      at('alias', `duplicate alias "${h.alias}" (first defined in hosts[${seen}])`);
      continue;
    }
    firstIndex.set(h.alias, index);
    byAlias.set(h.alias, h);
    if (credentials && !credentials.failed.has(h.credentials)) {
      const cred = credentials.valid.get(h.credentials);
      if (!cred) {
        const names = [...credentials.valid.keys(), ...credentials.failed];
        const meant = didYouMean(h.credentials, names);
        at(
          'credentials',
          `credential "${h.credentials}" is not defined in credentials.yml (defined: ${names.join(', ') || 'none'})${meant ? `; ${meant}` : ''}`,
        );
      } else if (!h.user && !cred.username) {
        at('alias', `host "${h.alias}" has no user: set user here or username in credential "${cred.name}"`);
      }
    }
  }
  for (const { index, value: h } of hosts.valid) {
    if (!h.jump || byAlias.get(h.alias) !== h || hosts.failed.has(h.jump)) continue;
    if (!byAlias.has(h.jump)) {
      const meant = didYouMean(h.jump, [...byAlias.keys(), ...hosts.failed]);
      sink.at(file, ['hosts', index, 'jump'], `jump host "${h.jump}" is not an alias in this inventory${meant ? `; ${meant}` : ''}`);
      continue;
    }
    const chain = [h.alias];
    for (let hop: HostEntry | undefined = byAlias.get(h.jump); hop; hop = hop.jump ? byAlias.get(hop.jump) : undefined) {
      if (chain.includes(hop.alias)) {
        sink.at(file, ['hosts', index, 'jump'], `jump loop: ${[...chain, hop.alias].join(' → ')}`);
        break;
      }
      chain.push(hop.alias);
    }
  }
}

/** The hops from the first jump host to the target itself: `[bastion, inner, target]`. */
export function jumpChain(inventory: Inventory, alias: string): string[] {
  const chain: string[] = [];
  for (let h = inventory.byAlias.get(alias); h; h = h.jump ? inventory.byAlias.get(h.jump) : undefined) {
    if (chain.includes(h.alias)) break;
    chain.unshift(h.alias);
  }
  return chain;
}
