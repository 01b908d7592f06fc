/** Policy unit tests: the cases of policies/tests/*.yml, run against a policy and an inventory. */
import type { LocatedCase } from '../config/load-cases.js';
import type { Inventory } from '../config/load-inventory.js';
import type { HostEntry, PolicyCase } from '../config/file-formats.js';
import { didYouMean } from '../config/suggest.js';
import type { Principal } from '../principal.js';
import type { PolicyEngine } from './decide.js';
import { callerLabel, type Decision, type FileAccess, type FileDecision, type Verdict } from './decision.js';
import { decideFileForHost, decideForHost, ttyRefusal } from './host-decision.js';

export interface CaseResult {
  case: LocatedCase;
  passed: boolean;
  /** A command case's decision; absent when the case names a host that does not exist. */
  decision?: Decision;
  /** A file case's decision (read: or write:); absent when the case names a host that does not exist. */
  fileDecision?: FileDecision;
  /** The answer the case got: with `tty: true`, whether the command may run with a terminal (allow or deny). */
  got?: Verdict;
  /** Why it was denied (for a tty case, why not with a terminal). */
  reason?: string;
  problem?: string;
}

export function runCase(engine: PolicyEngine, inventory: Inventory, c: LocatedCase): CaseResult {
  const meant = didYouMean(c.alias, inventory.byAlias.keys());
  const missing = `alias "${c.alias}" is not in the inventory${meant ? ` (${meant})` : ''} (give tags: to describe a host that is not)`;
  if (caseFile(c)) {
    const fileDecision = decideFileCaseFor(engine, inventory, c, casePrincipal(c));
    if (!fileDecision) return { case: c, passed: false, problem: missing };
    const got = fileDecision.verdict;
    return { case: c, passed: got === c.expect, fileDecision, got, reason: fileDecision.reason };
  }
  const decision = decideCase(engine, inventory, c);
  if (!decision) return { case: c, passed: false, problem: missing };
  // A case with `tty: true` asks for a terminal: allowed means allowed with one (an ask rule never gives one).
  const got = c.tty ? (decision.tty_allowed ? 'allow' : 'deny') : decision.verdict;
  const reason = (c.tty ? ttyRefusal(decision) : undefined) ?? decision.reason;
  return { case: c, passed: got === c.expect, decision, got, reason };
}

/** The principal a case is decided for: `as:` with its `roles:`, or none. */
export function casePrincipal(c: PolicyCase): Principal | undefined {
  return c.as === undefined ? undefined : { name: c.as, roles: [...new Set(c.roles ?? [])], via: 'command-line' };
}

/** The file operation of a case with `read:` or `write:`; undefined for a command case. */
export function caseFile(c: PolicyCase): { access: FileAccess; path: string } | undefined {
  if (c.read !== undefined) return { access: 'read', path: c.read };
  if (c.write !== undefined) return { access: 'write', path: c.write };
  return undefined;
}

/** Decides a case for its own principal (`as:`), or for none. */
export function decideCase(engine: PolicyEngine, inventory: Inventory, c: PolicyCase): Decision | undefined {
  return decideCaseFor(engine, inventory, c, casePrincipal(c));
}

/**
 * Decides a command case's command on its host for `principal` (undefined: for no principal),
 * whatever its `as:`; undefined when the host is unknown or the case has no command.
 */
export function decideCaseFor(
  engine: PolicyEngine,
  inventory: Inventory,
  c: PolicyCase,
  principal: Principal | undefined,
): Decision | undefined {
  const host = caseHost(inventory, c);
  if (!host || c.command === undefined) return undefined;
  return decideForHost(engine, host, c.command, { principal, ...(c.become !== undefined ? { become: c.become } : {}) });
}

/** Decides a file case (`read:` or `write:`) on its host for `principal`; undefined as decideCaseFor. */
export function decideFileCaseFor(
  engine: PolicyEngine,
  inventory: Inventory,
  c: PolicyCase,
  principal: Principal | undefined,
): FileDecision | undefined {
  const host = caseHost(inventory, c);
  const file = caseFile(c);
  if (!host || !file) return undefined;
  return decideFileForHost(engine, host, { ...file, principal, ...(c.become !== undefined ? { become: c.become } : {}) });
}

/** The host a case is decided on: its inventory entry, with `tags:` in place of its own (a host not in the inventory needs them). */
function caseHost(inventory: Inventory, c: PolicyCase): HostEntry | undefined {
  const host = inventory.byAlias.get(c.alias);
  if (!c.tags) return host;
  const stand = host ?? { alias: c.alias, host: '', port: 22, credentials: '', tags: [], description: '', shell: 'bash' as const };
  return { ...stand, tags: c.tags };
}

/** What a case asks about: its command, or `read PATH` / `write PATH`. */
export function caseSubject(c: PolicyCase): string {
  const file = caseFile(c);
  const text = file ? `${file.access} ${file.path}` : (c.command ?? '');
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

export function caseLabel(c: PolicyCase): string {
  const principal = casePrincipal(c);
  const as = principal ? ` as ${callerLabel(principal)}` : '';
  const become = c.become !== undefined ? ` become ${c.become}` : '';
  return c.name ?? `${c.alias}${as}${become}: ${caseSubject(c)}`;
}
