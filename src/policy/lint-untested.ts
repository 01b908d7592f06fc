/**
 * Rules no policy test case exercises: no case's command matches one of the rule's patterns (the
 * decision names every rule that matched, deny and allow alike), and no file case is decided by
 * it. A rule that no case touches can change, or stop working, without any test failing.
 */
import type { LocatedCase } from '../config/load-cases.js';
import type { Inventory } from '../config/load-inventory.js';
import { runCase } from './cases.js';
import type { PolicyEngine } from './decide.js';
import type { LintFinding } from './lint-finding.js';
import { ruleAppliesTo } from './rule-scope.js';

/**
 * The findings for `cases`, the policy's test cases; `testsDir` is the folder they came from
 * (undefined: there is no tests folder beside the policy, and so no finding).
 */
export function untestedFindings(
  engine: PolicyEngine,
  inventory: Inventory,
  cases: readonly LocatedCase[],
  testsDir: string | undefined,
): LintFinding[] {
  const { policy } = engine;
  // Without a tests folder there are no tests to measure the rules by: `policy test` says so.
  if (testsDir === undefined || policy.rules.length + policy.fileRules.length === 0) return [];
  if (cases.length === 0) {
    return [
      {
        code: 'no-tests',
        source: null,
        message: `${testsDir} holds no test cases: no rule of the policy is tested`,
        hint: 'write cases in <policy>/tests/*.yml ({ alias: web1, command: "uptime", expect: allow }) and run them with sshgate policy test',
      },
    ];
  }
  const exercised = new Set<string>();
  for (const c of cases) {
    const r = runCase(engine, inventory, c);
    for (const m of r.decision?.matched_rules ?? []) exercised.add(m.name);
    if (r.fileDecision?.rule) exercised.add(r.fileDecision.rule.name);
  }
  const applies = (rule: Parameters<typeof ruleAppliesTo>[0]) => inventory.hosts.some((h) => ruleAppliesTo(rule, h));
  const findings: LintFinding[] = [];
  // A rule that applies to no host has its own finding (no-host); no case could exercise it.
  for (const rule of policy.rules) {
    if (exercised.has(rule.name) || !applies(rule)) continue;
    findings.push({
      code: 'untested-rule',
      source: rule.source,
      message: `${rule.action} rule "${rule.name}" matches no command of any test case`,
      hint: `add a case that ${rule.action === 'deny' ? 'it denies' : rule.action === 'ask' ? 'it asks for' : 'it allows'} (and one just outside it) to ${testsDir}, e.g. { alias: …, command: "${example(rule.commands[0] ?? '')}", expect: ${rule.action} }`,
    });
  }
  for (const rule of policy.fileRules) {
    if (exercised.has(rule.name) || !applies(rule)) continue;
    const path = rule.read[0] ?? rule.write[0] ?? '';
    findings.push({
      code: 'untested-rule',
      source: rule.source,
      message: `file rule "${rule.name}" decides no file case`,
      hint: `add a case it decides to ${testsDir}, e.g. { alias: …, ${rule.read.length > 0 ? 'read' : 'write'}: "${example(path)}", expect: ${rule.action} }`,
    });
  }
  return findings;
}

/** A pattern as an example command: a trailing `*` as nothing, every other `*` and `?` as x. */
function example(pattern: string): string {
  return pattern.replace(/\*$/, '').replace(/[*?]/g, 'x').replace(/\s+/g, ' ').trim();
}
