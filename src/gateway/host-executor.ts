/**
 * What the gateway asks of the SSH side, and nothing more: run a command on a target, reach its
 * files, time a login, and stop reusing what was opened under an old configuration. The connection pool of
 * src/ssh meets it as it is (it does not know this interface); the in-process tool tests hand
 * the gateway a scripted host instead, so that every tool runs without sshd.
 *
 * The types it speaks in (HostTarget, PoolExecOptions, ExecOutcome) stay in src/ssh: the pool
 * declares its own methods with them and may not import src/gateway (docs/architecture-layers.md),
 * and a target is SSH through and through (credentials, host keys, jump hops). Defined here, they
 * would have to be declared twice or the layers reversed.
 */
import type { ExecOutcome } from '../ssh/exec.js';
import type { FilesOptions, HostTarget, PoolExecOptions } from '../ssh/pool.js';
import type { RemoteFiles } from '../ssh/remote-files.js';

export interface HostExecutor {
  /**
   * Runs `command` on the target; resolves when it has ended. When `options.signal` fires, it
   * stops the command (TERM, KILL after `graceMs`) and resolves with how it ended.
   */
  exec(target: HostTarget, command: string, options: PoolExecOptions): Promise<ExecOutcome>;
  /**
   * Runs `work` with the target's files: over one SFTP channel, closed when `work` is done, or with
   * `x.become` as that user through sshgate's fixed scripts. When `x.signal` fires or the deadline
   * passes, pending file operations reject with a `timeout` error and the temp files of writes are
   * removed.
   */
  files<T>(target: HostTarget, x: FilesOptions, work: (files: RemoteFiles) => Promise<T>): Promise<T>;
  /** Logs in to the target without running anything; resolves with the handshake's milliseconds. */
  ping(target: HostTarget, signal: AbortSignal, deadline: number): Promise<number>;
  /** After a reload: nothing opened under the old configuration takes new work. */
  retireAll(): void;
}
