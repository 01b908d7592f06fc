/**
 * The exec request for a script, such that it runs under one known shell whatever the account's
 * login shell is. sshd hands the request to the login shell as `<login shell> -c <request>`, and
 * sh, bash, zsh, fish and csh each read a command line their own way; the policy judged the
 * script as bash or POSIX sh would. So the login shell gets a line that every one of them reads
 * alike, and the script itself travels base64-encoded:
 *
 *   exec /bin/sh -c '<decoder>' sh '<base64>' '<base64>' …
 *
 * (or, for a plain script, `exec /bin/bash --noprofile --norc -c -- '<script>' bash`: see PLAIN).
 *
 * The login shell sees `exec`, four bare words and single-quoted words. Inside single quotes,
 * sh, dash, bash, ksh, mksh and zsh take every character literally; fish treats only `\\` and
 * `\'` as escapes; csh and tcsh still expand `!` (history) and refuse a newline. The quoted
 * parts hold none of `'`, `\`, `!` or a newline: the decoder is the fixed text below, and the
 * script is base64 (A-Z a-z 0-9 + / =). The decoder does use `$` and `"`, which are literal
 * inside single quotes in all of these shells; no form without them was found that keeps the
 * script's stdin, exit status and `-c` semantics (command substitution is the only way to turn
 * bytes into an argument, and its result must be quoted).
 *
 * bsd-csh refuses a word longer than about 8 KiB ("Word too long"), so the base64 is split into
 * words of at most CHUNK characters; the decoder joins them again.
 *
 * The decoder, run by /bin/sh, decodes the words and `exec`s the pinned shell with the script as
 * its `-c` argument and `bash` or `sh` as its `$0` (what sshd gives a login shell). Both steps
 * `exec`, so the pinned shell keeps the pid sshd started, which leads the command's session (the
 * pid sweep depends on it). stdin is not touched: the script reads the channel's, as before.
 * Command substitution drops trailing newlines, so a `.` is encoded after the script and taken
 * off after decoding: the script arrives byte for byte. If base64 is missing or fails, nothing
 * runs and the exit status is 127, with a message on stderr.
 */
import type { HostShell } from '../config/file-formats.js';

export type { HostShell };

/**
 * The system's directories, where sshgate's own steps look for the tools they run (sudo, doas,
 * openssl, sha256sum), whatever the login account's start files put in PATH.
 */
export const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** The pinned interpreter of each shell, as its command line starts. */
export const PINNED: Record<HostShell, string> = {
  bash: '/bin/bash --noprofile --norc',
  sh: '/bin/sh',
};

/** Half of bsd-csh's longest word, and short enough for any shell's line buffer. */
const CHUNK = 4000;

/**
 * A script of printable ASCII without `'`, `\` or `!` is read the same by every one of these
 * login shells when it stands between single quotes (`$`, `"`, `#`, backquotes, `;`, `|`, `*`
 * and the rest are all literal there; bsd-csh may mangle bytes above 0x7f). Such a script, the
 * usual one-line command, is sent as it is: no decoder and no base64 process on the host.
 */
const PLAIN = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;

/** The exit status when the script could not be decoded (as for a command not found). */
export const DECODE_FAILED_STATUS = 127;

export function pinnedCommand(shell: HostShell, script: string): string {
  // `--` ends the pinned shell's options: a script that starts with "-" is the script, not an option.
  if (script.length <= CHUNK && PLAIN.test(script) && !script.includes('!')) return `exec ${PINNED[shell]} -c -- '${script}' ${shell}`;
  const encoded = Buffer.from(`${script}.`, 'utf8').toString('base64');
  const words: string[] = [];
  for (let i = 0; i < encoded.length; i += CHUNK) words.push(`'${encoded.slice(i, i + CHUNK)}'`);
  const decoder =
    `s=$(printf %s "$@" | base64 -d) || ` +
    `{ echo "sshgate: base64 -d failed on this host, so the command did not run" >&2; exit ${DECODE_FAILED_STATUS}; }; ` +
    `exec ${PINNED[shell]} -c -- "\${s%.}" ${shell}`;
  return `exec /bin/sh -c '${decoder}' sh ${words.join(' ')}`;
}

/**
 * A word that sh (and bash, dash, ksh, zsh) reads back as exactly `s`, whatever it holds: single
 * quotes make every byte literal, and a quote inside is closed, escaped and reopened.
 */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
