/**
 * What a policy change changes, for pull-request review: every test case and every command of
 * either version's rules, on every host, for every caller the rules tell apart, whose decision
 * differs — or, allowed in both, whether it may run with a terminal; the same for file operations
 * (file-diff.ts); and every limit that differs.
 */
import type { Inventory } from '../config/load-inventory.js';
import type { PolicyCase } from '../config/file-formats.js';
import type { Principal } from '../principal.js';
import { casePrincipal, decideCaseFor } from './cases.js';
import type { PolicyEngine } from './decide.js';
import { callerLabel, type Decision, type Verdict } from './decision.js';
import { diffFileAccesses, type FileDecisionChange } from './file-diff.js';
import { effectiveLimits } from './limits.js';

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

/** A caller the decisions are compared for: how it is shown, and the principal (none: not known). */
export interface DiffCaller {
  label: string;
  principal: Principal | undefined;
}

export const NO_PRINCIPAL = '(no principal)';
export const ANYONE_ELSE = '(anyone else)';

/**
 * The callers whose decisions may differ: no principal; when any rule of either version has
 * `callers:`, also a principal no rule names, each name and each role the rules name (alone), and
 * each principal of a case's `as:`. Without `callers:` every principal decides as no principal does.
 */
export function callersToCompare(engines: readonly PolicyEngine[], cases: readonly PolicyCase[]): DiffCaller[] {
  const out: DiffCaller[] = [{ label: NO_PRINCIPAL, principal: undefined }];
  const rules = engines.flatMap((e) => [...e.policy.rules, ...e.policy.fileRules]);
  const entries = [...new Set(rules.flatMap((r) => r.callers ?? []))];
  if (entries.length === 0) return out;
  // Names in parentheses are never a rule's: callers: entries are names without them, or role:NAME.
  const principal = (name: string, roles: string[] = []): Principal => ({ name, roles, via: 'command-line' });
  out.push({ label: ANYONE_ELSE, principal: principal(ANYONE_ELSE) });
  for (const entry of entries) {
    const role = entry.startsWith('role:') ? entry.slice('role:'.length) : undefined;
    out.push({ label: entry, principal: role === undefined ? principal(entry) : principal(`(${entry})`, [role]) });
  }
  for (const c of cases) {
    const p = casePrincipal(c);
    if (p) out.push({ label: callerLabel(p), principal: p });
  }
  const seen = new Set<string>();
  return out.filter((c) => !seen.has(c.label) && seen.add(c.label));
}

/**
 * The elevations the decisions are compared for: none, and every user a rule of either version or
 * a case names in `become:`. An elevation no rule names is decided as one to any other such user.
 */
export function becomesToCompare(engines: readonly PolicyEngine[], cases: readonly PolicyCase[]): (string | undefined)[] {
  const users = engines.flatMap((e) => [...e.policy.rules, ...e.policy.fileRules].flatMap((r) => r.become ?? []));
  return [undefined, ...new Set([...users, ...cases.flatMap((c) => (c.become !== undefined ? [c.become] : []))])];
}

export interface LimitChange {
  alias: string;
  limit: string;
  from: number;
  to: number;
}

/**
 * Concrete commands a pattern stands for: each `*` as nothing and as a word, each `?` as one
 * character. Enough to show a rule widened or narrowed on the boundary where it changed.
 */
export function samplesOf(pattern: string): string[] {
  const fill = (star: string) => pattern.replace(/\*/g, star).replace(/\?/g, 'x').replace(/\s+/g, ' ').trim();
  return [...new Set([fill(''), fill('x'), fill(' x')])].filter((s) => s !== '');
}

export function diffPolicies(
  before: PolicyEngine,
  after: PolicyEngine,
  inventory: Inventory,
  cases: PolicyCase[],
): { decisions: DecisionChange[]; files: FileDecisionChange[]; limits: LimitChange[] } {
  const probes: { alias: string; command: string; origin: string; tags?: string[] }[] = [];
  const seen = new Set<string>();
  const add = (alias: string, command: string, origin: string, tags?: string[]) => {
    const key = `${alias}\u0000${command}\u0000${tags?.join(',') ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    probes.push({ alias, command, origin, ...(tags ? { tags } : {}) });
  };
  for (const c of cases) if (c.command !== undefined) add(c.alias, c.command, `case "${c.name ?? c.command}"`, c.tags);
  for (const engine of [before, after]) {
    for (const rule of engine.policy.rules) {
      for (const pattern of rule.commands) {
        for (const sample of samplesOf(pattern)) {
          for (const host of inventory.hosts) add(host.alias, sample, `pattern "${pattern}" of rule "${rule.name}"`);
        }
      }
    }
  }

  const callers = callersToCompare([before, after], cases);
  const becomes = becomesToCompare([before, after], cases);
  const decisions: DecisionChange[] = [];
  for (const p of probes.flatMap((p) => becomes.map((become) => ({ ...p, become })))) {
    const probe = {
      alias: p.alias,
      command: p.command,
      expect: 'allow' as const,
      ...(p.tags ? { tags: p.tags } : {}),
      ...(p.become !== undefined ? { become: p.become } : {}),
    };
    // The callers for which it changes the same way (and by the same rules, now) share one entry.
    const groups = new Map<string, DecisionChange>();
    for (const caller of callers) {
      const a = decideCaseFor(before, inventory, probe, caller.principal);
      const b = decideCaseFor(after, inventory, probe, caller.principal);
      if (!a || !b) continue;
      const tty = a.allowed && b.allowed && a.tty_allowed !== b.tty_allowed;
      const approval = a.approval && b.approval ? termsChange(a.approval, b.approval) : undefined;
      if (a.verdict === b.verdict && !tty && !approval) continue;
      const verdict = (d: Decision): Verdict => (tty ? (d.tty_allowed ? 'allow' : 'deny') : d.verdict);
      const key = JSON.stringify([verdict(a), verdict(b), tty, approval, b.segments.map((s) => s.rule)]);
      const group = groups.get(key);
      if (group) {
        group.as?.push(caller.label);
        continue;
      }
      groups.set(key, {
        alias: p.alias,
        command: p.command,
        from: verdict(a),
        to: verdict(b),
        origin: p.origin,
        ...(tty ? { tty: true as const } : {}),
        ...(approval ? { approval } : {}),
        ...(p.become !== undefined ? { become: p.become } : {}),
        as: [caller.label],
        before: a,
        after: b,
      });
    }
    for (const change of groups.values()) {
      if (change.as?.length === callers.length) delete change.as;
      decisions.push(change);
    }
  }

  const limits: LimitChange[] = [];
  for (const host of inventory.hosts) {
    const a = effectiveLimits(before.policy, host).values;
    const b = effectiveLimits(after.policy, host).values;
    for (const key of Object.keys(a) as (keyof typeof a)[]) {
      if (a[key] !== b[key]) limits.push({ alias: host.alias, limit: key, from: a[key], to: b[key] });
    }
  }
  const files = diffFileAccesses(before, after, inventory, cases, callers, becomes);
  return { decisions, files, limits };
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
