/**
 * The hosts of an Ansible inventory, as drafts: each host's variables merged in Ansible's order
 * (inventory group vars by depth, then group_vars/ files, then the host's inventory vars, then
 * host_vars/), its groups as tags, and the connection variables mapped: ansible_host, ansible_port,
 * ansible_user, ansible_ssh_private_key_file, and a jump host given as `-J` or `-o ProxyJump=` in
 * ansible_ssh_common_args or ansible_ssh_extra_args, when it names a host of the inventory.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { draftJump, type DraftHost, type Hop, type Override } from './draft.js';
import {
  readAnsibleInventory,
  shellWords,
  VAULT,
  type AnsibleGroup,
  type AnsibleHost,
  type AnsibleInventory,
  type Var,
} from './ansible-inventory.js';
import { Findings, quoted } from './findings.js';
import { hopText, jumpOfProxyCommand, parseHop } from './ssh-config-import.js';

export interface AnsibleContext {
  home: string;
  /** A relative key path is relative to where Ansible runs: here, the import's working directory. */
  cwd: string;
}

const SSH_CONNECTIONS = new Set(['ssh', 'smart', 'paramiko', 'paramiko_ssh', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh']);
/** Variables that hold a secret: never copied, never shown. */
const SECRETS = new Set([
  'ansible_password',
  'ansible_ssh_pass',
  'ansible_ssh_password',
  'ansible_become_pass',
  'ansible_become_password',
  'ansible_sudo_pass',
  'ansible_ssh_private_key_passphrase',
]);
const MAPPED = new Set([
  'ansible_host',
  'ansible_ssh_host',
  'ansible_port',
  'ansible_ssh_port',
  'ansible_user',
  'ansible_ssh_user',
  'ansible_ssh_private_key_file',
  'ansible_private_key_file',
  'ansible_ssh_common_args',
  'ansible_ssh_extra_args',
  'ansible_connection',
]);
const IGNORED = new Map([
  ['ansible_python_interpreter', 'sshgate runs no Python on the host'],
  ['ansible_shell_type', "commands run under the host's pinned shell (shell: in servers.yml, bash by default)"],
  ['ansible_shell_executable', "commands run under the host's pinned shell (shell: in servers.yml, bash by default)"],
  ['ansible_ssh_pipelining', 'sshgate keeps its own connections'],
  ['ansible_pipelining', 'sshgate keeps its own connections'],
  ['ansible_ssh_retries', 'sshgate keeps its own connections'],
  ['ansible_timeout', "the policy's max_seconds bounds every task, connecting included"],
  ['ansible_ssh_timeout', "the policy's max_seconds bounds every task, connecting included"],
  ['ansible_host_key_checking', 'sshgate always verifies host keys, against its own known_hosts'],
  ['ansible_ssh_host_key_checking', 'sshgate always verifies host keys, against its own known_hosts'],
  ['ansible_group_priority', 'used to order the groups, as Ansible does'],
]);

export function draftsFromAnsible(path: string, ctx: AnsibleContext, findings: Findings): DraftHost[] {
  const inv = readAnsibleInventory(path, findings);
  if (!inv) return [];
  const order = groupOrder(inv);
  const mapper = new Mapper(inv, order, ctx, findings);
  const drafts: DraftHost[] = [];
  for (const name of inv.hosts.keys()) {
    const d = mapper.draft(name, {}, []);
    if (d) drafts.push(d);
  }
  mapper.report();
  return drafts;
}

/** Every group, in the order Ansible merges their vars: by depth below `all`, then ansible_group_priority, then name. */
function groupOrder(inv: AnsibleInventory): AnsibleGroup[] {
  const depth = new Map<string, number>([['all', 0]]);
  // Longest path from all: a group is as deep as its deepest parent, plus one.
  for (let changed = true, rounds = 0; changed && rounds <= inv.groups.size; rounds++) {
    changed = false;
    for (const g of inv.groups.values()) {
      const d = depth.get(g.name);
      if (d === undefined) continue;
      for (const c of g.children) {
        if ((depth.get(c) ?? -1) < d + 1 && d + 1 <= inv.groups.size) {
          depth.set(c, d + 1);
          changed = true;
        }
      }
    }
  }
  const priority = (g: AnsibleGroup) =>
    Number(g.vars.get('ansible_group_priority')?.value ?? g.fileVars.get('ansible_group_priority')?.value ?? 1) || 1;
  return [...inv.groups.values()].sort(
    (a, b) =>
      (depth.get(a.name) ?? 1) - (depth.get(b.name) ?? 1) || priority(a) - priority(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

class Mapper {
  private readonly memo = new Map<string, DraftHost>();
  /** variable → hosts, for one finding per variable. */
  private readonly unmappedVars = new Map<string, { where: string; hosts: string[]; why: string; kind: 'unmapped' | 'ignored' }>();
  private readonly otherVars = new Map<string, number>();
  private readonly memberOf = new Map<string, AnsibleGroup[]>();

  constructor(
    private readonly inv: AnsibleInventory,
    private readonly order: AnsibleGroup[],
    private readonly ctx: AnsibleContext,
    private readonly findings: Findings,
  ) {
    // Every group a host is in, its ancestors' included.
    const parents = new Map<string, string[]>();
    for (const g of inv.groups.values()) for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), g.name]);
    for (const h of inv.hosts.values()) {
      const found = new Set<string>(['all']);
      const queue = [...inv.groups.values()].filter((g) => g.hosts.has(h.name)).map((g) => g.name);
      while (queue.length > 0) {
        const g = queue.shift() as string;
        if (found.has(g)) continue;
        found.add(g);
        queue.push(...(parents.get(g) ?? []));
      }
      this.memberOf.set(
        h.name,
        order.filter((g) => found.has(g.name)),
      );
    }
  }

  /** The host's variables, merged as Ansible merges them. */
  varsOf(h: AnsibleHost): Map<string, Var> {
    const groups = this.memberOf.get(h.name) ?? [];
    const vars = new Map<string, Var>();
    for (const g of groups) for (const [k, v] of g.vars) vars.set(k, v);
    for (const g of groups) if (g.name === 'all') for (const [k, v] of g.fileVars) vars.set(k, v);
    for (const g of groups) if (g.name !== 'all') for (const [k, v] of g.fileVars) vars.set(k, v);
    for (const [k, v] of h.vars) vars.set(k, v);
    for (const [k, v] of h.fileVars) vars.set(k, v);
    return vars;
  }

  draft(name: string, over: Override, trail: string[]): DraftHost | undefined {
    const h = this.inv.hosts.get(name) as AnsibleHost;
    const step = hopText({ name, ...(over.user ? { user: over.user } : {}), ...(over.port ? { port: over.port } : {}) });
    const label = trail.length === 0 ? `host ${quoted(name)}` : `jump host ${quoted(step)} (for ${quoted(trail[0] as string)})`;
    if (trail.includes(step)) {
      this.findings.unmapped(`host ${quoted(trail[0] as string)}`, `jump loop: ${[...trail, step].join(' → ')}; not imported`);
      return undefined;
    }
    if (trail.length > 16) {
      this.findings.unmapped(`host ${quoted(trail[0] as string)}`, 'a jump chain of more than 16 hops; not imported');
      return undefined;
    }
    const vars = this.varsOf(h);
    const fail = (where: string, message: string) => {
      this.findings.unmapped(where, `${label}: ${message}; not imported`);
      return undefined;
    };
    if (trail.length === 0) this.collect(name, vars);

    const connection = this.text(vars, ['ansible_connection'], label);
    if (connection === false) return undefined;
    if (connection !== undefined && !SSH_CONNECTIONS.has(connection.value))
      return fail(connection.where, `ansible_connection=${quoted(connection.value)} is not SSH`);
    const address = this.text(vars, ['ansible_host', 'ansible_ssh_host'], label);
    if (address === false) return undefined;
    let port = over.port ?? h.port ?? 22;
    const portVar = this.value(vars, ['ansible_port', 'ansible_ssh_port']);
    if (over.port === undefined && portVar) {
      const p =
        typeof portVar.value === 'number' ? portVar.value : /^[0-9]{1,5}$/.test(String(portVar.value)) ? Number(portVar.value) : NaN;
      if (!(Number.isInteger(p) && p >= 1 && p <= 65535))
        return fail(portVar.where, `ansible_port ${quoted(String(portVar.value))} is not a port from 1 to 65535`);
      port = p;
    }
    let user: string | undefined = over.user;
    if (user === undefined) {
      const u = this.text(vars, ['ansible_user', 'ansible_ssh_user'], label);
      if (u === false) return undefined;
      user = u?.value;
    }
    const key = this.text(vars, ['ansible_ssh_private_key_file', 'ansible_private_key_file'], label);
    if (key === false) return undefined;
    let keyPath: string | undefined;
    if (key) {
      keyPath = key.value;
      if (keyPath === '~' || keyPath.startsWith('~/')) keyPath = join(this.ctx.home, keyPath.slice(1));
      else if (!isAbsolute(keyPath)) {
        keyPath = resolve(this.ctx.cwd, keyPath);
        if (trail.length === 0)
          this.findings.note(
            key.where,
            `ansible_ssh_private_key_file ${quoted(key.value)} is relative: read as ${keyPath}, relative to where the import ran (as Ansible would run here)`,
          );
      }
      // A hop is a host of the inventory: its own draft says it.
      if (!existsSync(keyPath) && trail.length === 0) this.findings.unmapped(key.where, `${label}: the key ${keyPath} does not exist here`);
    } else if (trail.length === 0) {
      this.findings.note(label, 'no ansible_ssh_private_key_file: logs in with the ssh-agent (agent: true)');
    }

    const chain = over.jump ?? this.jumpOf(vars, label);
    if (chain === false) return undefined;
    const jump = draftJump(chain, label, trail.length === 0, this.findings, (last, hop) => {
      const target = this.hostNamed(last.name);
      if (target) return this.draft(target, hop, [...trail, step]);
      fail(
        label,
        `its jump host ${quoted(last.name)} is not a host of this inventory (add it, with its user and key, or import it with sshgate import ssh-config)`,
      );
      return false;
    });
    if (jump === false) return undefined;
    const tags = (this.memberOf.get(name) ?? []).map((g) => g.name).filter((g) => g !== 'all' && g !== 'ungrouped');
    const draft: DraftHost = {
      name,
      where: h.where,
      address: address?.value ?? name,
      port,
      user,
      keyPath,
      jump,
      tags,
      ...(trail.length > 0 ? { hopOf: `${step} (jump of ${trail[0] as string})` } : {}),
    };
    const memoKey = JSON.stringify([name, draft.address, port, user ?? null, keyPath ?? null, jump ? this.idOf(jump) : null]);
    const known = this.memo.get(memoKey);
    if (known) return known;
    this.memo.set(memoKey, draft);
    return draft;
  }

  private readonly ids = new Map<DraftHost, number>();
  private idOf(d: DraftHost): number {
    let id = this.ids.get(d);
    if (id === undefined) {
      id = this.ids.size + 1;
      this.ids.set(d, id);
    }
    return id;
  }

  /** A jump named by an inventory host's name, else by its ansible_host. */
  private hostNamed(name: string): string | undefined {
    if (this.inv.hosts.has(name)) return name;
    for (const h of this.inv.hosts.values()) {
      const a = this.varsOf(h).get('ansible_host')?.value;
      if (a === name) {
        this.findings.note(`jump host ${quoted(name)}`, `read as inventory host ${quoted(h.name)}, whose ansible_host it is`);
        return h.name;
      }
    }
    return undefined;
  }

  private value(vars: Map<string, Var>, names: string[]): Var | undefined {
    for (const n of names) {
      const v = vars.get(n);
      if (v !== undefined && v.value !== null && v.value !== undefined) return v;
    }
    return undefined;
  }

  /** A variable that must be plain text: undefined when unset, false when it cannot be used (said). */
  private text(vars: Map<string, Var>, names: string[], label: string): { value: string; where: string } | undefined | false {
    const v = this.value(vars, names);
    if (!v) return undefined;
    const name = names.find((n) => vars.get(n) === v) as string;
    if (v.value === VAULT) {
      this.findings.unmapped(v.where, `${label}: ${name} is vault-encrypted: not decrypted; not imported`);
      return false;
    }
    if (typeof v.value !== 'string' && typeof v.value !== 'number') {
      this.findings.unmapped(v.where, `${label}: ${name} is not a text value; not imported`);
      return false;
    }
    const s = String(v.value);
    if (s.includes('{{') || s.includes('{%')) {
      this.findings.unmapped(
        v.where,
        `${label}: ${name} ${quoted(s)} is a Jinja template, which the import does not evaluate; not imported`,
      );
      return false;
    }
    return { value: s, where: v.where };
  }

  /** The hops of `-J` / `-o ProxyJump=` / `-o ProxyCommand=` in the ssh args; [] for none, false when not mappable. */
  private jumpOf(vars: Map<string, Var>, label: string): Hop[] | false {
    let hops: Hop[] = [];
    for (const name of ['ansible_ssh_common_args', 'ansible_ssh_extra_args']) {
      const v = this.text(vars, [name], label);
      if (v === false) return false;
      if (!v) continue;
      const words = shellWords(v.value);
      if (!words) {
        this.findings.unmapped(v.where, `${label}: ${name}: an unterminated quote; not imported`);
        return false;
      }
      const other: string[] = [];
      for (let i = 0; i < words.length; i++) {
        const w = words[i] as string;
        let spec: string | undefined;
        let command: string | undefined;
        if (w === '-J') spec = words[++i];
        else if (w.startsWith('-J')) spec = w.slice(2);
        else if (w === '-o' || w.startsWith('-o')) {
          const opt = w === '-o' ? (words[++i] ?? '') : w.slice(2);
          const m = /^\s*(\w+)\s*[= ]\s*(.*)$/s.exec(opt);
          const key = m?.[1]?.toLowerCase();
          if (key === 'proxyjump') spec = m?.[2];
          else if (key === 'proxycommand') command = m?.[2];
          else other.push(`-o ${opt}`);
        } else other.push(w);
        if (command !== undefined) {
          const hop = jumpOfProxyCommand(shellWords(command) ?? []);
          if (!hop) {
            this.findings.unmapped(
              v.where,
              `${label}: ${name}: ProxyCommand ${quoted(command)} is not mapped (sshgate connects directly, or through jump: hosts); not imported`,
            );
            return false;
          }
          hops = [hop];
        }
        if (spec !== undefined) {
          if (spec.toLowerCase() === 'none') {
            hops = [];
            continue;
          }
          const parsed = spec.split(',').map(parseHop);
          const bad = parsed.find((p): p is string => typeof p === 'string');
          if (bad !== undefined) {
            this.findings.unmapped(v.where, `${label}: ${name}: ProxyJump ${quoted(spec)}: ${bad}; not imported`);
            return false;
          }
          hops = parsed as Hop[];
        }
      }
      if (other.length > 0)
        this.findings.unmapped(v.where, `${label}: ${name}: ${quoted(other.join(' '))} not mapped (ssh options other than a jump host)`);
    }
    return hops;
  }

  private collect(host: string, vars: Map<string, Var>): void {
    for (const [k, v] of vars) {
      if (MAPPED.has(k)) continue;
      let why: string | undefined;
      let kind: 'unmapped' | 'ignored' = 'unmapped';
      if (SECRETS.has(k))
        why =
          'a secret: never copied (keep it in a secret file and name it with password_secret or become_password_secret in credentials.yml)';
      else if (k.startsWith('ansible_become') || k === 'ansible_sudo' || k === 'ansible_sudo_user')
        why = "sshgate's elevation is a property of a policy rule (become: on rules, docs/become.md), not of a host";
      else if (IGNORED.has(k)) {
        why = IGNORED.get(k);
        kind = 'ignored';
      } else if (k.startsWith('ansible_')) why = 'not a variable the import maps';
      if (why === undefined) {
        this.otherVars.set(k, (this.otherVars.get(k) ?? 0) + 1);
        continue;
      }
      const entry = this.unmappedVars.get(k);
      if (entry) entry.hosts.push(host);
      else this.unmappedVars.set(k, { where: v.where, hosts: [host], why, kind });
    }
  }

  report(): void {
    for (const [k, { where, hosts, why, kind }] of this.unmappedVars) {
      const list = hosts.length > 5 ? `${hosts.slice(0, 5).join(', ')} and ${hosts.length - 5} more` : hosts.join(', ');
      const message = `${k} (${list}): ${why}`;
      if (kind === 'ignored') this.findings.ignored(where, message);
      else this.findings.unmapped(where, message);
    }
    if (this.otherVars.size > 0) {
      const names = [...this.otherVars.keys()];
      this.findings.ignored(
        '',
        `${names.length} other variable${names.length === 1 ? '' : 's'} (${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}): not connection settings`,
      );
    }
  }
}
