/**
 * The shapes of every file sshgate reads. Types used elsewhere are inferred from these schemas,
 * so a field is described exactly once.
 */
import { isIP } from 'node:net';
import { posix } from 'node:path';
import { z } from 'zod';
import { closest } from './suggest.js';

/**
 * An object that rejects unknown keys and says which keys it does know, with the one each unknown
 * key was likely meant to be, or what `unknown` says about the keys it was given.
 */
function strict<T extends z.ZodRawShape>(shape: T, unknown?: (keys: string[]) => string | undefined) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? (unknown?.(issue.keys) ?? `${suggestKeys(issue.keys, keys)}expected one of: ${keys.join(', ')}`)
        : undefined,
  });
}

/** `did you mean "commands"? ` for one unknown key; for several, each near one with the key it was likely meant to be. */
function suggestKeys(unknown: readonly string[], known: readonly string[]): string {
  const meant = unknown.flatMap((k) => {
    const c = closest(k, known);
    return c === undefined ? [] : [{ k, c }];
  });
  if (meant.length === 0) return '';
  if (unknown.length === 1) return `did you mean "${meant[0]?.c}"? `;
  return `did you mean ${meant.map(({ k, c }) => `"${c}" for "${k}"`).join(', ')}? `;
}

/** mcp-ssh-orchestrator files write `""` for "not set"; treat it as absent. */
function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === '' || v === null ? undefined : v), schema.optional());
}

const NAME_RE = /^[A-Za-z0-9._-]{1,100}$/;
const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;
// C0 controls (tab excepted), DEL and C1 controls: never meaningful in a name, a pattern or a path.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

export const Alias = z.string().regex(NAME_RE, 'an alias is 1 to 100 of the characters A-Z a-z 0-9 . _ -');
export const Tag = z.string().regex(NAME_RE, 'a tag is 1 to 100 of the characters A-Z a-z 0-9 . _ -');
/** Every host of the inventory, where a call names hosts by tag: "@all", or "*". */
export const ALL_HOSTS = ['@all', '*'] as const;
/** A tag, or one of ALL_HOSTS: what a call may name hosts by. */
export const TargetTag = z
  .string()
  .regex(/^(@all|\*|[A-Za-z0-9._-]{1,100})$/, 'a tag is 1 to 100 of the characters A-Z a-z 0-9 . _ -, or "@all" (or "*") for every host');
