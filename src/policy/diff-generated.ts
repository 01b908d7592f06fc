/**
 * The generated part of `policy diff`: beside the test cases and the patterns' own samples, a
 * bounded, seeded set of commands around every pattern that changed (pattern-fuzz.ts), judged
 * under both versions on every host, so a reviewer sees the commands a change widens that no
 * sample shows — a deny pattern removed from under an allow pattern, a wildcard that now reaches
 * an option the deny rules were written against.
 */
import type { Inventory } from '../config/load-inventory.js';
import type { PolicyRule } from '../config/load-policy.js';
import type { PolicyEngine } from './decide.js';
import type { Verdict } from './decision.js';
import { commandChanges, type DecisionChange } from './diff-command.js';
import type { DiffCaller } from './diff.js';
import { commandsAround, patternWords } from './pattern-fuzz.js';

export interface GenerateOptions {
  /** Commands generated in all, shared evenly among the changed patterns; 0: none. */
  total: number;
  seed: number;
}

/** A pattern of one version with no rule alike in the other (same action, scope, terms and pattern). */
export interface ChangedPattern {
  pattern: string;
  rule: string;
  source: string;
  /** Which version has it: a removed pattern is OLD's, an added one NEW's. */
  version: 'old' | 'new';
}

export interface GeneratedChange extends DecisionChange {
  /** Every host it changes on alike (the hosts to which the same rules of both versions apply). */
  hosts: string[];
  /** The change lets more through: deny→ask, deny→allow, ask→allow (or a terminal now allowed). */
  widened: boolean;
  around: ChangedPattern;
}

export interface GeneratedReport {
  /** The budget (GenerateOptions.total), and each changed pattern's share of it. */
  total: number;
  perPattern: number;
  seed: number;
  /** How many patterns changed (commands were generated around each). */
  patterns: number;
  /** Distinct commands generated, less those the samples judged already. */
  commands: number;
  /** Decisions made for them: per command, per group of alike hosts, per caller and elevation, per version. */
  decisions: number;
  /** Widened first. */
  changes: GeneratedChange[];
}

const RANK: Record<Verdict, number> = { deny: 0, ask: 1, allow: 2 };

/** What makes a rule's pattern mean the same in both versions: all but its name and place. */
function ruleKey(rule: PolicyRule, pattern: string): string {
  const sorted = (l: readonly string[] | null) => (l === null ? null : [...l].sort());
  return JSON.stringify([
    rule.action,
    sorted(rule.aliases),
    sorted(rule.tags),
    sorted(rule.callers),
    sorted(rule.become),
    rule.tty,
    rule.stdin,
    rule.approval,
    pattern,
  ]);
}

/** The patterns of either version that the other lacks (by pattern, the first rule that has it). */
export function changedPatterns(before: PolicyEngine, after: PolicyEngine): ChangedPattern[] {
  const keys = (e: PolicyEngine) => new Set(e.policy.rules.flatMap((r) => r.commands.map((p) => ruleKey(r, p))));
  const out = new Map<string, ChangedPattern>();
  for (const [engine, other, version] of [
    [before, keys(after), 'old'],
    [after, keys(before), 'new'],
  ] as const) {
    for (const rule of engine.policy.rules) {
      for (const pattern of rule.commands) {
        if (other.has(ruleKey(rule, pattern)) || out.has(pattern)) continue;
        out.set(pattern, { pattern, rule: rule.name, source: rule.source, version });
      }
    }
  }
  return [...out.values()];
}

/** Hosts every command is decided alike on, and the callers and elevations their rules tell apart. */
interface HostGroup {
  hosts: Inventory['hosts'];
  callers: readonly DiffCaller[];
  becomes: readonly (string | undefined)[];
}

/**
 * The inventory's hosts in groups that every command is decided alike on: the same shell and the
 * same rules of both versions. A command is judged once per group, and only for the callers and
 * elevations the group's rules tell apart: without a rule with `callers:`, every caller decides
 * as no principal does; without an allow or ask rule with `become:`, every elevated call is denied
 * in both versions. A group whose rules are alike in both versions is left out: nothing changes there.
 */
