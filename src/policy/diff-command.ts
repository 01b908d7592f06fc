/** How one command's decision changes from one policy version to the next, on one host, per caller. */
import { changesByCaller, type CallerChange } from './diff-callers.js';
import type { Inventory } from '../config/load-inventory.js';
import { decideCaseFor } from './cases.js';
import type { PolicyEngine } from './decide.js';
import type { Decision, Verdict } from './decision.js';
import type { DiffCaller } from './diff.js';

export interface DecisionChange {
  alias: string;
  command: string;
  from: Verdict;
  to: Verdict;
  /** Where the command came from: a test case or a rule pattern. */
  origin: string;
  /** Allowed before and after; from and to say whether it may run with a terminal (`tty: true`). */
  tty?: true;
  /** The change is for calls that elevate to this user (`become`); absent: for calls that do not. */
  become?: string;
  /**
   * Needs approval before and after, on other terms: what changed (`approve_by operator→client,
   * grant_minutes once→30`). A looser term is a widening a reviewer must see.
   */
  approval?: string;
  /**
   * The callers it changes for (labels of `callersToCompare`), when it does not change alike for
   * all of them; absent: for every caller. `before` and `after` are the first one's decisions.
   */
  as?: string[];
  before: Decision;
  after: Decision;
}

/** A command to compare on one host (by alias, or a case's stand-in with `tags:`), for one elevation. */
export interface CommandProbe {
  alias: string;
  command: string;
  origin: string;
  tags?: string[];
  become?: string | undefined;
}

/**
 * How one command's decision changes on one host: one entry per way it changes, naming the
 * callers it changes for when not all of them (the callers for which it changes the same way, and
 * by the same rules now, share an entry).
 */
export function commandChanges(
  before: PolicyEngine,
  after: PolicyEngine,
  inventory: Inventory,
  p: CommandProbe,
  callers: readonly DiffCaller[],
): DecisionChange[] {
  const probe = {
    alias: p.alias,
    command: p.command,
    expect: 'allow' as const,
    ...(p.tags ? { tags: p.tags } : {}),
    ...(p.become !== undefined ? { become: p.become } : {}),
  };
  return changesByCaller(callers, (caller): CallerChange<DecisionChange> | undefined => {
    const a = decideCaseFor(before, inventory, probe, caller.principal);
    const b = decideCaseFor(after, inventory, probe, caller.principal);
    if (!a || !b) return undefined;
    const tty = a.allowed && b.allowed && a.tty_allowed !== b.tty_allowed;
    const approval = a.approval && b.approval ? termsChange(a.approval, b.approval) : undefined;
    if (a.verdict === b.verdict && !tty && !approval) return undefined;
    const verdict = (d: Decision): Verdict => (tty ? (d.tty_allowed ? 'allow' : 'deny') : d.verdict);
    return {
      key: JSON.stringify([verdict(a), verdict(b), tty, approval, b.segments.map((s) => s.rule)]),
      make: (as) => ({
        alias: p.alias,
        command: p.command,
        from: verdict(a),
        to: verdict(b),
        origin: p.origin,
        ...(tty ? { tty: true as const } : {}),
        ...(approval ? { approval } : {}),
        ...(p.become !== undefined ? { become: p.become } : {}),
        as,
        before: a,
        after: b,
      }),
    };
  });
}

/** What differs between two ask decisions' terms of approval, or undefined when nothing does. */
function termsChange(a: NonNullable<Decision['approval']>, b: NonNullable<Decision['approval']>): string | undefined {
  const grant = (g: number | null) => (g === null ? 'once' : String(g));
  const pairs: [string, string, string][] = [
    ['approve_by', a.approve_by, b.approve_by],
    ['approval_timeout_seconds', String(a.timeout_seconds), String(b.timeout_seconds)],
    ['four_eyes', String(a.four_eyes), String(b.four_eyes)],
    ['grant_minutes', grant(a.grant_minutes), grant(b.grant_minutes)],
  ];
  const changed = pairs.filter(([, x, y]) => x !== y).map(([k, x, y]) => `${k} ${x}→${y}`);
  return changed.length > 0 ? changed.join(', ') : undefined;
}
