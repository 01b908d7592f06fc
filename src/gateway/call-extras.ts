/**
 * What a call may give beside its command: data for the command's stdin, the directory it starts
 * in and environment variables. None of it is shell the engine has to parse: the directory and
 * the values are quoted into a fixed prelude, and a workdir or a variable is accepted only where
 * the policy lists it (`workdirs:`, `env:`). A command given a workdir is judged as one that
 * starts there: deny rules see its relative paths also under that directory.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { PolicySet } from '../config/load-policy.js';
import { clip, SshgateError } from '../errors.js';
import { globMatch } from '../glob.js';

/** The most a call may write to its command's stdin (an MCP message carries it whole). */
export const MAX_STDIN_BYTES = 524_288;

export interface CallInput {
  stdin?: string | undefined;
  workdir?: string | undefined;
  env?: Record<string, string> | undefined;
}

export interface CallExtras {
  /** Shell statements run before the command, in the pinned shell: exports, then the cd. */
  prelude: string;
  stdin?: Buffer;
  /** Where the command starts, when the call said. */
  workdir?: string;
  /** What the audit record says of them: sizes, a digest and names, never the values. */
  audit: Record<string, unknown>;
}

export function callExtras(policy: PolicySet, input: CallInput): CallExtras {
  const statements: string[] = [];
  const audit: Record<string, unknown> = {};
  const env = Object.entries(input.env ?? {});
  if (env.length > 0) {
    const listed = new Set(policy.env.map((e) => e.name));
    const refused = env.map(([name]) => name).filter((name) => !listed.has(name));
    if (refused.length > 0) {
      throw new SshgateError(
        'policy_denied',
        `the policy does not let a call set ${refused.map((n) => `"${clip(n)}"`).join(', ')}`,
        listed.size > 0
          ? `it lists: ${[...listed].join(', ')}`
          : 'the policy lists no variables (env:), so a call sets none; ask for them to be listed',
      );
    }
    for (const [name, value] of env) statements.push(`export ${name}=${shellWord(value)}`);
    audit.env_names = env.map(([name]) => name);
  }
  if (input.workdir !== undefined) {
    const dir = checkWorkdir(input.workdir);
    const rule = policy.workdirs.find((w) => globMatch(w.pattern, dir));
    if (!rule) {
      throw new SshgateError(
        'policy_denied',
        `the policy does not list "${clip(dir)}" as a workdir`,
        policy.workdirs.length > 0
          ? `it lists: ${policy.workdirs.map((w) => w.pattern).join(', ')}`
          : 'the policy lists no workdirs (workdirs:), so a call cannot give one; ask for it to be listed',
      );
    }
    statements.push(`cd -- ${shellWord(dir)} || exit 1`);
    audit.workdir = dir;
  }
  let stdin: Buffer | undefined;
  if (input.stdin !== undefined && input.stdin !== '') {
    stdin = Buffer.from(input.stdin, 'utf8');
    if (stdin.length > MAX_STDIN_BYTES) {
      throw new SshgateError(
        'invalid_input',
        `stdin is ${stdin.length} bytes; the limit is ${MAX_STDIN_BYTES}`,
        'copy large inputs to the host another way and run a command over them',
      );
    }
    audit.stdin_bytes = stdin.length;
    audit.stdin_sha256 = createHash('sha256').update(stdin).digest('hex');
  }
  return {
    prelude: statements.map((s) => `${s}; `).join(''),
    ...(stdin ? { stdin } : {}),
    ...(input.workdir !== undefined ? { workdir: input.workdir } : {}),
    audit,
  };
}

/** An absolute path in its one plain spelling: no `..`, `.`, `//` or trailing slash. */
function checkWorkdir(dir: string): string {
  const problem = !dir.startsWith('/')
    ? 'is not an absolute path'
    : [...dir].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
      ? 'contains a control character'
      : posix.normalize(dir) !== dir || (dir.length > 1 && dir.endsWith('/'))
        ? 'is not in its plain form (no "..", "." or "//", no trailing "/")'
        : dir.length > 4096
          ? 'is longer than 4096 characters'
          : undefined;
  if (problem)
    throw new SshgateError(
      'invalid_input',
      `workdir "${clip(dir)}" ${problem}`,
      'give the directory as an absolute path, such as /srv/app',
    );
  return dir;
}

/** A word the shell reads back as exactly `value`: bare when it is plain, else single-quoted. */
function shellWord(value: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