export const SecretName = z.string().regex(NAME_RE, 'a secret name is 1 to 100 of the characters A-Z a-z 0-9 . _ -');
const Text = (what: string, max: number) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} is longer than ${max} characters`)
    .refine((s) => !CONTROL_RE.test(s), `${what} must not contain control characters`);

/**
 * A name whose last label is a number (`010.0.0.11`, `2130706433`, `0x7f.1`) is no host name (no
 * top-level domain is numeric), but the system resolver reads it as an IPv4 address in octal, hex
 * or one number: somewhere other than it looks, past the network policy's checks on names.
 */
const NUMERIC_LAST_LABEL_RE = /(?:^|\.)(?:0x[0-9a-f]*|[0-9]+)\.?$/i;

const Address = z
  .string()
  .refine((s) => isIP(s) !== 0 || HOSTNAME_RE.test(s), 'expected a host name or an IPv4/IPv6 address (no brackets, no port)')
  .refine(
    (s) => isIP(s) !== 0 || !NUMERIC_LAST_LABEL_RE.test(s),
    'not an address in the usual dotted form, and a host name cannot end in a number: write the IPv4 address as four decimal numbers without leading zeros',
  );

// ---------------------------------------------------------------- config/servers.yml

/** The shell that runs a host's commands, whatever the account's login shell is. */
export const HostShell = z.enum(['bash', 'sh'], {
  error: 'expected bash (commands run under /bin/bash --noprofile --norc) or sh (under /bin/sh)',
});
export type HostShell = z.infer<typeof HostShell>;

export const HostEntry = strict({
  alias: Alias,
  host: Address,
  port: z.int().min(1).max(65535).default(22),
  user: optional(Text('user', 100)),
  credentials: SecretName,
  tags: z.array(Tag).default([]),
  description: z.string().max(1000).default(''),
  jump: optional(Alias),
  shell: HostShell.default('bash'),
});
export type HostEntry = z.infer<typeof HostEntry>;

export const ServersFile = strict({ hosts: z.array(z.unknown()) });

// ---------------------------------------------------------------- config/credentials.yml

export const CredentialEntry = strict({
  name: SecretName,
  username: optional(Text('username', 100)),
  key_path: optional(Text('key_path', 4096)),
  key_passphrase_secret: optional(SecretName),
  /** The key's OpenSSH user certificate, under the keys dir; absent: `<key_path>-cert.pub` when that file exists. */
  certificate_path: optional(Text('certificate_path', 4096)),
  password_secret: optional(SecretName),
  agent: z.boolean().default(false),
  /** How a call elevates (`become`): sudo (default), or doas for passwordless rules only. */
  become_method: optional(z.enum(['sudo', 'doas'], { error: 'expected sudo or doas' })),
  /** The target user's sudo password, resolved as password_secret is; absent: passwordless (sudo -n). */
  become_password_secret: optional(SecretName),
});
export type CredentialEntry = z.infer<typeof CredentialEntry>;

export const CredentialsFile = strict({ entries: z.array(z.unknown()) });

// ---------------------------------------------------------------- principals, in rules and cases

/**
 * A principal's name as rules and cases write it: ASCII only, so that a look-alike letter (a
 * Cyrillic `а` in `аlice`) is refused rather than naming someone else. Compared exactly, case included.
 */
export const CALLER_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._@+-]{0,99}$/;
/** A role's name, as in `role:ops`. */
export const ROLE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const CALLER_NAME_RULE = '1 to 100 of A-Z a-z 0-9 . _ @ + -, not starting with . @ + or -';
const ROLE_NAME_RULE = '1 to 100 of A-Z a-z 0-9 . _ -, not starting with . or -';

/** A string for a message: its start, quoted, with every character outside printable ASCII as a \u escape. */
function shown(s: string): string {
  const chars = [...s];
  const start = chars.length > 60 ? `${chars.slice(0, 60).join('')}…` : s;
  return JSON.stringify(start).replace(/[^\x20-\x7e]/gu, (c) => (c === '…' ? c : `\\u{${(c.codePointAt(0) as number).toString(16)}}`));
}

/** Why `name` is not a principal's name, or undefined when it is one. */
export function callerNameProblem(name: string): string | undefined {
  if (CALLER_NAME_RE.test(name)) return undefined;
  if (/[^\x20-\x7e]/u.test(name))
    return `${shown(name)} is not a name: a name is ${CALLER_NAME_RULE} (a letter outside ASCII could pass for another name)`;
  return `${shown(name)} is not a name: a name is ${CALLER_NAME_RULE}`;
}

/** Why `role` is not a role's name, or undefined when it is one. */
export function roleNameProblem(role: string): string | undefined {
  if (ROLE_NAME_RE.test(role)) return undefined;
  if (role.startsWith('role:')) return `${shown(role)}: give the role's name alone (ops, not role:ops)`;
  return `${shown(role)} is not a role: a role is ${ROLE_NAME_RULE}`;
}

/** Why an entry of a rule's `callers:` is neither a principal's name nor `role:NAME`, or undefined. */
export function callerEntryProblem(entry: string): string | undefined {
  if (entry.startsWith('role:')) {
    const role = entry.slice('role:'.length);
    if (role === '') return '"role:" needs the name of a role after it, as in role:ops';
    if (ROLE_NAME_RE.test(role)) return undefined;
    return `${shown(entry)}: ${shown(role)} is not a role: a role is ${ROLE_NAME_RULE}`;
  }
  if (/[*?]/.test(entry))
    return `${shown(entry)}: callers are names and roles, not globs; leave callers: out for a rule that applies to everyone`;
  if (entry.includes(':')) return `${shown(entry)}: the only prefix is role: (in lower case), as in role:ops; a name has no colon`;
  return callerNameProblem(entry);
}

