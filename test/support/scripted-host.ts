/**
 * A scripted fleet for the in-process tool tests. It stands where the connection pool stands (the
 * gateway's HostExecutor): each command is answered with the output and exit status the test
 * scripted, a command that is stopped (cancel, timeout) ends as the real one does — with signal
 * TERM once its abort signal fires — and every call is recorded as the pool received it.
 * Nothing here decides anything: the gateway, the policy and the task manager above it are real.
 */
import { SshgateError } from '../../src/errors.js';
import type { HostExecutor } from '../../src/gateway/host-executor.js';
import type { ExecOutcome } from '../../src/ssh/exec.js';
import type { HostTarget, PoolExecOptions } from '../../src/ssh/pool.js';

/** One thing a scripted command does: write to a stream, or wait so many milliseconds. */
export type Step = { stdout: string | Buffer } | { stderr: string | Buffer } | { wait: number };

export interface Reply {
  /** What the command does, in order. */
  steps?: Step[];
  /** How it ends after its steps (0 by default). */
  exitCode?: number;
  /** Or killed by a signal (exitCode is then null). */
  signal?: string;
  /** Runs on after its steps until it is stopped (ssh_cancel, its time limit, shutdown). */
  hang?: boolean;
  /** The connection closed under it: how it ended is unknown. */
  lost?: string;
  /** It never started: the exec rejects with this (a refused login, a host that is down). */
  refuse?: SshgateError;
}

export interface ExecCall {
  alias: string;
  host: string;
  port: number;
  user: string;
  /** As the gateway sent it: the call's prelude (exports, then the cd), then the command. */
  command: string;
  /** What the command would read on stdin, when the call gave any. */
  stdin?: string;
  tty?: 'strip' | 'keep';
  /** The user it was to run as (become), and how. */
  become?: { user: string; method: 'sudo' | 'doas'; password: boolean };
  graceMs?: number;
  deadline: number;
  /** The abort's reason (cancelled, timed_out, shutdown), once the call's signal fired. */
  aborted?: string;
  /** How it ended, once it has. */
  outcome?: ExecOutcome;
}

export type Script = (call: ExecCall) => Reply;

const SILENT_SUCCESS: Script = () => ({});

export class ScriptedHosts implements HostExecutor {
  /** Every exec, in the order asked. */
  readonly calls: ExecCall[] = [];
  /** The alias of every ping, in the order asked. */
  readonly pings: string[] = [];
  /** How often retireAll was called (once per reload). */
  retired = 0;
  private answer: Script = SILENT_SUCCESS;
  private readonly down = new Map<string, SshgateError>();

  /** How every following command is answered; by default each succeeds without output. */
  script(answer: Script): void {
    this.answer = answer;
  }

  /** The host refuses logins from now on (exec and ping), with a connect_failed error. */
  takeDown(alias: string): void {
    this.down.set(
      alias,
      new SshgateError('connect_failed', `connecting to host "${alias}" failed: connection refused`, 'check that sshd runs there'),
    );
  }

  /** Every host up, the default answer back, nothing recorded. */
  reset(): void {
    this.answer = SILENT_SUCCESS;
    this.down.clear();
    this.calls.length = 0;
    this.pings.length = 0;
    this.retired = 0;
  }

  /** The calls made to one host. */
  callsTo(alias: string): ExecCall[] {
    return this.calls.filter((c) => c.alias === alias);
  }

  async exec(target: HostTarget, command: string, o: PoolExecOptions): Promise<ExecOutcome> {
    const call: ExecCall = {
      alias: target.alias,
      host: target.host,
      port: target.port,
      user: target.auth.username,
      command,
      deadline: o.deadline,
      ...(o.stdin ? { stdin: o.stdin.toString('utf8') } : {}),
      ...(o.tty ? { tty: o.tty.ansi } : {}),
      ...(o.become ? { become: { user: o.become.user, method: o.become.method, password: o.become.password !== undefined } } : {}),
      ...(o.graceMs !== undefined ? { graceMs: o.graceMs } : {}),
    };
    this.calls.push(call);
    const refused = this.down.get(target.alias);
    if (refused) throw refused;
    const reply = this.answer(call);
    if (reply.refuse) throw reply.refuse;
    const end = (outcome: ExecOutcome) => ((call.outcome = outcome), outcome);
    // As execOnConnection: a task stopped before its channel opened never ran.
    if (o.signal.aborted) return end({ exitCode: null, signal: null });
    const stopped = new Promise<void>((resolve) =>
      o.signal.addEventListener(
        'abort',
        () => {
          call.aborted = String(o.signal.reason);
          resolve();
        },
        { once: true },
      ),
    );
    // Stopped: the command got TERM and ended by it, as OpenSSH reports a signalled command.
    const terminated = () => end({ exitCode: null, signal: 'TERM' });
    for (const step of reply.steps ?? []) {
      if ('wait' in step) {
        if (await interrupted(step.wait, stopped)) return terminated();
      } else if ('stdout' in step) {
        await o.stdout(Buffer.from(step.stdout));
      } else {
        await o.stderr(Buffer.from(step.stderr));
      }
    }
    if (reply.hang) {
      await stopped;
      return terminated();
    }
    if (o.signal.aborted) return terminated();
    // A lost connection brought no exit status, as on a real one.
    if (reply.lost) return end({ exitCode: null, signal: null, lost: reply.lost });
    return end({ exitCode: reply.signal ? null : (reply.exitCode ?? 0), signal: reply.signal ?? null });
  }

  /** File operations are not scripted here: they run against a real sshd (test/e2e/sftp.test.ts). */
  files<T>(target: HostTarget): Promise<T> {
    return Promise.reject(
      new SshgateError('internal', `file operations on host "${target.alias}" are not scripted`, 'test files against a real sshd fleet'),
    );
  }

  ping(target: HostTarget, signal: AbortSignal): Promise<number> {
    this.pings.push(target.alias);
    const refused = this.down.get(target.alias);
    if (refused) return Promise.reject(refused);
    if (signal.aborted)
      return Promise.reject(
        new SshgateError('timeout', `connecting to host "${target.alias}" was abandoned`, 'the task was cancelled or ran out of time'),
      );
    return Promise.resolve(1.25);
  }

  retireAll(): void {
    this.retired++;
  }
}

/** Waits `ms`; true when `stopped` settled first. */
async function interrupted(ms: number, stopped: Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const slept = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([slept, stopped.then(() => true as const)]);
  clearTimeout(timer);
  return result;
}
