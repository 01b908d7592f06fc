/**
 * An executor that runs a command in a local `sh -c`, in its own process group, and stops it the
 * way the SSH executor does: TERM to the group, KILL after a grace period. It lets the
 * TaskManager be tested with real processes and no SSH.
 */
import { spawn } from 'node:child_process';
import type { Executor } from '../../src/tasks/task-manager.js';

export function localExecutor(command: string, graceMs = 500): Executor {
  return ({ signal, stdout, stderr }) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return resolve({ exitCode: null, signal: 'TERM' });
      const child = spawn('sh', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', stdout);
      child.stderr.on('data', stderr);
      child.on('error', reject);
      let killer: NodeJS.Timeout | undefined;
      const stop = () => {
        try {
          process.kill(-(child.pid as number), 'SIGTERM');
        } catch {
          return;
        }
        killer = setTimeout(() => {
          try {
            process.kill(-(child.pid as number), 'SIGKILL');
          } catch {
            /* already gone */
          }
        }, graceMs);
      };
      signal.addEventListener('abort', stop, { once: true });
      child.on('close', (code, sig) => {
        clearTimeout(killer);
        signal.removeEventListener('abort', stop);
        resolve({ exitCode: code, signal: sig ? sig.replace(/^SIG/, '') : null });
      });
    });
}
