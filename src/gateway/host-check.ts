/**
 * What `sshgate check --connect` finds on one host, each step on the paths the tools take (the
 * pool's connection, its exec with the pinned interpreter and the cancel sweep, sudo as become
 * runs it, SFTP as the file tools open it):
 *
 * 1. reachable, and the handshake's time; 2. the host key verified against known_hosts (every
 *    hop's, through jump hosts); 3. the login, and which method the host accepted;
 * 4. the pinned interpreter (`shell:`) runs a command, and `$SHELL` as sshd set it is the login
 *    shell (read through /bin/sh when the pinned interpreter does not run);
 * 5. for every user a become rule on this host names (allow and ask rules, command and file
 *    rules): `true` run as that user, through sudo or doas as the credential configures it (with
 *    its password when it has one, else `sudo -n`);
 * 6. the SFTP subsystem opens and answers `realpath .`.
 *
 * A step that cannot be tried because an earlier one failed is `skipped`. Every command is
 * bounded and ends before the next starts; a stop (Ctrl-C) cancels the one running as a task's
 * cancel does, so nothing is left on the host.
 */
import { randomBytes } from 'node:crypto';
import type { Inventory } from '../config/load-inventory.js';
import { jumpChain } from '../config/load-inventory.js';
import type { HostEntry } from '../config/file-formats.js';
import type { PolicySet } from '../config/load-policy.js';
import { DEFAULTS } from '../defaults.js';
import { SshgateError } from '../errors.js';
import type { PolicyEngine } from '../policy/decide.js';
import { fileRulesFor } from '../policy/file-decision.js';
import { LoginRefused } from '../ssh/connect.js';
import { fingerprint, keyTypeOf } from '../ssh/host-keys.js';
import { PINNED } from '../ssh/interpreter.js';
import type { ConnectionPool, HostTarget } from '../ssh/pool.js';
import { targetFor, type TargetContext } from './targets.js';

/** ok; failed (the host fails the check); warning (reported, does not fail it); skipped (not tried). */
export type StepStatus = 'ok' | 'failed' | 'warning' | 'skipped';

export interface Step {
  status: StepStatus;
  /** Why it failed, was skipped or warns; never a secret. */
  error?: { code: string; message: string; hint?: string };
}

export interface HostCheck {
  alias: string;
  host: string;
  port: number;
  /** The jump hosts before it, first hop first. */
  jump_chain: string[];
  /** Every step ok (or a warning). */
  ok: boolean;
  reachable: Step & { handshake_ms?: number };
  host_key: Step & { key_type?: string; fingerprint?: string };
  login: Step & { method?: 'publickey' | 'agent' | 'password'; user?: string; credential: string };
  /** `$SHELL` as sshd set it for the session. */
  login_shell: Step & { path?: string };
  interpreter: Step & { shell: 'bash' | 'sh'; command: string };
  sudo: (Step & { user: string; method: 'sudo' | 'doas'; rules: string[] })[];
  /** failed when a file rule lets this host's files be read or written as the login user; else a warning. */
  sftp: Step & { needed: boolean };
}

export interface HostCheckDeps {
  inventory: Inventory;
  policy: PolicySet;
  engine: Pick<PolicyEngine, 'rulesFor'>;
  ctx: TargetContext;
  pool: ConnectionPool;
  /** Cancels the running step (Ctrl-C). */
  signal: AbortSignal;
  /** The longest one step may take; a handshake also stops at DEFAULTS.connectTimeoutSeconds. */
  stepMs?: number;
}

