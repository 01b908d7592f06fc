/**
 * Turns drafts into servers.yml and credentials.yml entries: valid, unique aliases (each rename
 * said), one credential per key (referenced by its path under the keys dir, never read) or the
 * ssh-agent, tags from the source, from --tag and from --tag-from rules, jump hosts by alias.
 * Every entry is checked against the same schemas `sshgate check` uses; one that fails is left
 * out and said, and so is every host that jumps through it.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { HostEntry } from '../config/file-formats.js';
import type { DraftHost } from './draft.js';
import { Findings, quoted } from './findings.js';

export interface BuildOptions {
  /** Absolute: the keys dir sshgate will be given, which every key_path is relative to. */
  keysDir: string;
  /** --tag: given to every host. */
  tags: readonly string[];
  /** --tag-from: each rule's capture groups (or whole match) on a host's source name become tags. */
  tagRules: readonly RegExp[];
  /** The login name written for a host whose source names no user: ssh's default. */
  localUser: string;
}

export interface ServerEntry {
  alias: string;
  host: string;
  port: number;
  user: string;
  credentials: string;
  tags: string[];
  jump?: string;
}

export interface CredentialOut {
  name: string;
  key_path?: string;
  agent?: true;
}

export interface Built {
  hosts: { entry: ServerEntry; comment: string }[];
  credentials: { entry: CredentialOut; comment: string }[];
}

const NAME_RE = /^[A-Za-z0-9._-]{1,100}$/;
const AGENT = 'ssh-agent';

export function buildInventory(drafts: readonly DraftHost[], options: BuildOptions, findings: Findings): Built {
  const top = new Set(drafts);
  const all = new Set<DraftHost>();
  for (const d of drafts) for (let h: DraftHost | undefined = d; h && !all.has(h); h = h.jump) all.add(h);
  const ordered = [...[...all].filter((d) => top.has(d)), ...[...all].filter((d) => !top.has(d))];

  const aliases = new Map<DraftHost, string>();
  const taken = new Set<string>();
  // Names that are aliases as they are keep them; the renamed ones come second, so that a valid
  // `web-1` is not renamed because `web 1` came first.
  for (const d of ordered) {
    if (!top.has(d) || !NAME_RE.test(d.name) || taken.has(d.name) || d.name.startsWith('-')) continue;
    taken.add(d.name);
    aliases.set(d, d.name);
  }
  for (const d of ordered) {
    if (aliases.has(d)) continue;
    const alias = uniqueAlias(d.name, taken);
    taken.add(alias);
    aliases.set(d, alias);
    if (!top.has(d))
      findings.note(`host ${quoted(alias)}`, `added for the jump hop ${d.hopOf ?? d.name}: no host of the source is that hop as it is`);
    else if (alias !== d.name)
      findings.note(
        d.where,
        `host ${quoted(d.name)} is written as alias ${quoted(alias)} (an alias is 1 to 100 of A-Z a-z 0-9 . _ -, and unique)`,
      );
  }

  const built: Built = { hosts: [], credentials: [] };
  const credentialByKey = new Map<string, string>();
  const credentialNames = new Set<string>();
  const noUser: string[] = [];
  const untagged: string[] = [];
  const outside = new Map<string, string[]>();
  const placed = new Map<DraftHost, string | null>();
  const entries = new Map<DraftHost, Built['hosts'][number]>();

  const credentialFor = (d: DraftHost, alias: string): string | undefined => {
    if (d.keyPath === undefined) {
      if (!credentialNames.has(AGENT)) {
        credentialNames.add(AGENT);
        built.credentials.push({ entry: { name: AGENT, agent: true }, comment: 'the ssh-agent at $SSH_AUTH_SOCK' });
      }
      return AGENT;
    }
    const rel = relative(options.keysDir, d.keyPath);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      const hosts = outside.get(d.keyPath);
      if (hosts) hosts.push(alias);
      else outside.set(d.keyPath, [alias]);
      return undefined;
    }
    const keyPath = rel.split(sep).join('/');
    const known = credentialByKey.get(keyPath);
    if (known) return known;
    const name = uniqueAlias(keyPath.replace(/\//g, '-'), credentialNames);
    credentialNames.add(name);
    credentialByKey.set(keyPath, name);
    built.credentials.push({ entry: { name, key_path: keyPath }, comment: d.keyPath });
    return name;
  };

  const place = (d: DraftHost): string | null => {
    const done = placed.get(d);
    if (done !== undefined) return done;
    placed.set(d, null);
    const alias = aliases.get(d) as string;
    let jump: string | undefined;
    if (d.jump) {
      const j = place(d.jump);
      if (j === null) {
        findings.unmapped(
          d.where,
          `host ${quoted(alias)}: its jump host ${quoted(aliases.get(d.jump) as string)} was not imported; not imported`,
        );
        return null;
      }
      jump = j;
    }
    const credentials = credentialFor(d, alias);
    if (credentials === undefined) return null;
    if (d.user === undefined) noUser.push(alias);
    const tags = tagsOf(d, options, findings, alias);
    if (options.tagRules.length > 0 && !options.tagRules.some((r) => r.test(d.name))) untagged.push(alias);
    const entry: ServerEntry = {
      alias,
      host: d.address,
      port: d.port,
      user: d.user ?? options.localUser,
      credentials,
      tags,
      ...(jump ? { jump } : {}),
    };
    const parsed = HostEntry.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || 'entry';
      findings.unmapped(d.where, `host ${quoted(alias)}: ${field}: ${issue?.message ?? 'invalid'}; not imported`);
      return null;
    }
    entries.set(d, { entry, comment: top.has(d) ? `from ${d.where}` : `jump hop ${d.hopOf ?? d.name}` });
    placed.set(d, alias);
    return alias;
  };
  for (const d of ordered) place(d);

  for (const [key, hosts] of outside) {
    findings.unmapped(
      `hosts ${hosts.map((h) => quoted(h)).join(', ')}`,
      `the key ${key} is outside the keys dir ${options.keysDir}, and key_path must be under it; not imported (give --keys-dir a folder that holds it)`,
    );
  }
  if (noUser.length > 0)
    findings.note(listOf(noUser), `no User given: written as user: ${options.localUser}, the local user ssh would log in as here`);
  if (untagged.length > 0) findings.note(listOf(untagged), 'no --tag-from rule matches the name: no tag from a rule');
  for (const d of ordered) {
    const e = entries.get(d);
    if (e) built.hosts.push(e);
  }
  return built;
}

