/**
 * Loads the policy: one YAML file, or every *.yml / *.yaml directly inside a directory (its
 * tests/ folder is not policy). Files are merged; a setting given differently in two files is an
 * error rather than a silent winner. Either the whole policy loads, or a ConfigError lists every
 * problem.
 */
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { ConfigError } from '../errors.js';
import type { CallerOverride, FileRule, LimitsOverride, NetworkPolicy, PolicyFile } from './file-formats.js';
import { PolicyFile as PolicyFileSchema } from './file-formats.js';
import { describePath, IssueSink, readYamlFile, yamlFilesAt, type YamlFile } from './yaml-file.js';

export type LimitKey = keyof typeof DEFAULTS.limits;
export type Limits = Record<LimitKey, number>;
/** The rate limits and quotas of a principal, and of a principal on one host. */
export type RateLimitKey = keyof typeof DEFAULTS.rateLimits;
export type RateLimits = Record<RateLimitKey, number>;

export interface PolicyRule {
  name: string;
  /** `policies/default.yml:12:5`, where a reviewer finds it. */
  source: string;
  /** ask: allowed once a person approves it; deny > ask > allow. */
  action: 'allow' | 'ask' | 'deny';
  aliases: string[];
  tags: string[];
  /** Whitespace-collapsed, as commands are. */
  commands: string[];
  /** An allow rule that also lets its commands run with a terminal. */
  tty: boolean;
  /** Its commands may be given a call's stdin. */
  stdin: boolean;
  /**
   * The principals (`alice`) and roles (`role:ops`) it applies to; null: every caller. See
   * `ruleConsidered` in src/policy/rule-scope.ts for a caller that is not known.
   */
  callers: string[] | null;
  /** An ask rule's terms of approval; null for allow and deny rules. */
  approval: ApprovalTerms | null;
  /**
   * The users it applies to elevated calls for; null: it applies to calls that do not elevate (a
   * deny rule: to every call). See `ruleForElevation` in src/policy/rule-scope.ts.
   */
  become: string[] | null;
}

/** A rule of `files:`: which paths may be read and written, where and by whom. */
export interface PolicyFileRule {
  /** Unique among command rules and file rules together: decisions and the audit name rules by name. */
  name: string;
  source: string;
  /** No ask: file operations cannot be approved yet. */
  action: 'allow' | 'deny';
  aliases: string[];
  tags: string[];
  /** As on command rules; null: every caller. */
  callers: string[] | null;
  /** As on command rules; null: calls that do not elevate (a deny rule: every call). */
  become: string[] | null;
  /** Path globs it allows or denies reading (listing a directory reads the directory). */
  read: string[];
  /** Path globs it allows or denies writing; writing does not imply reading. */
  write: string[];
  /** Allow rules: a cap on what they allow, below the host's max_file_bytes; null: none of its own. */
  maxFileBytes: number | null;
}

/** How an ask rule's commands get approved (the rule's approve_by, approval_timeout_seconds…). */
export interface ApprovalTerms {
  approveBy: 'client' | 'operator' | 'either';
  timeoutSeconds: number;
  fourEyes: boolean;
  /** Minutes an approval also covers the same command on the same host; null: used once. */
  grantMinutes: number | null;
}

const APPROVAL_KEYS = ['approve_by', 'approval_timeout_seconds', 'four_eyes', 'grant_minutes'] as const;

export interface PolicySet {
  files: string[];
  rules: PolicyRule[];
  /** The rules of every file's `files:`, in the order of the files. */
  fileRules: PolicyFileRule[];
  /** The policy-wide limits: the built-in defaults with `limits:` applied. */
  limits: Limits;
  /** The file that set each policy-wide limit; absent keys are built-in defaults. */
  limitsSetBy: Partial<Record<LimitKey, string>>;
  /** The policy-wide rate limits: the built-in defaults with `limits:` applied. */
  rateLimits: RateLimits;
  /** The file that set each policy-wide rate limit; absent keys are built-in defaults. */
  rateLimitsSetBy: Partial<Record<RateLimitKey, string>>;
  /** Tags and aliases set task limits and host rate limits; callers (a name, or `role:NAME`) rate limits. */
  overrides: { tags: Record<string, LimitsOverride>; aliases: Record<string, LimitsOverride>; callers: Record<string, CallerOverride> };
  network: NetworkPolicy;
  /** From the files only; the built-in list is added by the engine. */
  denySubstrings: string[];
  knownHostsPath?: string;
  hostKeyPolicy: 'strict' | 'accept-new';
  taskProgressInterval?: number;
  /** Directories a call may run in (`workdir`), as globs; none: a workdir is refused. */
  workdirs: { pattern: string; source: string }[];
  /** Environment variables a call may set (`env`); none: env is refused. */
  env: { name: string; source: string }[];
}

