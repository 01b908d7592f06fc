/**
 * What a policy change changes, for pull-request review: every test case and every command of
 * either version's rules, on every host, for every caller the rules tell apart, whose decision
 * differs — or, allowed in both, whether it may run with a terminal; the same for file operations
 * (file-diff.ts); every limit that differs; and commands generated around each changed pattern
 * (diff-generated.ts).
 */
import type { Inventory } from '../config/load-inventory.js';
import type { PolicyCase } from '../config/file-formats.js';
import type { Principal } from '../principal.js';
import { casePrincipal } from './cases.js';
import { callerLabel } from './decision.js';
import type { PolicyEngine } from './decide.js';
import { commandChanges, type DecisionChange } from './diff-command.js';
import { diffGenerated, type GenerateOptions, type GeneratedReport } from './diff-generated.js';
import { diffFileAccesses, type FileDecisionChange } from './file-diff.js';
import { effectiveLimits } from './limits.js';

export type { DecisionChange } from './diff-command.js';

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
  options: GenerateOptions = { total: 0, seed: 1 },
): { decisions: DecisionChange[]; files: FileDecisionChange[]; limits: LimitChange[]; generated: GeneratedReport } {
  const probes: { alias: string; command: string; origin: string; tags?: string[] }[] = [];
  const seen = new Set<string>();
  const add = (alias: string, command: string, origin: string, tags?: string[]) => {
    const key = `${alias}\u0000${command}\u0000${tags?.join(',') ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    probes.push({ alias, command, origin, ...(tags ? { tags } : {}) });
  };
  for (const c of cases) if (c.command !== undefined) add(c.alias, c.command, `case "${c.name ?? c.command}"`, c.tags);
  // Judged on every host already: the generated commands need not judge these again.
  const sampled = new Set<string>();
  for (const engine of [before, after]) {
    for (const rule of engine.policy.rules) {
      for (const pattern of rule.commands) {
        for (const sample of samplesOf(pattern)) {
          sampled.add(sample);
          for (const host of inventory.hosts) add(host.alias, sample, `pattern "${pattern}" of rule "${rule.name}"`);
        }
      }
    }
  }

  const callers = callersToCompare([before, after], cases);
  const becomes = becomesToCompare([before, after], cases);
  const decisions: DecisionChange[] = [];
  for (const p of probes) {
    for (const become of becomes) decisions.push(...commandChanges(before, after, inventory, { ...p, become }, callers));
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
  const generated = diffGenerated(before, after, inventory, { sampled, callers, becomes }, options);
  return { decisions, files, limits, generated };
}
