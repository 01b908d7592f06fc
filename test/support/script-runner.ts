/**
 * For the tests of sshgate's elevated file scripts without sudo or sshd: a ScriptRunner that runs
 * a script with this machine's /bin/sh as the "host", and a watcher that plays the other user of
 * the host, swapping a temp file of sshgate's for a symlink the moment it is closed after a read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ScriptRunner } from '../../src/ssh/elevated-files.js';

/** Runs a command as the pool would: output held while a sink's promise is pending, stdin given whole or fed. */
export function localScriptRunner(cwd: string, onSpawn?: (pid: number) => void): ScriptRunner {
  return (command, io) =>
    new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, cwd });
      if (child.pid !== undefined) onSpawn?.(child.pid);
      // As exec.ts does: a sink's promise holds the output until it settles, and the outcome waits for it.
      let held: Promise<unknown> = Promise.resolve();
      child.stdout.on('data', (d: Buffer) => {
        const h = io.stdout(d);
        if (h instanceof Promise) {
          child.stdout.pause();
          held = h.finally(() => child.stdout.resume());
        }
      });
      child.stderr.on('data', (d: Buffer) => void io.stderr(d));
      child.stdin.on('error', () => undefined);
      if (typeof io.stdin === 'function') {
        const stdin = child.stdin;
        void io
          .stdin((d) => new Promise<boolean>((r) => (stdin.write(d) ? r(true) : stdin.once('drain', () => r(true)))))
          .catch(() => undefined)
          .then(() => stdin.end());
      } else if (io.stdin) child.stdin.end(io.stdin);
      else child.stdin.end();
      child.on('error', reject);
      child.on('close', (code, signal) => void held.then(() => resolve({ exitCode: code, signal })));
    });
}

/** Python: watches DIR; the first temp file of sshgate's closed after a read (IN_CLOSE_NOWRITE) becomes a symlink to TEXT. */
const SWAPPER = `
import ctypes, os, struct, sys
d, text = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
libc.inotify_add_watch(fd, d.encode(), 0x10)  # IN_CLOSE_NOWRITE
print("ready", flush=True)
while True:
    buf = os.read(fd, 65536)
    i = 0
    while i < len(buf):
        _, mask, _, n = struct.unpack_from("iIII", buf, i)
        name = buf[i + 16:i + 16 + n].rstrip(b"\\0").decode()
        i += 16 + n
        if ".sshgate-" in name and name.endswith(".tmp"):
            s = os.path.join(d, ".swap")
            os.symlink(text, s)
            os.rename(s, os.path.join(d, name))
            print("swapped", flush=True)
            sys.exit(0)
`;

/** Starts the swapper on `dir` (as `user`, when given) and resolves once it watches. */
export function startTempSwapper(dir: string, linkText: string, user?: { uid: number; gid: number }): Promise<ChildProcess> {
  const child = spawn('/usr/bin/python3', ['-c', SWAPPER, dir, linkText], { ...user, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', () => resolve(child));
  });
}
