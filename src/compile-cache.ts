/**
 * Node's module compile cache (`module.enableCompileCache`, Node ≥ 22.1): V8's code for every
 * module a start compiles is kept on disk, and the next start reads it instead of compiling the
 * sources again. Node 20 has no such cache and starts as before.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;
type Enable = (directory: string) => { status: number; message?: string; directory?: string };

/**
 * Where sshgate keeps it: $XDG_CACHE_HOME/sshgate/compile-cache, else under ~/.cache; none when
 * there is no home. Not Node's default under the shared /tmp: V8 runs the code it finds there, so
 * the directory must be one no other user can write. NODE_COMPILE_CACHE (Node's own variable)
 * names another; the Docker image's is made when the image is built.
 */
export function compileCacheDir(env: Env): string | undefined {
  const base = env.XDG_CACHE_HOME ? env.XDG_CACHE_HOME : env.HOME ? join(env.HOME, '.cache') : undefined;
  return base === undefined ? undefined : join(base, 'sshgate', 'compile-cache');
}

/**
 * Turns the cache on for the modules loaded from now on, where Node has it. Node enabled it itself
 * at start when NODE_COMPILE_CACHE is set, and NODE_DISABLE_COMPILE_CACHE turns it off. A directory
 * that cannot be made, or that is not the user's own and private, is left alone: the cache is an
 * optimisation, and a start without it is only slower.
 */
export function enableCompileCache(env: Env, enable = nodeEnable()): string | undefined {
  if (!enable || env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const dir = compileCacheDir(env);
  if (dir === undefined || !privateDir(dir)) return undefined;
  return enable(dir).directory;
}

function nodeEnable(): Enable | undefined {
  return (module as unknown as { enableCompileCache?: Enable }).enableCompileCache;
}

/** Whether `dir` is (made if need be) a directory of this user that no one else can write. */
function privateDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}