function alikeHosts(
  before: PolicyEngine,
  after: PolicyEngine,
  inventory: Inventory,
  callers: readonly DiffCaller[],
  becomes: readonly (string | undefined)[],
): HostGroup[] {
  const groups = new Map<string, HostGroup>();
  for (const host of inventory.hosts) {
    const indices = (e: PolicyEngine) => e.rulesFor(host).map((r) => e.policy.rules.indexOf(r));
    const key = JSON.stringify([host.shell ?? 'bash', indices(before), indices(after)]);
    const group = groups.get(key);
    if (group) {
      group.hosts.push(host);
      continue;
    }
    // The same rules (but for names) on both sides, and the same denied substrings: every command is decided alike.
    const keys = (e: PolicyEngine) =>
      JSON.stringify([
        e
          .rulesFor(host)
          .flatMap((r) => r.commands.map((p) => ruleKey(r, p)))
          .sort(),
        e.denySubstrings,
      ]);
    if (keys(before) === keys(after)) continue;
    const rules = [...before.rulesFor(host), ...after.rulesFor(host)];
    groups.set(key, {
      hosts: [host],
      callers: rules.some((r) => r.callers !== null) ? callers : callers.slice(0, 1),
      becomes: rules.some((r) => r.action !== 'deny' && r.become !== null) ? becomes : [undefined],
    });
  }
  return [...groups.values()];
}

export function diffGenerated(
  before: PolicyEngine,
  after: PolicyEngine,
  inventory: Inventory,
  judged: { sampled: ReadonlySet<string>; callers: readonly DiffCaller[]; becomes: readonly (string | undefined)[] },
  options: GenerateOptions,
): GeneratedReport {
  const report: GeneratedReport = {
    total: options.total,
    perPattern: 0,
    seed: options.seed,
    patterns: 0,
    commands: 0,
    decisions: 0,
    changes: [],
  };
  if (options.total <= 0) return report;
  const changed = changedPatterns(before, after);
  report.patterns = changed.length;
  if (changed.length === 0) return report;
  report.perPattern = Math.ceil(options.total / changed.length);
  const partners = [...new Set([before, after].flatMap((e) => e.policy.rules.flatMap((r) => r.commands)))];
  const words = patternWords(partners);
  const commands = new Map<string, ChangedPattern>();
  for (const c of changed) {
    for (const command of commandsAround(c.pattern, partners, words, report.perPattern, options.seed)) {
      if (commands.size >= options.total) break;
      if (!judged.sampled.has(command) && !commands.has(command)) commands.set(command, c);
    }
  }
  report.commands = commands.size;
  const groups = alikeHosts(before, after, inventory, judged.callers, judged.becomes);
  // A spelling of a command judged already (`df "-"'h'` is `df -h`) says nothing new: shown once.
  const shown = new Set(judged.sampled);
  for (const [command, around] of commands) {
    const origin = `generated around pattern "${around.pattern}" of rule "${around.rule}" in ${around.version === 'old' ? 'OLD' : 'NEW'}`;
    // The groups where it changes the same way (and by the same rules, now) share one entry.
    const alike = new Map<string, GeneratedChange>();
    for (const group of groups) {
      const alias = (group.hosts[0] as Inventory['hosts'][number]).alias;
      for (const become of group.becomes) {
        report.decisions += 2 * group.callers.length;
        for (const change of commandChanges(before, after, inventory, { alias, command, origin, become }, group.callers)) {
          const texts = change.after.segments.map((seg) => seg.text);
          if (texts.length === 1 && shown.has(texts[0] as string)) continue;
          const way = [
            change.from,
            change.to,
            change.tty,
            change.approval,
            become,
            change.as,
            change.after.segments.map((seg) => seg.rule),
          ];
          const key = JSON.stringify([texts, ...way]);
          const same = alike.get(key);
          if (same) {
            same.hosts.push(...group.hosts.map((h) => h.alias));
            continue;
          }
          if (shown.has(key)) continue;
          shown.add(key);
          const entry = { ...change, hosts: group.hosts.map((h) => h.alias), widened: RANK[change.to] > RANK[change.from], around };
          alike.set(key, entry);
          report.changes.push(entry);
        }
      }
    }
  }
  // Every host it changes on, in the inventory's order.
  const order = new Map(inventory.hosts.map((h, i) => [h.alias, i]));
  for (const c of report.changes) c.hosts.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  // Widened first: what a reviewer must not miss. Otherwise in the order generated.
  report.changes.sort((a, b) => Number(b.widened) - Number(a.widened));
  return report;
}
