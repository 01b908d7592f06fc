/**
 * `sshgate import ssh-config [FILE]` and `sshgate import ansible INVENTORY`: an inventory for
 * review, from what the machine already knows. The files go to --out DIR (never over existing ones
 * without --force) or to stdout; the summary and everything that could not be mapped go to stderr.
 */
import { existsSync, linkSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { shellQuote } from '../errors.js';
import { draftsFromAnsible } from '../import/ansible-import.js';
import { buildInventory } from '../import/build-inventory.js';
import type { DraftHost } from '../import/draft.js';
import { Findings, type Finding } from '../import/findings.js';
import { renderCredentials, renderServers } from '../import/render.js';
import { readConfigText, readSshConfig } from '../import/ssh-config-file.js';
import { draftsFromSshConfig } from '../import/ssh-config-import.js';
import type { Io } from './context.js';
import { settingOf, UsageError, type Env } from './usage.js';
import { ENV } from '../defaults.js';

export type ImportSource = 'ssh-config' | 'ansible';

export interface ImportOptions {
  source: ImportSource;
  /** The file to read; ssh-config: default ~/.ssh/config. */
  path: string | undefined;
  out: string | undefined;
  force: boolean;
  keysDir: string | undefined;
  tags: readonly string[];
  tagFrom: readonly string[];
}

export function importCommand(options: ImportOptions, io: Io, env: Env): number {
  // $HOME, as for every other tool (ssh itself reads the passwd entry, which $HOME normally is).
  const home = settingOf(env, 'HOME') ?? homedir();
  const localUser = userInfo().username;
  const tagRules = options.tagFrom.map((source) => {
    try {
      return new RegExp(source);
    } catch (err) {
      throw new UsageError(`--tag-from ${shellQuote(source)} is not a regular expression: ${(err as Error).message}`);
    }
  });
  for (const t of options.tags)
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(t))
      throw new UsageError(`--tag ${shellQuote(t)}: a tag is 1 to 100 of the characters A-Z a-z 0-9 . _ -`);
  const path = options.path ?? (options.source === 'ssh-config' ? join(home, '.ssh', 'config') : undefined);
  if (path === undefined) throw new UsageError('import ansible needs the inventory file: sshgate import ansible inventory.ini');
  const keysDir = resolve(options.keysDir ?? settingOf(env, ENV.keysDir) ?? join(home, '.ssh'));
  const files =
    options.out === undefined
      ? undefined
      : { servers: join(options.out, 'servers.yml'), credentials: join(options.out, 'credentials.yml') };
  if (files && !options.force) {
    const there = [files.servers, files.credentials].filter((f) => existsSync(f));
    if (there.length > 0)
      throw new UsageError(
        `${there.join(' and ')} already exist${there.length === 1 ? 's' : ''}: review or move them, or give --force to overwrite`,
      );
  }

  // The file itself must be there: a missing or unreadable source is a usage error, not a finding.
  const opened = new Findings();
  if (readConfigText(path, path, opened) === undefined) {
    const f = opened.list[0] as Finding;
    throw new UsageError(`${path}: ${f.message}`);
  }

  const findings = new Findings();
  let drafts: DraftHost[];
  if (options.source === 'ssh-config') {
    const config = readSshConfig(path, path, { home }, findings);
    drafts = config
      ? draftsFromSshConfig(config, { localUser, uid: String(process.getuid?.() ?? 0), home, cwd: process.cwd(), env }, findings)
      : [];
  } else {
    drafts = draftsFromAnsible(path, { home, cwd: process.cwd() }, findings);
  }
  const built = buildInventory(drafts, { keysDir, tags: options.tags, tagRules, localUser }, findings);

  const command = [
    'sshgate',
    'import',
    options.source,
    path,
    ...options.tags.flatMap((t) => ['--tag', t]),
    ...options.tagFrom.flatMap((t) => ['--tag-from', t]),
  ]
    .map((w, i) => (i < 3 ? w : shellQuote(w)))
    .join(' ');
  const ctx = { command, keysDir };
  const servers = renderServers(built, ctx);
  const credentials = renderCredentials(built, ctx);

  const summary: string[] = [];
  const hops = built.hosts.filter((h) => h.comment.startsWith('jump hop')).length;
  summary.push(
    `sshgate: ${built.hosts.length} host${built.hosts.length === 1 ? '' : 's'} imported${hops > 0 ? ` (${hops} added for jump hops)` : ''}, ${built.credentials.length} credential${built.credentials.length === 1 ? '' : 's'}, from ${path}`,
  );
  if (built.hosts.length === 0) summary.push('nothing was written: no host could be imported');
  else if (files) {
    writeBoth(files, servers, credentials, options.force);
    summary.push(`wrote ${files.servers} and ${files.credentials}`);
  } else io.out(`# ---- servers.yml ----\n${servers}# ---- credentials.yml ----\n${credentials}`);
  if (built.credentials.some((c) => c.entry.key_path !== undefined))
    summary.push(
      `keys: each key_path is relative to ${keysDir}; give sshgate SSHGATE_KEYS_DIR=${shellQuote(keysDir)} (its default is <config>/keys), or copy the keys to the same paths there`,
    );
  summary.push(...section('not imported or not mapped', findings, 'unmapped'));
  summary.push(...section('ignored: sshgate decides these its own way', findings, 'ignored'));
  summary.push(...section('notes', findings, 'note'));
  if (built.hosts.length > 0)
    summary.push(
      `next: add the host keys to ${files ? join(options.out as string, 'known_hosts') : 'known_hosts beside servers.yml'}, then run sshgate check --config ${files ? shellQuote(options.out as string) : 'DIR'}`,
    );
  io.err(`${summary.join('\n')}\n`);
  return built.hosts.length === 0 || findings.count('unmapped') > 0 ? 1 : 0;
}

function section(title: string, findings: Findings, kind: Finding['kind']): string[] {
  const list = findings.list.filter((f) => f.kind === kind);
  if (list.length === 0) return [];
  return [`${title} (${list.length}):`, ...list.map((f) => `  ${f.where ? `${f.where}: ` : ''}${f.message}`)];
}

/** Both files or neither; without --force, an existing file is never replaced, even one made meanwhile. */
function writeBoth(files: { servers: string; credentials: string }, servers: string, credentials: string, force: boolean): void {
  const dir = resolve(files.servers, '..');
  mkdirSync(dir, { recursive: true });
  const tmp = (f: string) => `${f}.${process.pid}.tmp`;
  const texts: [string, string][] = [
    [files.servers, servers],
    [files.credentials, credentials],
  ];
  for (const [f, text] of texts) writeFileSync(tmp(f), text, { mode: 0o644, flag: 'wx' });
  const done: string[] = [];
  try {
    for (const [f] of texts) {
      if (force) renameSync(tmp(f), f);
      else {
        linkSync(tmp(f), f);
        rmSync(tmp(f));
      }
      done.push(f);
    }
  } catch (err) {
    for (const [f] of texts) rmSync(tmp(f), { force: true });
    if (!force) for (const f of done) rmSync(f, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UsageError(`${files.servers} or ${files.credentials} appeared meanwhile; nothing was written`);
    throw err;
  }
}