export async function checkHost(host: HostEntry, deps: HostCheckDeps): Promise<HostCheck> {
  const stepMs = deps.stepMs ?? 15_000;
  const skipped = (why: string): Step => ({ status: 'skipped', error: { code: 'skipped', message: why } });
  const becomeUsers = becomeUsersFor(host, deps);
  const needsSftp = fileRulesFor(deps.policy, host).some((r) => r.action === 'allow' && r.become === null);
  const report: HostCheck = {
    alias: host.alias,
    host: host.host,
    port: host.port,
    jump_chain: jumpChain(deps.inventory, host.alias).slice(0, -1),
    ok: false,
    reachable: skipped('an earlier step failed'),
    host_key: skipped('an earlier step failed'),
    login: { ...skipped('an earlier step failed'), credential: host.credentials },
    login_shell: skipped('an earlier step failed'),
    interpreter: { ...skipped('an earlier step failed'), shell: host.shell, command: PINNED[host.shell] },
    sudo: [],
    sftp: { ...skipped('an earlier step failed'), needed: needsSftp },
  };
  const sudoSkipped = (why: string, method: 'sudo' | 'doas') =>
    (report.sudo = [...becomeUsers].map(([user, rules]) => ({ ...skipped(why), user, method, rules })));
  sudoSkipped('an earlier step failed', 'sudo');

  let target: HostTarget;
  try {
    target = targetFor(host, deps.ctx);
  } catch (err) {
    report.login = { status: 'failed', error: errorOf(err), credential: host.credentials };
    return done(report);
  }
  report.login = { ...skipped('an earlier step failed'), credential: host.credentials, user: target.auth.username };
  const method = target.become?.method ?? 'sudo';
  sudoSkipped('an earlier step failed', method);

  try {
    const deadline = Date.now() + Math.min(stepMs, DEFAULTS.connectTimeoutSeconds * 1000) * (report.jump_chain.length + 1);
    const made = await deps.pool.login(target, deps.signal, deadline);
    report.reachable = { status: 'ok', handshake_ms: Math.round(made.latencyMs * 10) / 10 };
    report.host_key = { status: 'ok', key_type: keyTypeOf(made.hostKey), fingerprint: fingerprint(made.hostKey) };
    report.login = { status: 'ok', credential: host.credentials, user: target.auth.username, method: made.authMethod };
  } catch (err) {
    const e = errorOf(err);
    if (e.code === 'host_key_mismatch' || e.code === 'host_key_unknown') {
      report.reachable = { status: 'ok' };
      report.host_key = { status: 'failed', error: e };
    } else if (err instanceof LoginRefused) {
      report.reachable = { status: 'ok' };
      report.host_key = { status: 'ok' };
      report.login = { status: 'failed', error: e, credential: host.credentials, user: target.auth.username };
    } else {
      report.reachable = { status: 'failed', error: e };
    }
    return done(report);
  }

  // The pinned interpreter, and the login shell it inherits in $SHELL.
  const probe = await shellProbe(target, deps, stepMs);
  if (probe.ran) {
    report.interpreter = { status: 'ok', shell: host.shell, command: PINNED[host.shell] };
    report.login_shell = { status: 'ok', path: probe.loginShell };
  } else {
    report.interpreter = {
      shell: host.shell,
      command: PINNED[host.shell],
      status: 'failed',
      error: {
        code: probe.error.code,
        message: `the pinned interpreter (shell: ${host.shell}, ${PINNED[host.shell]}) did not run a command: ${probe.error.message}`,
        hint:
          host.shell === 'bash'
            ? 'every command runs under it: install bash on the host, or pin shell: sh for it in servers.yml'
            : 'every command runs under /bin/sh: check the account (its login shell must run "exec /bin/sh -c …")',
      },
    };
    const fallback = host.shell === 'bash' ? await shellProbe({ ...target, shell: 'sh' }, deps, stepMs) : probe;
    report.login_shell = fallback.ran
      ? { status: 'ok', path: fallback.loginShell }
      : {
          status: 'failed',
          error: { code: fallback.error.code, message: `unknown: the login shell ran neither ${PINNED.bash} nor /bin/sh` },
        };
  }

  if (probe.ran) {
    for (const s of report.sudo) {
      let error: Step['error'];
      try {
        const out = await run(target, 'true', deps, stepMs, { ...(target.become ?? { method }), user: s.user });
        if (out.exitCode !== 0) error = exitError(out);
      } catch (err) {
        error = errorOf(err);
      }
      s.status = error ? 'failed' : 'ok';
      if (error) s.error = error;
      else delete s.error;
    }
  } else {
    sudoSkipped('elevated commands run under the pinned interpreter, which did not run', method);
  }

  try {
    await deps.pool.files(target, { signal: deps.signal, deadline: Date.now() + stepMs }, (files) => files.realpath('.'));
    report.sftp = { status: 'ok', needed: needsSftp };
  } catch (err) {
    const e = errorOf(err);
    report.sftp = {
      status: needsSftp ? 'failed' : 'warning',
      needed: needsSftp,
      error: {
        ...e,
        hint: needsSftp
          ? 'the file tools need the SFTP subsystem: add "Subsystem sftp internal-sftp" (or the sftp-server path) to sshd_config'
          : 'no file rule lets this host be read or written over SFTP, so nothing needs it yet',
      },
    };
  }
  return done(report);
}

