/**
 * The state dir holds what a server keeps across a restart (the task journal, the day's command
 * counts). Whoever can write in it can put words in front of the agent or reset a quota, so the
 * dir and every file read from it must be this user's own and writable by no one else.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, statSync, type Stats } from 'node:fs';
import { SshgateError } from '../errors.js';

/** Creates the state dir (mode 0700) when it is missing, and refuses one that is not private. */
export function openStateDir(dir: string, risk: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  refuseUnlessPrivate(dir, statSync(dir), 'the state dir', risk);
}

/**
 * Refuses a state dir or state file that another user owns or that group or others can write.
 * `what` names it (`the state dir`, `the journal file`); `risk` says what another user could do
 * with it (`forge task records in it`).
 */
export function refuseUnlessPrivate(path: string, st: Stats, what: string, risk: string): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const dir = what === 'the state dir';
  if (!(dir ? st.isDirectory() : st.isFile())) {
    throw new SshgateError(
      'invalid_config',
      `${what} ${path} is not a ${dir ? 'directory' : 'regular file'}; not serving`,
      `remove ${quote(path)}, or give --state-dir another dir`,
    );
  }
  if (st.uid !== uid) {
    throw new SshgateError(
      'invalid_config',
      `${what} ${path} belongs to uid ${st.uid}, not to this user (uid ${uid}); another user could ${risk}, not serving`,
      `if it is this deployment's: chown ${uid} ${quote(path)}; or give --state-dir a dir of your own`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new SshgateError(
      'invalid_config',
      `${what} ${path} can be written by ${[st.mode & 0o020 ? 'its group' : '', st.mode & 0o002 ? 'others' : ''].filter(Boolean).join(' and ')} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}); another user could ${risk}, not serving`,
      `chmod go-w ${quote(path)}`,
    );
  }
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A path in a hint, quoted for a POSIX shell when it needs it. */
export function quote(path: string): string {
  return /^[\w./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
