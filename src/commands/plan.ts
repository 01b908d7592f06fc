/** `sshgate plan ALIAS|@TAG -- COMMAND`: what the policy decides, and why, without running anything. */
import type { HostEntry } from '../config/file-formats.js';
import { selectHosts } from '../config/select-hosts.js';
import { SshgateError } from '../errors.js';
import { callerLabel, type Decision } from '../policy/decision.js';
import { effectiveLimits } from '../policy/limits.js';
import { decideForHost } from '../policy/host-decision.js';
import type { Principal } from '../principal.js';
import { loadAll, reportConfigError, reportError, type Io, type Paths } from './context.js';

/** A command that needs approval (ask) may not run as it is: it exits as denied. */
export const PLAN_EXIT = { allowed: 0, denied: 1, usage: 2 } as const;

/**
 * `principal`: who to decide for (`--as`, `--role`); without one, for a caller that is not known.
 * `become`: the user the call elevates to (`--become`); without it, a call that does not elevate.
 */
export async function planCommand(
  paths: Paths,
  target: string,
  command: string,
  json: boolean,
  io: Io,
  principal?: Principal,
  become?: string,
): Promise<number> {
  let loaded;
  try {
    loaded = await loadAll(paths);
  } catch (err) {
    if (reportConfigError(io, err)) return PLAN_EXIT.usage;
    throw err;
  }
  const { inventory, engine } = loaded;
  let hosts: HostEntry[];
  try {
    hosts = selectHosts(inventory, target.startsWith('@') ? { tag: target.slice(1) } : { alias: target });
  } catch (err) {
    if (!(err instanceof SshgateError)) throw err;
    reportError(io, err);
    return PLAN_EXIT.usage;
  }
  const decisions = hosts.map((h) => decideForHost(engine, h, command, { principal, ...(become !== undefined ? { become } : {}) }));
  const allowed = decisions.every((d) => d.allowed);
  const verdict = decisions.some((d) => d.verdict === 'deny') ? 'deny' : allowed ? 'allow' : 'ask';
  if (json) {
    const body = target.startsWith('@')
      ? { verdict, allowed, tty_allowed: decisions.every((d) => d.tty_allowed), targets: hosts.map((h) => h.alias), decisions }
      : decisions[0];
    io.out(`${JSON.stringify(body, null, 2)}\n`);
  } else {
    // Without a principal, the caller is worth a line only where some rule names callers.
    const showCaller = principal !== undefined || engine.policy.rules.some((r) => r.callers !== null);
    for (const [i, d] of decisions.entries())
      io.out(formatDecision(d, effectiveLimits(engine.policy, hosts[i] as HostEntry).sources, showCaller));
  }
  return allowed ? PLAN_EXIT.allowed : PLAN_EXIT.denied;
}

export function formatDecision(d: Decision, sources?: Record<string, string>, showCaller = d.caller !== null): string {
  const as = d.become !== null ? ` (become ${d.become})` : '';
  const lines = [`${d.alias}: ${d.verdict.toUpperCase()}${d.tty_allowed ? ' (tty too)' : ''}${as} — ${d.reason}`];
  for (const s of d.segments) {
    const where = s.source ? ` [${s.source}]` : '';
    lines.push(`  ${s.verdict.padEnd(5)}  ${s.nested ? '(inside) ' : ''}${s.text}${s.tty ? '  (tty)' : ''}`);
    lines.push(`         ${s.reason}${where}`);
  }
  if (showCaller)
    lines.push(
      `  caller: ${d.caller ? callerLabel(d.caller) : 'none given (allow rules with callers: do not apply to it, deny rules with callers: do)'}`,
    );
  if (d.approval) {
    const a = d.approval;
    lines.push(
      `  approval: by ${a.approve_by}, within ${a.timeout_seconds} s${a.four_eyes ? ', four eyes (not by the caller)' : ''}${a.grant_minutes !== null ? `, grants ${a.grant_minutes} min` : ', once'}`,
    );
  }
  const limits = Object.entries(d.limits).map(([k, v]) => `${k} ${v}${sources?.[k] ? ` (${sources[k]})` : ''}`);
  lines.push(`  limits: ${limits.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
