/**
 * Allow (and ask) patterns no command can ever pass: on every host of the inventory the rule
 * applies to, a deny rule that holds wherever the allow rule does has a pattern matching every
 * text the allow pattern matches, or a denied substring is in every such text. Such a pattern is
 * dead; usually the deny rule is broader than meant, or the allow rule is left over.
 *
 * Only what is certain is reported (see globCovers): a deny pattern that catches most, but not
 * all, of what an allow pattern matches is no finding, and neither is a pattern denied only by
 * several deny patterns together.
 */
import type { Inventory } from '../config/load-inventory.js';
import type { PolicyRule, PolicySet } from '../config/load-policy.js';
import { globCovers } from '../glob.js';
import type { LintFinding } from './lint-finding.js';
import { ruleAppliesTo } from './rule-scope.js';

/**
 * Whether deny rule `deny` is considered for every call `rule` is: for all its callers (none
 * named, or every caller the rule names), and for the same elevation (a deny rule without
 * `become:` holds for every call; one with it, for the users it names).
 */
function holdsWherever(deny: PolicyRule, rule: PolicyRule): boolean {
  const callers = deny.callers === null || (rule.callers !== null && rule.callers.every((c) => deny.callers?.includes(c)));
  const become = deny.become === null || (rule.become !== null && rule.become.every((u) => deny.become?.includes(u)));
  return callers && become;
}

/** What denies every text of `pattern` on `host`: a deny rule's name and pattern, or a denied substring. */
function killer(
  pattern: string,
  rule: PolicyRule,
  host: Inventory['hosts'][number],
  denies: readonly PolicyRule[],
  substrings: readonly string[],
): string | undefined {
  for (const deny of denies) {
    if (!ruleAppliesTo(deny, host) || !holdsWherever(deny, rule)) continue;
    const q = deny.commands.find((d) => globCovers(d, pattern));
    if (q !== undefined) return `deny rule "${deny.name}" (pattern "${q}", ${deny.source})`;
  }
  // Every text of the pattern holds each of its runs without wildcards.
  const runs = pattern.split(/[*?]/);
  const s = substrings.find((sub) => runs.some((run) => run.includes(sub)));
  return s === undefined ? undefined : `the denied substring "${s}"`;
}

export function deadAllowFindings(policy: PolicySet, inventory: Inventory, denySubstrings: readonly string[]): LintFinding[] {
  const denies = policy.rules.filter((r) => r.action === 'deny');
  const findings: LintFinding[] = [];
  for (const rule of policy.rules) {
    if (rule.action === 'deny') continue;
    const hosts = inventory.hosts.filter((h) => ruleAppliesTo(rule, h));
    if (hosts.length === 0) continue;
    const dead: { pattern: string; by: string[] }[] = [];
    for (const pattern of rule.commands) {
      const by = hosts.map((h) => killer(pattern, rule, h, denies, denySubstrings));
      if (by.every((b) => b !== undefined)) dead.push({ pattern, by: [...new Set(by)] });
    }
    if (dead.length === 0) continue;
    const on =
      hosts.length === 1 ? `on ${hosts[0]?.alias}, the one host it applies to` : `on each of the ${hosts.length} hosts it applies to`;
    const hint = 'narrow the deny pattern if it catches more than it should; else remove the allow pattern';
    if (dead.length === rule.commands.length && dead.length > 1) {
      findings.push({
        code: 'dead-allow',
        source: rule.source,
        message: `${rule.action} rule "${rule.name}" can never ${verb(rule)}: every one of its patterns is denied ${on} (${[...new Set(dead.flatMap((d) => d.by))].join('; ')})`,
        hint,
      });
      continue;
    }
    for (const d of dead) {
      findings.push({
        code: 'dead-allow',
        source: rule.source,
        message: `${rule.action} pattern "${d.pattern}" of rule "${rule.name}" can never ${verb(rule)}: every command it matches is denied ${on}, by ${d.by.join('; ')}`,
        hint,
      });
    }
  }
  return findings;
}

function verb(rule: PolicyRule): string {
  return rule.action === 'ask' ? 'ask' : 'allow';
}