export function policyFiles(path: string): string[] {
  const files = yamlFilesAt(path);
  if (files.length === 0) {
    throw new ConfigError([
      { file: path, line: 1, col: 1, message: 'no policy files (*.yml) here; with no rules every command is denied' },
    ]);
  }
  return files;
}

export function loadPolicy(path: string): PolicySet {
  const sink = new IssueSink();
  const parsed: { file: YamlFile; data: PolicyFile }[] = [];
  for (const f of policyFiles(path)) {
    const file = readYamlFile(f, f, sink);
    if (!file) continue;
    const result = PolicyFileSchema.safeParse(file.data ?? {});
    if (result.success) parsed.push({ file, data: result.data });
    else sink.zod(file, [], result.error);
  }
  const merged = merge(parsed, sink);
  const patterns = merged.rules.reduce((n, r) => n + r.commands.length, 0);
  if (patterns > DEFAULTS.maxPolicyPatterns) {
    sink.whole(
      path,
      `the policy has ${patterns} command patterns (YAML aliases expanded); at most ${DEFAULTS.maxPolicyPatterns} are accepted`,
    );
  }
  if (sink.issues.length > 0) throw new ConfigError(sink.issues);
  return merged;
}

function merge(parsed: { file: YamlFile; data: PolicyFile }[], sink: IssueSink): PolicySet {
  const set: PolicySet = {
    files: parsed.map((p) => p.file.display),
    rules: [],
    fileRules: [],
    limits: { ...DEFAULTS.limits },
    limitsSetBy: {},
    rateLimits: { ...DEFAULTS.rateLimits },
    rateLimitsSetBy: {},
    overrides: { tags: {}, aliases: {}, callers: {} },
    network: { allow_cidrs: [], block_cidrs: [], allow_ips: [], block_ips: [] },
    denySubstrings: [],
    hostKeyPolicy: 'strict',
    workdirs: [],
    env: [],
  };
  // Where each single-valued setting was first given, to report a conflicting second one.
  const firstSeen = new Map<string, { value: unknown; where: string }>();
  const single = (file: YamlFile, path: (string | number)[], value: unknown): boolean => {
    const key = path.join('.');
    const seen = firstSeen.get(key);
    if (seen && JSON.stringify(seen.value) !== JSON.stringify(value)) {
      sink.at(file, path, `${key} is already set to ${JSON.stringify(seen.value)} in ${seen.where}; set it in one file only`);
      return false;
    }
    firstSeen.set(key, { value, where: file.display });
    return true;
  };

  for (const { file, data } of parsed) {
    const rules = data.rules;
    rules.forEach((rule, index) => {
      const pos = file.lines.linePos(nodeOffset(file, ['rules', index]));
      const what = rule.action === 'deny' ? 'a deny rule denies a command' : 'an ask rule asks for approval of a command';
      if (rule.stdin && rule.action !== 'allow') {
        sink.at(
          file,
          ['rules', index, 'stdin'],
          `${describePath(['rules', index, 'stdin'])}: stdin: true belongs on allow rules; ${what} with or without stdin (remove it)`,
        );
      }
      if (rule.tty && rule.action !== 'allow') {
        sink.at(
          file,
          ['rules', index, 'tty'],
          `${describePath(['rules', index, 'tty'])}: tty: true belongs on allow rules; ${what} with or without a terminal (remove it)`,
        );
      }
      for (const key of APPROVAL_KEYS) {
        if (rule[key] !== undefined && rule.action !== 'ask') {
          sink.at(
            file,
            ['rules', index, key],
            `${describePath(['rules', index, key])}: ${key} belongs on ask rules; ${rule.action === 'deny' ? 'a deny rule never runs a command' : 'an allow rule runs its commands without approval'} (remove it, or make the rule action: ask)`,
          );
        }
      }
      set.rules.push({
        name: rule.name ?? `${basename(file.display)}#${index + 1}`,
        source: `${file.display}:${pos.line}:${pos.col}`,
        action: rule.action,
        aliases: rule.aliases,
        tags: rule.tags,
        commands: rule.commands.map((c) => c.replace(/\s+/g, ' ').trim()),
        tty: rule.tty,
        stdin: rule.stdin,
        callers: rule.callers ?? null,
        approval:
          rule.action === 'ask'
            ? {
                approveBy: rule.approve_by ?? DEFAULTS.approval.approveBy,
                timeoutSeconds: rule.approval_timeout_seconds ?? DEFAULTS.approval.timeoutSeconds,
                fourEyes: rule.four_eyes ?? false,
                grantMinutes: rule.grant_minutes ?? null,
              }
            : null,
        become: rule.become === undefined ? null : [...new Set(typeof rule.become === 'string' ? [rule.become] : rule.become)],
      });
    });
    data.files.forEach((rule, index) => set.fileRules.push(fileRule(file, rule, index, sink)));
    const limits = data.limits;
    if (limits) {
      for (const key of Object.keys(DEFAULTS.limits) as LimitKey[]) {
        const value = limits[key];
        if (value !== undefined && single(file, ['limits', key], value)) {
          set.limits[key] = value;
          set.limitsSetBy[key] = file.display;
        }
      }
      for (const key of Object.keys(DEFAULTS.rateLimits) as RateLimitKey[]) {
        const value = limits[key];
        if (value !== undefined && single(file, ['limits', key], value)) {
          set.rateLimits[key] = value;
          set.rateLimitsSetBy[key] = file.display;
        }
      }
      set.denySubstrings.push(...limits.deny_substrings);
      if (
        limits.task_progress_interval !== undefined &&
        single(file, ['limits', 'task_progress_interval'], limits.task_progress_interval)
      ) {
        set.taskProgressInterval = limits.task_progress_interval;
      }
    }
    set.denySubstrings.push(...data.deny_substrings);
    const where = (path: (string | number)[]) => {
      const pos = file.lines.linePos(nodeOffset(file, path));
      return `${file.display}:${pos.line}:${pos.col}`;
    };
    data.workdirs.forEach((pattern, i) => set.workdirs.push({ pattern, source: where(['workdirs', i]) }));
    data.env.forEach((name, i) => set.env.push({ name, source: where(['env', i]) }));
    const overrides = <T>(kind: keyof PolicySet['overrides'], from: Record<string, T> | undefined, to: Record<string, T>) => {
      for (const [name, override] of Object.entries(from ?? {})) {
        if (single(file, ['overrides', kind, name], override)) to[name] = override;
      }
    };
    overrides('tags', data.overrides?.tags, set.overrides.tags);
    overrides('aliases', data.overrides?.aliases, set.overrides.aliases);
    overrides('callers', data.overrides?.callers, set.overrides.callers);
    if (data.network) {
      set.network.allow_cidrs.push(...data.network.allow_cidrs);
      set.network.block_cidrs.push(...data.network.block_cidrs);
      set.network.allow_ips.push(...data.network.allow_ips);
      set.network.block_ips.push(...data.network.block_ips);
    }
    if (data.known_hosts_path !== undefined) {
      // Relative to the policy file that names it, like every other path in the configuration:
      // an MCP client starts the server in a working directory of its own choosing (often /).
      const known = isAbsolute(data.known_hosts_path) ? data.known_hosts_path : resolve(dirname(file.display), data.known_hosts_path);
      if (single(file, ['known_hosts_path'], known)) set.knownHostsPath = known;
    }
    if (data.host_key_policy !== undefined && single(file, ['host_key_policy'], data.host_key_policy)) {
      set.hostKeyPolicy = data.host_key_policy;
    }
  }
  uniqueNames([...set.rules, ...set.fileRules], sink);
  return set;
}

