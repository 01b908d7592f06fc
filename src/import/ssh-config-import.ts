/**
 * The hosts of an ssh_config, as drafts: every name a `Host` line gives without a wildcard or a
 * `!`, resolved as `ssh -G NAME` would resolve it (HostName, Port, User, the first IdentityFile),
 * and its ProxyJump chain turned into jump hosts that are resolved the same way. Blocks of
 * wildcards only (`Host *`, `Host *.corp`) give defaults and no host of their own.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { draftJump, type DraftHost, type Hop, type Override } from './draft.js';
import { Findings, quoted } from './findings.js';
import { hasWildcard } from '../glob.js';
import { expandTokens, SshConfigIndex, type Resolved } from './ssh-config-eval.js';
import { whereOf, type Setting, type SshConfig } from './ssh-config-file.js';
import { IGNORED, MAPPED, UNMAPPED } from './ssh-options.js';

export interface SshConfigContext {
  /** The local user: ssh's login name when no User is given, and %u. */
  localUser: string;
  /** The local user's id, for %i. */
  uid: string;
  /** The home directory: ~ and %d. */
  home: string;
  /** A relative IdentityFile is relative to where ssh runs: here, the import's working directory. */
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
}

/** The most hops a chain may have, counting the hops of hops; a longer one is reported, not followed. */
const MAX_CHAIN = 16;

export function draftsFromSshConfig(config: SshConfig, ctx: SshConfigContext, findings: Findings): DraftHost[] {
  const index = new SshConfigIndex(config);
  for (const m of config.matchLines) {
    if (m.all) continue;
    const n = config.settings.filter((s) => s.conditions.includes(m)).length;
    findings.unmapped(
      whereOf(m.where),
      `Match ${quoted(m.criteria)}: Match blocks are not imported; ${n === 1 ? 'its setting was' : `its ${n} settings were`} applied to no host`,
    );
  }
  const builder = new DraftBuilder(index, ctx, findings);
  const drafts: DraftHost[] = [];
  const names = new Set<string>();
  for (const { condition } of config.hostLines) {
    const sameLine = new Map<string, string>();
    for (const name of condition.patterns) {
      if (name.startsWith('!') || hasWildcard(name) || names.has(name)) continue;
      names.add(name);
      const r = index.resolve(name);
      if (!r.named) {
        findings.unmapped(
          whereOf(condition.where),
          `host ${quoted(name)} is never configured by this line (a negated pattern, or an Include inside a Host block that excludes it); not imported`,
        );
        continue;
      }
      const draft = builder.draft(name, {}, []);
      if (!draft) continue;
      // `Host web1 web1.example.com` with one HostName: one machine under two names.
      const same = sameLine.get(builder.keyOf(draft, false));
      if (same !== undefined) {
        findings.note(
          whereOf(condition.where),
          `host ${quoted(name)} is host ${quoted(same)} under another name (same address, port, user, key and jump); imported once`,
        );
        continue;
      }
      sameLine.set(builder.keyOf(draft, false), name);
      drafts.push(draft);
    }
  }
  builder.reportSettings();
  const imported = drafts.map((d) => d.name);
  for (const c of index.unusedWildcardLines(imported)) {
    if (c.kind !== 'host') continue;
    findings.note(
      whereOf(c.where),
      `Host ${c.patterns.join(' ')} applies to no imported host (its settings are defaults for names given to ssh; sshgate imports named hosts)`,
    );
  }
  return drafts;
}

class DraftBuilder {
  private readonly memo = new Map<string, DraftHost>();
  private readonly ids = new Map<DraftHost, number>();
  /** keyword → the hosts that have it, and the first line giving it. */
  private readonly settings = new Map<string, { spelled: string; where: string; hosts: Set<string> }>();

  constructor(
    private readonly index: SshConfigIndex,
    private readonly ctx: SshConfigContext,
    private findings: Findings,
  ) {}

  keyOf(d: DraftHost, withName = true): string {
    const jump = d.jump ? this.ids.get(d.jump) : undefined;
    return JSON.stringify([withName ? d.name : '', d.address, d.port, d.user ?? null, d.keyPath ?? null, jump ?? null]);
  }