function listOf(aliases: readonly string[]): string {
  const shown =
    aliases.length > 8 ? [...aliases.slice(0, 8).map((a) => quoted(a)), `and ${aliases.length - 8} more`] : aliases.map((a) => quoted(a));
  return `${aliases.length === 1 ? 'host' : 'hosts'} ${shown.join(', ')}`;
}

/**
 * `name` as an alias: characters outside A-Z a-z 0-9 . _ - become `-` (one for a run), no leading
 * `-` (it would read as an option on sshgate's command line), at most 100 characters, and a `-2`,
 * `-3`… suffix when the alias is taken.
 */
export function uniqueAlias(name: string, taken: ReadonlySet<string>): string {
  let base = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+/, '');
  if (base === '') base = 'host';
  base = base.slice(0, 100);
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = `${base.slice(0, 100 - suffix.length)}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}

function tagsOf(d: DraftHost, options: BuildOptions, findings: Findings, alias: string): string[] {
  const tags: string[] = [];
  const add = (tag: string, from: string) => {
    if (tags.includes(tag)) return;
    if (!NAME_RE.test(tag)) {
      findings.unmapped(`host ${quoted(alias)}`, `${from} ${quoted(tag)} is not a tag (1 to 100 of A-Z a-z 0-9 . _ -); left out`);
      return;
    }
    tags.push(tag);
  };
  for (const t of d.tags) add(t, 'the group');
  for (const t of options.tags) add(t, '--tag');
  for (const rule of options.tagRules) {
    const m = rule.exec(d.name);
    if (!m) continue;
    const groups = m.slice(1);
    if (groups.length === 0) add(m[0], `--tag-from ${rule.source}: the match`);
    for (const g of groups) if (g !== undefined && g !== '') add(g, `--tag-from ${rule.source}: the capture`);
  }
  return tags;
}