/** One file rule as the engine reads it; `max_file_bytes` on a deny rule is reported to `sink`. */
function fileRule(file: YamlFile, rule: FileRule, index: number, sink: IssueSink): PolicyFileRule {
  const pos = file.lines.linePos(nodeOffset(file, ['files', index]));
  if (rule.max_file_bytes !== undefined && rule.action === 'deny') {
    const path = ['files', index, 'max_file_bytes'];
    sink.at(file, path, `${describePath(path)}: max_file_bytes belongs on allow rules; a deny rule allows no bytes at all (remove it)`);
  }
  return {
    name: rule.name ?? `${basename(file.display)}#files${index + 1}`,
    source: `${file.display}:${pos.line}:${pos.col}`,
    action: rule.action,
    aliases: rule.aliases,
    tags: rule.tags,
    callers: rule.callers ?? null,
    become: rule.become === undefined ? null : [...new Set(typeof rule.become === 'string' ? [rule.become] : rule.become)],
    read: rule.read,
    write: rule.write,
    maxFileBytes: rule.max_file_bytes ?? null,
  };
}

/**
 * Command rules and file rules share one name space: a decision, `plan` and the audit name a rule
 * by its name, and a reviewer should never have to ask which of two rules "nginx" is.
 */
function uniqueNames(rules: readonly { name: string; source: string }[], sink: IssueSink): void {
  const names = new Map<string, string>();
  for (const rule of rules) {
    const seen = names.get(rule.name);
    if (seen) {
      const [file, line, col] = splitSource(rule.source);
      sink.issues.push({
        file,
        line,
        col,
        message: `duplicate rule name "${rule.name}" (also at ${seen}); decisions name rules, so names must be unique among rules: and files: together`,
      });
    } else names.set(rule.name, rule.source);
  }
}

function nodeOffset(file: YamlFile, path: (string | number)[]): number {
  const node = file.doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
  return node?.range?.[0] ?? 0;
}

function splitSource(source: string): [string, number, number] {
  const m = /^(.*):(\d+):(\d+)$/.exec(source);
  return m ? [m[1] as string, Number(m[2]), Number(m[3])] : [source, 1, 1];
}
