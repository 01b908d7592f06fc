/**
 * The transfer root (`serve --transfer-root DIR`): the one local directory ssh_put_file reads from
 * and ssh_get_file writes to. Checked once at start, so that serve refuses to run with a root
 * another user could reach into or that would expose sshgate's own files: a real directory (not a
 * symlink), owned by the user sshgate runs as, with no group or other permission bits, and apart
 * from (neither inside nor around) the config, keys, secrets, policy and state dirs.
 */
import { lstatSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { shellQuote as quoted, SshgateError } from '../errors.js';

/** A directory the root may not overlap, by what it is called in a message. */
export interface GuardedDir {
  name: string;
  path: string;
}

/** The root as an absolute, real path; an invalid_config error naming what is wrong otherwise. */
export function checkTransferRoot(dir: string, guarded: readonly GuardedDir[], uid: number | undefined = process.getuid?.()): string {
  const shown = JSON.stringify(dir);
  const fail = (what: string, hint: string) => new SshgateError('invalid_config', `the transfer root ${shown} ${what}`, hint);
  const chmodHint = `chmod 700 ${quoted(dir)}`;
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    throw fail(`cannot be used (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, `create it: mkdir -m 700 ${quoted(dir)}`);
  }
  if (st.isSymbolicLink()) throw fail('is a symlink', 'give the directory it points to, after checking who controls it');
  if (!st.isDirectory()) throw fail('is not a directory', `create a directory for transfers: mkdir -m 700 ${quoted(dir)}`);
  if (uid !== undefined && st.uid !== uid)
    throw fail(`is owned by uid ${st.uid}, not by the user sshgate runs as (uid ${uid})`, `chown it to that user, then ${chmodHint}`);
  if ((st.mode & 0o077) !== 0)
    throw fail(`has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: others than its owner may use it`, chmodHint);
  const root = realpathSync(dir);
  for (const g of guarded) {
    const other = real(g.path);
    if (within(root, other) || within(other, root))
      throw fail(
        `overlaps the ${g.name} (${other})`,
        `give a directory of its own, apart from the ${g.name}: transfers must never reach sshgate's own files`,
      );
  }
  return root;
}

/** `inner` is `outer` or below it. */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

/** The real path of a directory that may not exist yet (then as written, made absolute). */
function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return isAbsolute(path) ? path : resolve(path);
  }
}
