/**
 * What a policy change changes, for pull-request review: every test case and every command of
 * either version's rules, on every host, whose decision differs — or, allowed in both, whether it
 * may run with a terminal; and every limit that differs.
 */
import type { Inventory } from '../config/load-inventory.js';
import type { PolicyCase } from '../config/file-formats.js';
import { decideCase } from './cases.js';
import type { PolicyEngine } from './decide.js';
import type { Decision } from './decision.js';
import { effectiveLimits } from './limits.js';

export interface DecisionChange {
  alias: string;
  command: string;
  from: 'allow' | 'deny';
  to: 'allow' | 'deny';
  /** Where the command came from: a test case or a rule pattern. */
  origin: string;
  /** Allowed before and after; from and to say whether it may run with a terminal (`tty: true`). */
  tty?: true;
  before: Decision;
  after: Decision;
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
): { decisions: DecisionChange[]; limits: LimitChange[] } {
  const probes: { alias: string; command: string; origin: string; tags?: string[] }[] = [];
  const seen = new Set<string>();
  const add = (alias: string, command: string, origin: string, tags?: string[]) => {
    const key = `${alias}\u0000${command}\u0000${tags?.join(',') ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    probes.push({ alias, command, origin, ...(tags ? { tags } : {}) });
  };
  for (const c of cases) add(c.alias, c.command, `case "${c.name ?? c.command}"`, c.tags);
  for (const engine of [before, after]) {
    for (const rule of engine.policy.rules) {
      for (const pattern of rule.commands) {
        for (const sample of samplesOf(pattern)) {
          for (const host of inventory.hosts) add(host.alias, sample, `pattern "${pattern}" of rule "${rule.name}"`);
        }
      }
    }
  }

  const decisions: DecisionChange[] = [];
  for (const p of probes) {
    const probe = { alias: p.alias, command: p.command, expect: 'allow' as const, ...(p.tags ? { tags: p.tags } : {}) };
    const a = decideCase(before, inventory, probe);
    const b = decideCase(after, inventory, probe);
    if (!a || !b) continue;
    const tty = a.allowed && b.allowed && a.tty_allowed !== b.tty_allowed;
    if (a.allowed === b.allowed && !tty) continue;
    const verdict = (d: Decision) => ((tty ? d.tty_allowed : d.allowed) ? 'allow' : 'deny');
    decisions.push({
      alias: p.alias,
      command: p.command,
      from: verdict(a),
      to: verdict(b),
      origin: p.origin,
      ...(tty ? { tty: true as const } : {}),
      before: a,
      after: b,
    });
  }

  const limits: LimitChange[] = [];
  for (const host of inventory.hosts) {
    const a = effectiveLimits(before.policy, host).values;
    const b = effectiveLimits(after.policy, host).values;
    for (const key of Object.keys(a) as (keyof typeof a)[]) {
      if (a[key] !== b[key]) limits.push({ alias: host.alias, limit: key, from: a[key], to: b[key] });
    }
  }
  return { decisions, limits };
}