  /**
   * The draft of `name` as ssh would connect to it with `over` given on its command line. What it
   * finds is said once: a draft that turns out to be one made before (a hop that is a host of the
   * file) says nothing again.
   */
  draft(name: string, over: Override, trail: string[]): DraftHost | undefined {
    const outer = this.findings;
    this.findings = new Findings();
    try {
      const d = this.draftOnce(name, over, trail);
      if (!d || !d.seen) outer.absorb(this.findings);
      return d?.draft;
    } finally {
      this.findings = outer;
    }
  }

  private draftOnce(name: string, over: Override, trail: string[]): { draft: DraftHost; seen: boolean } | undefined {
    const step = `${over.user ? `${over.user}@` : ''}${name}${over.port ? `:${over.port}` : ''}`;
    if (trail.includes(step)) {
      this.findings.unmapped(`host ${quoted(trail[0] as string)}`, `ProxyJump loop: ${[...trail, step].join(' → ')}; not imported`);
      return undefined;
    }
    if (trail.length > MAX_CHAIN) {
      this.findings.unmapped(`host ${quoted(trail[0] as string)}`, `a jump chain of more than ${MAX_CHAIN} hops; not imported`);
      return undefined;
    }
    const r = this.index.resolve(name);
    const label = trail.length === 0 ? `host ${quoted(name)}` : `jump host ${quoted(step)} (for ${quoted(trail[0] as string)})`;
    const fail = (where: Setting | undefined, message: string) => {
      this.findings.unmapped(where ? whereOf(where.where) : label, `${label}: ${message}; not imported`);
      return undefined;
    };

    const hostnameSetting = r.first.get('hostname');
    let address = name.toLowerCase();
    if (hostnameSetting) {
      if (hostnameSetting.args.length > 1) return fail(hostnameSetting, 'HostName has more than one argument (ssh refuses it)');
      const expanded = expandTokens(hostnameSetting.args[0] as string, { h: name.toLowerCase() }, {});
      if ('error' in expanded) return fail(hostnameSetting, `HostName ${quoted(hostnameSetting.args[0] as string)}: ${expanded.error}`);
      address = expanded.value;
    }
    let port = 22;
    const portSetting = r.first.get('port');
    if (over.port !== undefined) port = over.port;
    else if (portSetting) {
      const p = portOf(portSetting.args.join(' '));
      if (p === undefined) return fail(portSetting, `Port ${quoted(portSetting.args.join(' '))} is not a port number from 1 to 65535`);
      port = p;
    }
    let user = over.user;
    const userSetting = r.first.get('user');
    if (user === undefined && userSetting) {
      if (userSetting.args.length > 1) return fail(userSetting, 'User has more than one argument (ssh refuses it)');
      const given = userSetting.args[0] ?? '';
      if (/%|\$\{/.test(given)) return fail(userSetting, `User ${quoted(given)} holds a token or a variable the import does not expand`);
      user = given;
    }
    const keyPath = this.keyOf1(r, { address, name, port, user }, label);
    if (keyPath === false) return undefined;

    const chain = over.jump ?? this.proxyOf(r, label);
    if (chain === false) return undefined;
    const jump = draftJump(chain, label, trail.length === 0, this.findings, (last, hop) => this.draft(last.name, hop, [...trail, step]));
    if (jump === false) return undefined;
    const line = this.index.linesNaming(name)[0];
    const draft: DraftHost = {
      name,
      where: line ? whereOf(line.condition.where) : label,
      address,
      port,
      user,
      keyPath,
      jump,
      tags: [],
      ...(trail.length > 0 ? { hopOf: `${step} (ProxyJump of ${trail[0] as string})` } : {}),
    };
    const key = this.keyOf(draft);
    const known = this.memo.get(key);
    if (known) return { draft: known, seen: true };
    this.memo.set(key, draft);
    this.ids.set(draft, this.ids.size + 1);
    this.collectSettings(r, name);
    return { draft, seen: false };
  }

  /** The key's absolute path, undefined for the agent, false when the host cannot be imported. */
  private keyOf1(
    r: Resolved,
    t: { address: string; name: string; port: number; user: string | undefined },
    label: string,
  ): string | undefined | false {
    const files: { path: string; setting: Setting }[] = [];
    for (const s of r.identityFiles) {
      const raw = s.args.join(' ');
      if (raw.toLowerCase() === 'none') continue;
      const hka = r.first.get('hostkeyalias')?.args[0];
      const expanded = expandTokens(
        raw,
        {
          h: t.address,
          n: t.name,
          p: String(t.port),
          r: t.user ?? this.ctx.localUser,
          u: this.ctx.localUser,
          d: this.ctx.home,
          i: this.ctx.uid,
          k: hka ?? t.address,
        },
        this.ctx.env,
      );
      if ('error' in expanded) {
        this.findings.unmapped(whereOf(s.where), `${label}: IdentityFile ${quoted(raw)}: ${expanded.error}; not imported`);
        return false;
      }
      let path = expanded.value;
      if (path === '~' || path.startsWith('~/')) path = join(this.ctx.home, path.slice(1));
      else if (path.startsWith('~')) {
        this.findings.unmapped(
          whereOf(s.where),
          `${label}: IdentityFile ${quoted(raw)}: another user's home (~user) is not looked up; not imported`,
        );
        return false;
      } else if (!isAbsolute(path)) {
        const full = resolve(this.ctx.cwd, path);
        this.findings.note(
          whereOf(s.where),
          `IdentityFile ${quoted(raw)} is relative: read as ${full}, relative to where the import ran (as ssh would run here)`,
        );
        path = full;
      }
      if (!files.some((f) => f.path === path)) files.push({ path, setting: s });
    }
    const first = files[0];
    if (!first) {
      this.findings.note(
        label,
        'no IdentityFile: logs in with the ssh-agent (agent: true); ssh would also try the default keys ~/.ssh/id_*',
      );
      return undefined;
    }
    if (files.length > 1) {
      // As common as `Host *` with a default key: a note, and the first key is the one sshgate uses.
      this.findings.note(
        whereOf((files[1] as { setting: Setting }).setting.where),
        `${label}: ${files.length} IdentityFiles; sshgate logs in with the first (${first.path}), ssh would also try ${files
          .slice(1)
          .map((f) => f.path)
          .join(', ')}`,
      );
    }
    if (first.path.endsWith('.pub')) {
      this.findings.unmapped(
        whereOf(first.setting.where),
        `${label}: IdentityFile ${first.path} is a public key; sshgate needs the private key file`,
      );
    } else if (!existsSync(first.path)) {
      this.findings.unmapped(whereOf(first.setting.where), `${label}: IdentityFile ${first.path} does not exist here (ssh would skip it)`);
    }
    return first.path;
  }

  /** The ProxyJump hops, [] for none, false when the proxy cannot be mapped. */
  private proxyOf(r: Resolved, label: string): Hop[] | false {
    const s = r.first.get('proxy');
    if (!s) return [];
    if (s.args.length === 1 && s.args[0]?.toLowerCase() === 'none') return [];
    if (s.keyword === 'proxyjump') {
      if (s.args.length > 1) {
        this.findings.unmapped(whereOf(s.where), `${label}: ProxyJump has more than one argument (ssh refuses it); not imported`);
        return false;
      }
      const hops: Hop[] = [];
      for (const part of (s.args[0] as string).split(',')) {
        const hop = parseHop(part);
        if (typeof hop === 'string') {
          this.findings.unmapped(whereOf(s.where), `${label}: ProxyJump ${quoted(part)}: ${hop}; not imported`);
          return false;
        }
        hops.push(hop);
      }
      return hops;
    }
    const hop = jumpOfProxyCommand(s.args);
    if (hop) {
      this.findings.note(whereOf(s.where), `${label}: ProxyCommand ${quoted(s.args.join(' '))} is read as ProxyJump ${hopText(hop)}`);
      return [hop];
    }
    this.findings.unmapped(
      whereOf(s.where),
      `${label}: ProxyCommand ${quoted(s.args.join(' '))} is not mapped (sshgate connects directly, or through jump: hosts); not imported`,
    );
    return false;
  }

  private collectSettings(r: Resolved, name: string): void {
    for (const [key, s] of r.first) {
      const keyword = key === 'proxy' ? s.keyword : key;
      if (MAPPED.has(keyword)) continue;
      const entry = this.settings.get(keyword);
      // A hop with another user or port has the same name: a set lists it once.
      if (entry) entry.hosts.add(name);
      else this.settings.set(keyword, { spelled: s.spelled, where: whereOf(s.where), hosts: new Set([name]) });
    }
  }

  /** One finding per keyword that imported hosts have and the inventory does not carry. */
  reportSettings(): void {
    for (const [keyword, { spelled, where, hosts: names }] of this.settings) {
      const hosts = [...names];
      const list = hosts.length > 5 ? `${hosts.slice(0, 5).join(', ')} and ${hosts.length - 5} more` : hosts.join(', ');
      const ignored = IGNORED.get(keyword);
      if (ignored) this.findings.ignored(where, `${spelled} (${list}): ${ignored}`);
      else
        this.findings.unmapped(
          where,
          `${spelled} (${list}): ${UNMAPPED.get(keyword) ?? 'not a keyword the import maps (ssh refuses keywords it does not know, unless IgnoreUnknown names them)'}`,
        );
    }
  }
}

function portOf(s: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export function hopText(h: Hop): string {
  const host = h.name.includes(':') ? `[${h.name}]` : h.name;
  return `${h.user ? `${h.user}@` : ''}${host}${h.port ? `:${h.port}` : ''}`;
}

/** One element of a ProxyJump list: `[user@]host[:port]` or `ssh://[user@]host[:port]`; a string says why not. */
export function parseHop(spec: string): Hop | string {
  let s = spec;
  if (s.startsWith('ssh://')) {
    s = s.slice('ssh://'.length);
    if (s.endsWith('/')) s = s.slice(0, -1);
  }
  if (s === '') return 'an empty hop';
  const at = s.lastIndexOf('@');
  const user = at === -1 ? undefined : s.slice(0, at);
  if (user === '') return 'an empty user before "@"';
  let rest = s.slice(at + 1);
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) return 'an unclosed "["';
    host = rest.slice(1, close);
    rest = rest.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return `unexpected ${quoted(rest)} after "]"`;
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = rest.indexOf(':');
    host = colon === -1 ? rest : rest.slice(0, colon);
    portText = colon === -1 ? undefined : rest.slice(colon + 1);
  }
  if (host === '') return 'no host name';
  if (/[\s/]/.test(host)) return `${quoted(host)} is not a host name`;
  let port: number | undefined;
  if (portText !== undefined) {
    port = portOf(portText);
    if (port === undefined) return `port ${quoted(portText)} is not a port number from 1 to 65535`;
  }
  return { name: host, ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}

/**
 * The hop a ProxyCommand amounts to when it is only ssh's own way of doing ProxyJump:
 * `ssh [-q] [-l USER] [-p PORT] -W %h:%p HOST` (the options in any order, `[%h]:%p` too, `exec`
 * before it allowed), or `ssh … HOST nc %h %p`. Anything else is not read.
 */
export function jumpOfProxyCommand(words: readonly string[]): Hop | undefined {
  let w = [...words];
  if (w[0] === 'exec') w = w.slice(1);
  const prog = w.shift();
  if (prog === undefined || (prog !== 'ssh' && !prog.endsWith('/ssh'))) return undefined;
  let forward = false;
  let user: string | undefined;
  let port: number | undefined;
  let host: string | undefined;
  while (w.length > 0) {
    const word = w.shift() as string;
    if (word === '-q' || word === '-T') continue;
    if (word === '-W') {
      const target = w.shift();
      if (target !== '%h:%p' && target !== '[%h]:%p') return undefined;
      forward = true;
    } else if (word === '-l') {
      user = w.shift();
      if (!user) return undefined;
    } else if (word === '-p') {
      port = portOf(w.shift() ?? '');
      if (port === undefined) return undefined;
    } else if (word.startsWith('-')) return undefined;
    else if (host === undefined) {
      host = word;
      if (!forward && w.length === 3 && (w[0] === 'nc' || w[0] === 'netcat') && w[1] === '%h' && w[2] === '%p') {
        forward = true;
        w = [];
      }
    } else return undefined;
  }
  if (!forward || host === undefined) return undefined;
  const hop = parseHop(host);
  if (typeof hop === 'string') return undefined;
  if (hop.port !== undefined) return undefined; // `ssh host:port` is no port for ssh: a name with a colon
  return { ...hop, ...(user !== undefined && hop.user === undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}