/** Users that become rules applying to the host name, each with those rules' names. */
function becomeUsersFor(host: HostEntry, deps: HostCheckDeps): Map<string, string[]> {
  const users = new Map<string, string[]>();
  const rules = [...deps.engine.rulesFor(host), ...fileRulesFor(deps.policy, host)];
  for (const r of rules) {
    if (r.action === 'deny' || r.become === null) continue;
    for (const u of r.become) users.set(u, [...(users.get(u) ?? []), r.name]);
  }
  return users;
}

type Probe = { ran: true; loginShell: string } | { ran: false; error: { code: string; message: string; hint?: string } };

/** `echo NONCE "$SHELL"` under the target's pinned interpreter: whether it ran, and the login shell. */
async function shellProbe(target: HostTarget, deps: HostCheckDeps, stepMs: number): Promise<Probe> {
  const nonce = `sshgate-check-${randomBytes(8).toString('hex')}`;
  try {
    const out = await run(target, `echo ${nonce} "$SHELL"`, deps, stepMs);
    const line = out.stdout.split('\n').find((l) => l.startsWith(`${nonce} `));
    if (out.exitCode === 0 && line !== undefined) return { ran: true, loginShell: printable(line.slice(nonce.length + 1)) };
    return { ran: false, error: exitError(out) };
  } catch (err) {
    return { ran: false, error: errorOf(err) };
  }
}

interface RunOutput {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** One short command on the pooled connection, as a task runs it; output kept to a few KiB. */
async function run(
  target: HostTarget,
  command: string,
  deps: HostCheckDeps,
  stepMs: number,
  become?: { method: 'sudo' | 'doas'; password?: string; user: string },
): Promise<RunOutput> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const keep = (into: Buffer[]) => (d: Buffer) => void (into.reduce((n, b) => n + b.length, 0) < 4096 && into.push(d));
  const step = new AbortController();
  const timer = setTimeout(() => step.abort('timed_out'), stepMs);
  try {
    const outcome = await deps.pool.exec(target, command, {
      signal: AbortSignal.any([deps.signal, step.signal]),
      deadline: Date.now() + stepMs,
      stdout: keep(out),
      stderr: keep(err),
      ...(become ? { become } : {}),
    });
    if (step.signal.aborted)
      throw new SshgateError('timeout', `the check did not finish within ${stepMs / 1000} s`, 'the host is slow or hangs');
    if (outcome.lost) throw new SshgateError('lost', outcome.lost, 'the connection dropped: run the check again');
    return {
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    };
  } finally {
    clearTimeout(timer);
  }
}

function exitError(out: RunOutput): { code: string; message: string } {
  const said = printable(out.stderr.split('\n').find((l) => l.trim() !== '') ?? '');
  const how = out.signal !== null ? `killed by ${out.signal}` : `exit status ${out.exitCode ?? 'unknown'}`;
  return { code: 'connect_failed', message: `${how}${said ? `: ${said}` : ''}` };
}

function errorOf(err: unknown): { code: string; message: string; hint?: string } {
  if (err instanceof SshgateError) return err.toJSON();
  return { code: 'internal', message: 'the check failed unexpectedly' };
}

/** What the host printed, made safe to show: control characters out, at most 200 characters. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

function done(report: HostCheck): HostCheck {
  const steps: Step[] = [report.reachable, report.host_key, report.login, report.interpreter, ...report.sudo, report.sftp];
  report.ok = steps.every((s) => s.status === 'ok' || s.status === 'warning');
  return report;
}
