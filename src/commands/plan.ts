/**
 * `sshgate plan ALIAS|@TAG -- COMMAND` (or `--read PATH`, `--write PATH`): what the policy decides,
 * and why, without running anything.
 */
import type { HostEntry } from '../config/file-formats.js';
import { selectHosts } from '../config/select-hosts.js';
import { SshgateError } from '../errors.js';
import type { PolicyEngine } from '../policy/decide.js';
import { callerLabel, type Decision, type FileAccess, type FileDecision } from '../policy/decision.js';
import { effectiveLimits } from '../policy/limits.js';
import { decideFileForHost, decideForHost } from '../policy/host-decision.js';
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
  const selected = await targets(paths, target, io);
  if (typeof selected === 'number') return selected;
  const { engine, hosts } = selected;
  const decisions = hosts.map((h) => decideForHost(engine, h, command, { principal, ...(become !== undefined ? { become } : {}) }));
  const verdict = decisions.some((d) => d.verdict === 'deny') ? 'deny' : decisions.every((d) => d.allowed) ? 'allow' : 'ask';
  // Without a principal, the caller is worth a line only where some rule names callers.
  const showCaller = principal !== undefined || engine.policy.rules.some((r) => r.callers !== null);
  return report(io, target, hosts, decisions, {
    json,
    verdict,
    tagFields: { tty_allowed: decisions.every((d) => d.tty_allowed) },
    text: (d, host) => formatDecision(d, effectiveLimits(engine.policy, host).sources, showCaller),
  });
}

/**
 * `sshgate plan ALIAS|@TAG --read PATH` (or `--write PATH`): what the file rules decide for that
 * operation, as the file tools would decide it for the path the caller gives.
 */
export async function planFileCommand(
  paths: Paths,
  target: string,
  file: { access: FileAccess; path: string },
  json: boolean,
  io: Io,
  principal?: Principal,
  become?: string,
): Promise<number> {
  const selected = await targets(paths, target, io);
  if (typeof selected === 'number') return selected;
  const { engine, hosts } = selected;
  const request = { ...file, principal, ...(become !== undefined ? { become } : {}) };
  const decisions = hosts.map((h) => decideFileForHost(engine, h, request));
  const showCaller = principal !== undefined || engine.policy.fileRules.some((r) => r.callers !== null);
  return report(io, target, hosts, decisions, {
    json,
    verdict: decisions.every((d) => d.allowed) ? 'allow' : 'deny',
    text: (d, host) => {
      const limits = effectiveLimits(engine.policy, host);
      return formatFileDecision(d, { value: limits.values.max_file_bytes, source: limits.sources.max_file_bytes }, showCaller);
    },
  });
}

/**
 * Prints the decisions — as JSON, the one host's decision or a tag's verdict with all of them, or
 * as a block of text per host — and returns the exit status: allowed only if every host allows.
 */
function report<D extends { allowed: boolean }>(
  io: Io,
  target: string,
  hosts: HostEntry[],
  decisions: D[],
  output: { json: boolean; verdict: string; tagFields?: Record<string, unknown>; text: (d: D, host: HostEntry) => string },
): number {
  const allowed = decisions.every((d) => d.allowed);
  if (output.json) {
    const body = target.startsWith('@')
      ? { verdict: output.verdict, allowed, ...output.tagFields, targets: hosts.map((h) => h.alias), decisions }
      : decisions[0];
    io.out(`${JSON.stringify(body, null, 2)}\n`);
  } else for (const [i, d] of decisions.entries()) io.out(output.text(d, hosts[i] as HostEntry));
  return allowed ? PLAN_EXIT.allowed : PLAN_EXIT.denied;
}

/** The engine and the hosts a target names, or the exit status when it cannot be planned for. */
async function targets(paths: Paths, target: string, io: Io): Promise<{ engine: PolicyEngine; hosts: HostEntry[] } | number> {
  let loaded;
  try {
    loaded = await loadAll(paths);
  } catch (err) {
    if (reportConfigError(io, err)) return PLAN_EXIT.usage;
    throw err;
  }
  try {
    const hosts = selectHosts(loaded.inventory, target.startsWith('@') ? { tag: target.slice(1) } : { alias: target });
    return { engine: loaded.engine, hosts };
  } catch (err) {
    if (!(err instanceof SshgateError)) throw err;
    reportError(io, err);
    return PLAN_EXIT.usage;
  }
}

/**
 * `web1: ALLOW read "/etc/nginx/nginx.conf" — allowed by rule …`, the rules that matched, the
 * caller, and the size cap with where it came from (`hostCap`: the host's own, and its source).
 */
export function formatFileDecision(d: FileDecision, hostCap?: { value: number; source: string }, showCaller = d.caller !== null): string {
  const as = d.become !== null ? ` (become ${d.become})` : '';
  const lines = [`${d.alias}: ${d.verdict.toUpperCase()} ${d.access} ${JSON.stringify(d.path)}${as} — ${d.reason}`];
  for (const r of d.matched_rules) lines.push(`  ${r.action.padEnd(5)}  rule "${r.name}" [${r.source}]`);
  if (showCaller)
    lines.push(
      `  caller: ${d.caller ? callerLabel(d.caller) : 'none given (allow rules with callers: do not apply to it, deny rules with callers: do)'}`,
    );
  if (d.allowed && hostCap) {
    const from = d.max_file_bytes < hostCap.value ? `a rule's cap; the host's is ${hostCap.value} (${hostCap.source})` : hostCap.source;
    lines.push(`  max_file_bytes: ${d.max_file_bytes} (${from})`);
  }
  return `${lines.join('\n')}\n`;
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
