/** Every error sshgate reports carries one of these codes; clients and scripts branch on them. */
export const ERROR_CODES = [
  'invalid_input',
  'invalid_config',
  'unknown_host',
  'policy_denied',
  'host_key_mismatch',
  'host_key_unknown',
  'connect_failed',
  'timeout',
  'not_found',
  'lost',
  'busy',
  'unauthorized',
  'rate_limited',
  'approval_denied',
  'approval_timeout',
  'forbidden',
  'become_failed',
  'cancelled',
  'file_changed',
  'file_exists',
  'file_too_large',
  'not_a_file',
  'permission_denied',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class SshgateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'SshgateError';
  }

  toJSON(): { code: ErrorCode; message: string; hint?: string } {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }
}

/**
 * A call or command refused by a rate limit or a quota of its principal. The message names the
 * limit, the hint says when to retry, and `retry_after_seconds` says it for a program: the wait,
 * in whole seconds, after which the same call would not be refused by any limit that refused it.
 */
export class RateLimitedError extends SshgateError {
  constructor(
    message: string,
    hint: string,
    readonly retryAfterSeconds: number,
  ) {
    super('rate_limited', message, hint);
    this.name = 'RateLimitedError';
  }

  override toJSON(): { code: ErrorCode; message: string; hint?: string; retry_after_seconds: number } {
    return { ...super.toJSON(), retry_after_seconds: this.retryAfterSeconds };
  }
}

/** One problem in one file, located for a person to fix: `servers.yml:12:5: unknown key "prot"`. */
export interface FileIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatIssue(issue: FileIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}: ${issue.message}`;
}

/** A configuration that failed to load; it lists every issue found, not only the first. */
export class ConfigError extends SshgateError {
  constructor(readonly issues: FileIssue[]) {
    super(
      'invalid_config',
      `${issues.length} problem${issues.length === 1 ? '' : 's'} in the configuration:\n` +
        issues.map((i) => `  ${formatIssue(i)}`).join('\n'),
      'fix the files named above; nothing was loaded',
    );
    this.name = 'ConfigError';
  }
}

/** A caller's value quoted in a message: long enough to recognise, never a flood. */
export function clip(s: string): string {
  return s.length > 120 ? `${whole(s, 120)}…` : s;
}

/**
 * The first `max` UTF-16 units of `s`, or one fewer where the cut would split a surrogate pair:
 * a lone half is no character, and strict JSON parsers (serde_json) refuse the whole message.
 */
export function whole(s: string, max: number): string {
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** A word of a command in a hint, quoted for a POSIX shell when it needs it: `chmod 600 'my keys/id'`. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A text an agent wrote, for a person to judge (an approval request): JSON-quoted, so a newline
 * cannot start a line of its own, with the invisible and bidi formatting characters (U+202E, U+200B,
 * U+2028…) that JSON leaves as they are escaped too, so what is shown is what runs.
 */
export function quotedForReview(text: string): string {
  return JSON.stringify(text).replace(/[\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/gu, (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`);
}
