/** Policy unit tests: the cases of policies/tests/*.yml, run against a policy and an inventory. */
import type { LocatedCase } from '../config/load-cases.js';
import type { Inventory } from '../config/load-inventory.js';
import type { PolicyCase } from '../config/file-formats.js';
import type { Principal } from '../principal.js';
import type { PolicyEngine } from './decide.js';
import { callerLabel, type Decision, type Verdict } from './decision.js';
import { decideForHost, ttyRefusal } from './host-decision.js';

export interface CaseResult {
  case: LocatedCase;
  passed: boolean;
  /** Absent when the case names a host that does not exist. */
  decision?: Decision;
  /** The answer the case got: with `tty: true`, whether the command may run with a terminal (allow or deny). */
  got?: Verdict;
  /** Why it was denied (for a tty case, why not with a terminal). */
  reason?: string;
  problem?: string;
}

export function runCase(engine: PolicyEngine, inventory: Inventory, c: LocatedCase): CaseResult {
  const decision = decideCase(engine, inventory, c);
  if (!decision) {
    return { case: c, passed: false, problem: `alias "${c.alias}" is not in the inventory (give tags: to describe a host that is not)` };
  }
  // A case with `tty: true` asks for a terminal: allowed means allowed with one (an ask rule never gives one).
  const got = c.tty ? (decision.tty_allowed ? 'allow' : 'deny') : decision.verdict;
  const reason = (c.tty ? ttyRefusal(decision) : undefined) ?? decision.reason;
  return { case: c, passed: got === c.expect, decision, got, reason };
}

/** The principal a case is decided for: `as:` with its `roles:`, or none. */
export function casePrincipal(c: PolicyCase): Principal | undefined {
  return c.as === undefined ? undefined : { name: c.as, roles: [...new Set(c.roles ?? [])], via: 'command-line' };
}

/** Decides a case for its own principal (`as:`), or for none. */
export function decideCase(engine: PolicyEngine, inventory: Inventory, c: PolicyCase): Decision | undefined {
  return decideCaseFor(engine, inventory, c, casePrincipal(c));
}

/** Decides a case's command on its host for `principal` (undefined: for no principal), whatever its `as:`. */
export function decideCaseFor(
  engine: PolicyEngine,
  inventory: Inventory,
  c: PolicyCase,
  principal: Principal | undefined,
): Decision | undefined {
  const host = inventory.byAlias.get(c.alias);
  const options = { principal, ...(c.become !== undefined ? { become: c.become } : {}) };
  if (c.tags) {
    const stand = host ?? { alias: c.alias, host: '', port: 22, credentials: '', tags: [], description: '', shell: 'bash' as const };
    return decideForHost(engine, { ...stand, tags: c.tags }, c.command, options);
  }
  return host ? decideForHost(engine, host, c.command, options) : undefined;
}

export function caseLabel(c: PolicyCase): string {
  const principal = casePrincipal(c);
  const as = principal ? ` as ${callerLabel(principal)}` : '';
  const become = c.become !== undefined ? ` become ${c.become}` : '';
  return c.name ?? `${c.alias}${as}${become}: ${c.command.length > 80 ? `${c.command.slice(0, 80)}…` : c.command}`;
}
