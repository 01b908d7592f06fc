/**
 * The policy lint: what a reviewer should look at again in a policy and inventory that load, each
 * a finding with a code (docs/policy.md, "Policy lint"). `sshgate check` prints them as warnings,
 * and with `--strict` fails on any. Everything here follows from the files alone — never from the
 * machine check runs on (keys, secrets, an agent, known_hosts): a pull-request job sees the same.
 */
import { isIP } from 'node:net';
import type { LocatedCase } from '../config/load-cases.js';
import type { Inventory } from '../config/load-inventory.js';
import type { PolicyFileRule, PolicyRule } from '../config/load-policy.js';
import { didYouMean } from '../config/suggest.js';
import { globMatch, hasWildcard } from '../glob.js';
import type { PolicyEngine } from './decide.js';
import { deadAllowFindings } from './lint-dead.js';
import type { LintFinding } from './lint-finding.js';
import { untestedFindings } from './lint-untested.js';
import { wrapperFinding } from './lint-wrappers.js';
import { ruleAppliesTo } from './rule-scope.js';

export type { LintCode, LintFinding } from './lint-finding.js';

export interface LintInput {
  engine: PolicyEngine;
  inventory: Inventory;
  /** The policy's test cases, and the folder they came from; absent: the untested-rule lint is not run. */
  tests?: { cases: readonly LocatedCase[]; dir: string | undefined };
}

export function lintPolicy({ engine, inventory, tests }: LintInput): LintFinding[] {
  const { policy } = engine;
  const findings: LintFinding[] = [];
  for (const rule of policy.rules) {
    if (rule.action === 'deny') continue;
    for (const pattern of rule.commands) {
      const f = wrapperFinding(rule, pattern);
      if (f) findings.push(f);
    }
  }
  findings.push(...deadAllowFindings(policy, inventory, engine.denySubstrings));
  findings.push(...duplicateFindings(policy.rules, policy.fileRules));
  findings.push(...scopeFindings(engine, inventory));
  if (tests) findings.push(...untestedFindings(engine, inventory, tests.cases, tests.dir));
  return findings;
}

/** Two rules of one action with the same patterns, and a pattern given twice in one rule. */
function duplicateFindings(rules: readonly PolicyRule[], fileRules: readonly PolicyFileRule[]): LintFinding[] {
  const findings: LintFinding[] = [];
  const key = (action: string, lists: readonly (readonly string[])[]) =>
    JSON.stringify([action, ...lists.map((l) => [...new Set(l)].sort())]);
  const seen = new Map<string, { name: string; source: string }>();
  const same = (rule: { name: string; source: string }, k: string, what: string) => {
    const first = seen.get(k);
    if (!first) return void seen.set(k, rule);
    findings.push({
      code: 'duplicate-rules',
      source: rule.source,
      message: `rule "${rule.name}" has the same ${what} as rule "${first.name}" (${first.source})`,
      hint: 'keep one rule: give it both scopes (aliases:, tags:, callers:), or remove the other',
    });
  };
  for (const rule of rules) {
    same(rule, key(rule.action, [rule.commands]), `${rule.action} patterns`);
    const twice = rule.commands.filter((p, i) => rule.commands.indexOf(p) !== i);
    for (const p of new Set(twice)) {
      findings.push({
        code: 'duplicate-pattern',
        source: rule.source,
        message: `rule "${rule.name}" lists the pattern "${p}" more than once`,
        hint: 'remove the repeats (a pattern that was meant to differ is worth a second look)',
      });
    }
  }
  for (const rule of fileRules) same(rule, key(`files ${rule.action}`, [rule.read, rule.write]), `${rule.action} read: and write: paths`);
  return findings;
}

/**
 * Scopes that name nothing the inventory has: a rule's tag or alias glob no host matches, with
 * the tag or alias it was likely meant to be; a rule that applies to no host at all; overrides
 * for a tag or alias no host has. And what the scopes let through that a reviewer should see: an
 * ask rule the agent's own client may approve, a host the network policy refuses.
 */
function scopeFindings(engine: PolicyEngine, inventory: Inventory): LintFinding[] {
  const { policy } = engine;
  const findings: LintFinding[] = [];
  const tags = [...new Set(inventory.hosts.flatMap((h) => h.tags))];
  const aliases = inventory.hosts.map((h) => h.alias);
  const unknown = (globs: readonly string[], names: readonly string[]) => globs.filter((g) => !names.some((n) => globMatch(g, n)));
  const meant = (glob: string, names: readonly string[]) => {
    const m = hasWildcard(glob) ? undefined : didYouMean(glob, names);
    return m ? `; ${m}` : '';
  };
  const rules: (PolicyRule | PolicyFileRule)[] = [...policy.rules, ...policy.fileRules];
  for (const rule of rules) {
    const what = 'commands' in rule ? 'rule' : 'file rule';
    for (const t of unknown(rule.tags, tags)) {
      findings.push({
        code: 'unknown-tag',
        source: rule.source,
        message: `${what} "${rule.name}" names the tag "${t}", which no host has${meant(t, tags)}`,
        hint: `the hosts' tags: ${tags.join(', ') || 'none'}`,
      });
    }
    for (const a of unknown(rule.aliases, aliases)) {
      findings.push({
        code: 'unknown-alias',
        source: rule.source,
        message: `${what} "${rule.name}" names the alias "${a}", which no host has${meant(a, aliases)}`,
        hint: 'sshgate check lists the aliases under "hosts"',
      });
    }
    if (!inventory.hosts.some((h) => ruleAppliesTo(rule, h))) {
      findings.push({
        code: 'no-host',
        source: rule.source,
        message: `${what} "${rule.name}" applies to no host in the inventory`,
        hint: 'check its aliases: and tags: against the inventory, or remove it',
      });
    }
    // The agent's own client may be the one answering: a reviewer should see it was chosen.
    if ('approval' in rule && rule.approval && rule.approval.approveBy !== 'operator' && !rule.approval.fourEyes) {
      findings.push({
        code: 'client-approval',
        source: rule.source,
        message: `ask rule "${rule.name}" has approve_by: ${rule.approval.approveBy}: the agent's own MCP client may approve its commands`,
        hint: "keep it only where a person reads that client; approve_by: operator (the default) or four_eyes: true take the answer out of the agent's reach (docs/approvals.md)",
      });
    }
  }
  for (const t of Object.keys(policy.overrides.tags)) {
    if (tags.includes(t)) continue;
    findings.push({
      code: 'unknown-tag',
      source: null,
      message: `overrides.tags.${t}: no host has the tag "${t}"${meant(t, tags)}`,
      hint: `the hosts' tags: ${tags.join(', ') || 'none'}`,
    });
  }
  for (const a of Object.keys(policy.overrides.aliases)) {
    if (inventory.byAlias.has(a)) continue;
    findings.push({
      code: 'unknown-alias',
      source: null,
      message: `overrides.aliases.${a}: no host has the alias "${a}"${meant(a, aliases)}`,
      hint: 'sshgate check lists the aliases under "hosts"',
    });
  }
  // A name is checked on the address it resolves to, when connecting; an address can be checked now.
  for (const h of inventory.hosts) {
    if (isIP(h.host) === 0) continue;
    const net = engine.network.check(h.host);
    if (net.allowed) continue;
    findings.push({
      code: 'network-refused',
      source: null,
      message: `host "${h.alias}": ${net.reason}; sshgate will refuse to connect to it`,
      hint: 'change network: in the policy, or the host address in servers.yml',
    });
  }
  return findings;
}