/**
 * A user a call may elevate to (`become:`): a login name as useradd accepts it, so that nothing
 * sudo or doas would read another way (`#0`, `%group`, `-u`, `root;id`, `../x`) reaches them.
 */
export const BECOME_USER_RE = /^[A-Za-z_][A-Za-z0-9._-]{0,31}$/;
const BECOME_USER_RULE = '1 to 32 of A-Z a-z 0-9 . _ -, starting with a letter or _';

/** Why `user` is not a user a call may elevate to, or undefined when it is one. */
export function becomeUserProblem(user: string): string | undefined {
  if (BECOME_USER_RE.test(user)) return undefined;
  if (/[*?]/.test(user)) return `${shown(user)}: become names users, not globs; list each user (become: [root, postgres])`;
  return `${shown(user)} is not a user name: a user is ${BECOME_USER_RULE}`;
}

export const BecomeUser = z.string().superRefine((s, ctx) => {
  const problem = becomeUserProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const CallerName = z.string().superRefine((s, ctx) => {
  const problem = callerNameProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
export const RoleName = z.string().superRefine((s, ctx) => {
  const problem = roleNameProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const CallerEntry = z.string().superRefine((s, ctx) => {
  const problem = callerEntryProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

// ---------------------------------------------------------------- policies/*.yml

const Seconds = z.int().min(1).max(86_400);
/** The largest max_file_bytes a policy may give: 1 TiB. */
export const MAX_FILE_BYTES = 1_099_511_627_776;
const FILE_BYTES_RANGE = `max_file_bytes is a whole number of bytes from 1 to 1 TiB (${MAX_FILE_BYTES})`;
const FileBytes = z.int(FILE_BYTES_RANGE).min(1, FILE_BYTES_RANGE).max(MAX_FILE_BYTES, FILE_BYTES_RANGE);
const LimitValues = {
  max_seconds: Seconds.optional(),
  max_output_bytes: z.int().min(1024).max(1_073_741_824).optional(),
  max_concurrent_per_host: z.int().min(1).max(256).optional(),
  task_result_ttl: z.int().min(1).max(604_800).optional(),
  /** The size cap of a file operation on the host (files: rules); 1 byte to 1 TiB. */
  max_file_bytes: FileBytes.optional(),
};
/** Per principal: its tool calls (a token bucket) and the commands it starts (per UTC day). */
const PrincipalRateValues = {
  calls_per_minute: z.int().min(1).max(1_000_000).optional(),
  commands_per_day: z.int().min(1).max(100_000_000).optional(),
};
/** Per principal on one host: the commands it starts there. */
const HostRateValues = {
  host_commands_per_minute: z.int().min(1).max(1_000_000).optional(),
  host_commands_per_day: z.int().min(1).max(100_000_000).optional(),
};
const PRINCIPAL_RATE_KEYS = Object.keys(PrincipalRateValues);

/** What a tag or an alias may set: the task limits, and the rate limits of a principal on the host. */
export const LimitsOverride = strict({ ...LimitValues, ...HostRateValues }, (keys) => {
  const key = keys.find((k) => PRINCIPAL_RATE_KEYS.includes(k));
  return key === undefined
    ? undefined
    : `${key} counts a principal's calls or commands on every host, so a tag or an alias cannot set it: set it in limits: or overrides.callers (host_commands_per_minute and host_commands_per_day count per host)`;
});
export type LimitsOverride = z.infer<typeof LimitsOverride>;

/** What a principal or role may be given: its own rate limits. */
export const CallerOverride = strict({ ...PrincipalRateValues, ...HostRateValues });
export type CallerOverride = z.infer<typeof CallerOverride>;
/**
 * Keyed by a principal's name, or by `role:NAME` for every principal with that role: written and
 * checked as the entries of a rule's `callers:` are.
 */
const CallerOverrides = z.record(z.string(), CallerOverride).superRefine((callers, ctx) => {
  for (const key of Object.keys(callers)) {
    const problem = /[*?]/.test(key)
      ? `${JSON.stringify(key)}: callers are names and roles, not globs; limits: sets a limit for every caller`
      : callerEntryProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
  }
});

export const CommandPattern = Text('a command pattern', 1000);
export const DenySubstrings = z.array(Text('a deny substring', 1000)).default([]);

export const PolicyLimits = strict({
  ...LimitValues,
  ...PrincipalRateValues,
  ...HostRateValues,
  deny_substrings: DenySubstrings,
  task_progress_interval: z.number().positive().max(3600).optional(),
  host_key_auto_add: z
    .literal(false, {
      error:
        'sshgate never adds host keys silently: set host_key_auto_add to false (or remove it); ' +
        'use host_key_policy: accept-new to record the keys of new hosts',
    })
    .optional(),
  require_known_host: z
    .literal(true, {
      error: 'sshgate always requires a known host key: set require_known_host to true (or remove it)',
    })
    .optional(),
});

const RuleCallers = z
  .array(CallerEntry)
  .min(1, 'callers: [] would apply the rule to no one; name principals or roles (role:ops), or leave callers: out for everyone')
  .optional();
const RuleBecome = z
  .union([BecomeUser, z.array(BecomeUser).min(1, 'become: [] would apply the rule to no call; name users, or leave become: out')])
  .optional();

/** A command rule given a file rule's keys was meant for files:. */
function commandRuleUnknownKeys(keys: string[]): string | undefined {
  const key = keys.find((k) => k === 'read' || k === 'write' || k === 'max_file_bytes');
  return key === undefined ? undefined : `${key} belongs to file rules: list the rule under files:, not rules: (docs/policy.md)`;
}

export const Rule = strict(
  {
    name: optional(Text('a rule name', 200)),
    description: z.string().max(2000).optional(),
    action: z.enum(['allow', 'ask', 'deny']),
    aliases: z.array(Text('an alias glob', 200)).default([]),
    tags: z.array(Text('a tag glob', 200)).default([]),
    commands: z.array(CommandPattern).min(1, 'a rule needs at least one command pattern'),
    /** An allow rule with `tty: true` also lets its commands run with a terminal (`tty: true` in ssh_run). */
    tty: z.boolean().default(false),
    /** An allow rule with `stdin: true` also lets a call give its commands data on stdin (`stdin` in ssh_run). */
    stdin: z.boolean().default(false),
    /**
     * The principals (by name) and roles (`role:NAME`) the rule applies to; absent: everyone. A rule
     * whose callers do not name the caller is not considered, allow and deny alike.
     */
    callers: RuleCallers,
    /**
     * Ask rules only: who may approve (`client`: the agent's MCP client asks its user by elicitation,
     * an operator when it cannot; `operator`: only out of band; `either`: both, the first answer counts).
     */
    approve_by: z.enum(['client', 'operator', 'either']).optional(),
    /** Ask rules only: unanswered this long, the request is refused (approval_timeout). */
    approval_timeout_seconds: z.int().min(5).max(86_400).optional(),
    /** Ask rules only: the approver must be another principal than the one who asked. */
    four_eyes: z.boolean().optional(),
    /** Ask rules only: an approval also covers the same command on the same host for this long. */
    grant_minutes: z.int().min(1).max(1440).optional(),
    /**
     * The users a call may elevate to under this rule (`become: root`, `become: [root, postgres]`).
     * An allow or ask rule with it applies only to calls that elevate to one of them, one without it
     * only to calls that do not; a deny rule without it applies to every call.
     */
    become: RuleBecome,
  },
  commandRuleUnknownKeys,
);
export type Rule = z.infer<typeof Rule>;

// ---------------------------------------------------------------- files: paths and file rules

/** The longest path a file operation takes, in UTF-8 bytes: Linux's PATH_MAX. */
export const MAX_PATH_BYTES = 4096;
/**
 * Every C0 control (tab included), DEL and the C1 controls: no file name a person means; and the
 * format characters (Unicode Cf: bidi controls such as U+202E, zero-width joiners) and the line and
 * paragraph separators, which reorder or split what a reviewer reads in the audit file and plan output.
 */
// eslint-disable-next-line no-control-regex
const PATH_CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\p{Cf}]/u;

/** What is wrong with how a path is written, and what to write instead. */
export interface PathSpelling {
  /** Completes "the path "…" …": `has a ".." component`. */
  problem: string;
  /** What to write instead: `write the path it leads to ("/etc/shadow")`. */
  fix: string;
}

/**
 * Why `path` (a file rule's pattern or a caller's path) is not written the one way sshgate judges
 * paths, or undefined when it is. A path is judged as written and never resolved here, so every
 * spelling that names a file some other way (`..`, `.`, `//`, a trailing `/`) is refused rather than
 * normalised: a rule then sees exactly the path the host is asked for.
 */
export function pathSpellingProblem(path: string): PathSpelling | undefined {
  if (path === '') return { problem: 'is empty', fix: 'give an absolute path, such as "/etc/hosts"' };
  if (path.includes('\0')) return { problem: 'contains a NUL byte', fix: 'no file name contains NUL; remove it' };
  if (/\p{Cs}/u.test(path)) {
    return {
      problem: 'contains a lone surrogate (an unpaired \\uD800-\\uDFFF escape)',
      fix: 'no file name holds one: it would be sent as U+FFFD, another name than the one judged; give the name as real characters',
    };
  }
  const control = PATH_CONTROL_RE.exec(path);
  if (control) {
    const code = (control[0].codePointAt(0) as number).toString(16).padStart(2, '0');
    return {
      problem: `contains a control or format character (U+${code.toUpperCase().padStart(4, '0')}) at offset ${control.index}`,
      fix: 'remove it; sshgate takes no file name with control, format (bidi) or line-separator characters',
    };
  }
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes > MAX_PATH_BYTES) return { problem: `is ${bytes} bytes long; the limit is ${MAX_PATH_BYTES}`, fix: 'give a shorter path' };
  if (!path.startsWith('/')) return { problem: 'is not absolute', fix: `write it from the root (${shown(`/${path}`)})` };
  if (path === '/') return undefined;
  const parts = path.slice(1).split('/');
  const joined = (kept: string[]) => `/${kept.join('/')}`;
  if (parts.includes('..')) {
    const resolved = posix.normalize(path);
    return {
      problem: 'has a ".." component',
      fix: `paths are judged as written, never resolved: write the path it leads to (${shown(resolved)})`,
    };
  }
  if (parts.includes('.'))
    return { problem: 'has a "." component', fix: `write it without (${shown(joined(parts.filter((c) => c !== '.')))})` };
  if (parts.at(-1) === '') {
    const dir = path.replace(/\/+$/, '');
    return {
      problem: 'ends in "/"',
      fix: `write ${shown(dir || '/')} for the directory itself${dir ? ` (${shown(`${dir}/*`)} for what is under it)` : ''}`,
    };
  }
  if (parts.includes(''))
    return { problem: 'has an empty component ("//")', fix: `write one "/" (${shown(joined(parts.filter((c) => c !== '')))})` };
  return undefined;
}

/** A file rule's path glob: an absolute path written the one way, with `*` and `?` as in commands. */
export const FilePathPattern = z.string().superRefine((s, ctx) => {
  const p = pathSpellingProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: `the path pattern ${shown(s)} ${p.problem}: ${p.fix}` });
});

const FILE_ASK =
  'file operations cannot be approved yet: a file rule is allow or deny (make it deny, or allow it for some callers: with callers:)';
export const FileRule = strict(
  {
    name: optional(Text('a rule name', 200)),
    description: z.string().max(2000).optional(),
    action: z.enum(['allow', 'deny'], {
      error: (issue) => (issue.input === 'ask' ? FILE_ASK : 'expected allow or deny'),
    }),
    aliases: z.array(Text('an alias glob', 200)).default([]),
    tags: z.array(Text('a tag glob', 200)).default([]),
    callers: RuleCallers,
    /** Paths it allows (or denies) reading, a directory's listing included. */
    read: z.array(FilePathPattern).default([]),
    /** Paths it allows (or denies) writing: creating, replacing, editing. Reading is not implied. */
    write: z.array(FilePathPattern).default([]),
    /** As on command rules: allow rules apply only to calls elevating to these users. */
    become: RuleBecome,
    /** Allow rules only: a cap, below the host's max_file_bytes, on what this rule allows. */
    max_file_bytes: FileBytes.optional(),
  },
  (keys) => (keys.includes('commands') ? 'commands belong to command rules: list the rule under rules:, not files:' : undefined),
).refine((r) => r.read.length + r.write.length > 0, 'a file rule needs at least one path pattern in read: or write:');
export type FileRule = z.infer<typeof FileRule>;

const Cidr = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  if (addr === undefined || bits === undefined || extra !== undefined || !/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(addr);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}, 'expected a CIDR block such as 10.0.0.0/8 or fd00::/8');
const Ip = z.string().refine((s) => isIP(s) !== 0, 'expected an IPv4 or IPv6 address');

export const NetworkPolicy = strict({
  allow_cidrs: z.array(Cidr).default([]),
  block_cidrs: z.array(Cidr).default([]),
  allow_ips: z.array(Ip).default([]),
  block_ips: z.array(Ip).default([]),
  require_known_host: z
    .literal(true, {
      error: 'sshgate always requires a known host key: set require_known_host to true (or remove it)',
    })
    .optional(),
});
export type NetworkPolicy = z.infer<typeof NetworkPolicy>;

/**
 * Variables that change how the pinned shell itself reads the script, or which program a name
 * runs: with one of them set by the caller, the engine's judgement would no longer hold.
 */
export const SHELL_ENV_NAMES = new Set([
  'PATH',
  'IFS',
  'ENV',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  'PROMPT_COMMAND',
  'CDPATH',
  'GLOBIGNORE',
  'HOME',
  'SHELL',
  'POSIXLY_CORRECT',
  'EXECIGNORE',
  // The C library's own: what it loads or how it resolves, whatever program runs.
  'GCONV_PATH',
  'GLIBC_TUNABLES',
  'LOCPATH',
  'NLSPATH',
  'HOSTALIASES',
  'RESOLV_HOST_CONF',
]);
/** Name prefixes refused the same way: every BASH_ variable (BASH_ENV, BASH_CMDS, BASH_ALIASES…), the loaders'. */
export const SHELL_ENV_PREFIXES = /^(LD_|DYLD_|BASH_)/;
const EnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name is letters, digits and _, not starting with a digit')
  .refine((n) => !SHELL_ENV_NAMES.has(n) && !SHELL_ENV_PREFIXES.test(n), {
    error: (issue) =>
      `${String(issue.input)} changes how the shell reads the command or which program runs, so the policy could not judge the command any more; it cannot be listed`,
  });
const WorkdirGlob = Text('a workdir glob', 1000).refine(
  (g) => g.startsWith('/'),
  'a workdir glob is an absolute path, such as /srv/* or /var/log',
);

export const PolicyFile = strict({
  known_hosts_path: optional(Text('known_hosts_path', 4096)),
  workdirs: z.array(WorkdirGlob).default([]).describe('directories a call may give as workdir'),
  env: z.array(EnvName).default([]).describe('environment variables a call may set'),
  host_key_policy: z.enum(['strict', 'accept-new']).optional(),
  limits: PolicyLimits.optional(),
  rules: z.array(Rule).default([]),
  files: z.array(FileRule).default([]),
  overrides: strict({
    tags: z.record(z.string(), LimitsOverride).default({}),
    aliases: z.record(z.string(), LimitsOverride).default({}),
    callers: CallerOverrides.default({}),
  }).optional(),
  network: NetworkPolicy.optional(),
  deny_substrings: DenySubstrings,
});
export type PolicyFile = z.infer<typeof PolicyFile>;

// ---------------------------------------------------------------- policies/tests/*.yml

const CASE_KINDS = 'a case gives one of command:, read: or write:';

export const PolicyCase = strict({
  name: optional(Text('a case name', 200)),
  alias: Alias,
  tags: z.array(Tag).optional(),
  command: z.string().max(1_000_000).optional(),
  /** A file case: the path is read (a directory's is listed). Decided as ssh_read_file and ssh_list_dir are. */
  read: z.string().max(1_000_000).optional(),
  /** A file case: the path is written. */
  write: z.string().max(1_000_000).optional(),
  /** The command asks for a terminal: `allow` then means allowed with one. */
  tty: z.boolean().optional(),
  /** The principal the command is decided for; without it, for no principal. */
  as: CallerName.optional(),
  /** The roles of that principal, as `callers: [role:NAME]` names them. */
  roles: z.array(RoleName).optional(),
  /** The call elevates to this user (`become` of ssh_run); without it, it does not elevate. */
  become: BecomeUser.optional(),
  expect: z.enum(['allow', 'ask', 'deny']),
})
  .refine((c) => c.roles === undefined || c.as !== undefined, {
    message: 'roles: belong to a principal: give its name with as: (as: alice, roles: [ops])',
    path: ['roles'],
  })
  .refine((c) => [c.command, c.read, c.write].filter((v) => v !== undefined).length === 1, {
    message: `${CASE_KINDS} (command: "uptime", read: /etc/hosts or write: /etc/motd), exactly one`,
  })
  .refine((c) => c.command !== undefined || c.expect !== 'ask', {
    message: 'a file case expects allow or deny: file operations cannot be approved yet',
    path: ['expect'],
  })
  .refine((c) => c.command !== undefined || c.tty === undefined, {
    message: 'only a command case asks for a terminal: a file operation has none (remove tty:)',
    path: ['tty'],
  });
export type PolicyCase = z.infer<typeof PolicyCase>;

export const PolicyCasesFile = z.array(PolicyCase);

// ---------------------------------------------------------------- the tokens file (serve --http)

const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * The instant `2027-01-01` (its start, UTC) or `2027-01-01T12:00:00+02:00` (a time needs its zone)
 * stands for, in ms since the epoch; undefined for anything else, an impossible date included
 * (Date.parse reads 2027-02-30 as March 2).
 */
export function timestampOf(s: string): number | undefined {
  const m = TIMESTAMP_RE.exec(s);
  if (!m) return undefined;
  const n = (i: number) => Number(m[i] ?? 0);
  const [year, month, day, hour, minute, second] = [n(1), n(2), n(3), n(4), n(5), n(6)];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const valid = month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour < 24 && minute < 60 && second < 60;
  const ms = Date.parse(s);
  return valid && !Number.isNaN(ms) ? ms : undefined;
}

const TOKEN_HASH = "expected the 64 lowercase hex digits of the token's SHA-256 as a string, as `sshgate token new` prints them";

export const TokenEntry = strict({
  id: z.string().regex(NAME_RE, 'a token id is 1 to 100 of the characters A-Z a-z 0-9 . _ -'),
  principal: CallerName,
  roles: z.array(RoleName).max(100, 'at most 100 roles').default([]),
  sha256: z.string({ error: TOKEN_HASH }).regex(/^[0-9a-f]{64}$/, TOKEN_HASH),
  expires: optional(
    z
      .string()
      .refine(
        (s) => timestampOf(s) !== undefined,
        'expected a date (2027-01-31, meaning its start in UTC) or a date and time with its zone (2027-01-31T18:00:00Z)',
      ),
  ),
  description: z.string().max(1000).optional(),
});
export type TokenEntry = z.infer<typeof TokenEntry>;

export const TokensFile = strict({ tokens: z.array(z.unknown()) });
