/**
 * Where the policy is decided: decide(host, command) → allow or deny, segment by segment, naming
 * the rules that matched. The order of the checks follows DESIGN.md's decision rules.
 */
import { posix } from 'node:path';
import type { PolicyRule, PolicySet } from '../config/load-policy.js';
import { BUILTIN_DENY_SUBSTRINGS, WRAPPER_COMMANDS } from './builtin.js';
import type { Decision, SegmentVerdict } from './decision.js';
import { globMatch, globsIntersect, hasWildcard } from '../glob.js';
import { effectiveLimits, type HostRef } from './limits.js';
import { compileNetwork, type NetworkCheck } from './network.js';
import type { Dialect } from './lexer.js';
import type { Feature, Segment, ShellParser } from './parse.js';
import { quoteWord } from './words.js';

export interface PolicyEngine {
  readonly policy: PolicySet;
  readonly denySubstrings: readonly string[];
  readonly network: NetworkCheck;
  decide(host: HostRef, command: string): Decision;
  /** The rules that apply to a host, deny and allow alike. */
  rulesFor(host: HostRef): PolicyRule[];
}

/** How a rule pattern names a construct explicitly. */
const FEATURE_MARKERS: Record<Feature, { label: string; named: (pattern: string) => boolean }> = {
  substitution: { label: 'command substitution', named: (p) => p.includes('$(') || p.includes('`') },
  process_substitution: { label: 'process substitution', named: (p) => p.includes('<(') || p.includes('>(') },
  expansion: { label: 'parameter expansion ($…)', named: (p) => p.includes('$') },
  // "<<" and "<<<" name a heredoc or here-string, never a redirection to or from a file.
  redirection: { label: 'redirection', named: (p) => /[<>]/.test(p.replace(/<<<?/g, '')) },
  heredoc: { label: 'a heredoc or here-string', named: (p) => p.includes('<<') },
  assignment: { label: 'a variable assignment', named: (p) => (p.split(' ')[0] ?? '').includes('=') },
};

const DISPLAY_LIMIT = 1000;
/** Longest command (with wildcard arguments) matched against deny rules by intersection. */
const WILD_LIMIT = 4096;

export function createPolicyEngine(policy: PolicySet, parser: ShellParser): PolicyEngine {
  const denySubstrings = [...new Set([...BUILTIN_DENY_SUBSTRINGS, ...policy.denySubstrings])];
  const network = compileNetwork(policy.network);

  const rulesFor = (host: HostRef): PolicyRule[] => policy.rules.filter((r) => applies(r, host));
  // A fan-out decides one command for many hosts: parse it once. Results are never modified.
  const parsed = new Map<string, ReturnType<ShellParser['parse']>>();
  const parseOnce = (command: string, dialect: Dialect) => {
    const key = `${dialect}\0${command}`;
    let p = parsed.get(key);
    if (!p) {
      p = parser.parse(command, dialect);
      if (parsed.size >= 256) parsed.delete(parsed.keys().next().value as string);
      parsed.set(key, p);
    }
    return p;
  };

  function decide(host: HostRef, command: string): Decision {
    const limits = effectiveLimits(policy, host).values;
    const base = { alias: host.alias, command: clip(command), limits };
    const parsed = parseOnce(command, host.shell ?? 'bash');
    if (!parsed.ok) {
      const segment: SegmentVerdict = {
        text: clip(command.replace(/\s+/g, ' ').trim()),
        allowed: false,
        rule: null,
        source: null,
        reason: parsed.reason,
        nested: false,
      };
      return { ...base, allowed: false, reason: parsed.reason, segments: [segment], matched_rules: [] };
    }

    const rules = rulesFor(host);
    const matched = new Map<string, PolicyRule>();
    const segments = parsed.segments.map((seg) => judge(seg, rules, matched));

    const substring = denySubstrings.find((s) => command.includes(s) || parsed.segments.some((g) => g.text.includes(s)));
    if (substring !== undefined) {
      const reason = `contains the denied substring "${substring}"`;
      for (const v of segments) {
        if (v.allowed && v.text.includes(substring)) Object.assign(v, { allowed: false, rule: null, source: null, reason });
      }
      return { ...base, allowed: false, reason, segments, matched_rules: summary(matched) };
    }
    const denied = segments.find((v) => !v.allowed);
    const reason = denied
      ? `"${denied.text}" is denied: ${denied.reason}`
      : `every command is allowed (${[...new Set(segments.map((v) => `rule "${v.rule}"`))].join(', ')})`;
    return { ...base, allowed: !denied, reason, segments, matched_rules: summary(matched) };
  }

  return { policy, denySubstrings, network, decide, rulesFor };
}

function applies(rule: PolicyRule, host: HostRef): boolean {
  if (rule.aliases.length > 0 && !rule.aliases.some((g) => globMatch(g, host.alias))) return false;
  if (rule.tags.length > 0 && !rule.tags.some((g) => host.tags.some((t) => globMatch(g, t)))) return false;
  return true;
}

function judge(seg: Segment, rules: PolicyRule[], matched: Map<string, PolicyRule>): SegmentVerdict {
  const verdict = (allowed: boolean, reason: string, rule?: PolicyRule): SegmentVerdict => ({
    text: clip(seg.text),
    allowed,
    rule: rule?.name ?? null,
    source: rule?.source ?? null,
    reason,
    nested: seg.nested,
  });
  if (seg.unsupported) return verdict(false, `${seg.unsupported} is not supported; no rule can allow it`);

  const candidates = denyCandidates(seg);
  const wild = wildCandidates(seg);
  if (wild.some((c) => c.length > WILD_LIMIT)) {
    return verdict(false, `an argument with shell wildcards in a command over ${WILD_LIMIT} characters; no rule can allow it`);
  }
  let deny: { rule: PolicyRule; pattern: string } | undefined;
  let allow: { rule: PolicyRule; pattern: string } | undefined;
  let unnamed: { rule: PolicyRule; missing: string[] } | undefined;
  for (const rule of rules) {
    for (const pattern of rule.commands) {
      if (rule.action === 'deny') {
        // Also against every name the shell's own wildcards may expand to.
        if (candidates.some((c) => globMatch(pattern, c)) || wild.some((c) => globsIntersect(pattern, c))) {
          matched.set(rule.name, rule);
          deny ??= { rule, pattern };
        }
      } else if (globMatch(pattern, seg.text)) {
        const missing = notNamed(seg, pattern);
        if (missing.length === 0) {
          matched.set(rule.name, rule);
          allow ??= { rule, pattern };
        } else {
          unnamed ??= { rule, missing };
        }
      }
    }
  }
  if (deny) return verdict(false, `matches deny rule "${deny.rule.name}" (pattern "${deny.pattern}")`, deny.rule);
  if (allow) return verdict(true, `matches allow rule "${allow.rule.name}" (pattern "${allow.pattern}")`, allow.rule);
  if (unnamed) {
    return verdict(
      false,
      `contains ${unnamed.missing.join(' and ')}, which rule "${unnamed.rule.name}" does not name explicitly`,
    );
  }
  const labels = seg.features.map((f) => FEATURE_MARKERS[f].label);
  const note = labels.length > 0 ? `; it contains ${labels.join(' and ')}, which a rule must name explicitly` : '';
  return verdict(false, `no allow rule matches it (deny by default)${note}`);
}

/** The constructs in a segment that an allow pattern fails to name explicitly. */
function notNamed(seg: Segment, pattern: string): string[] {
  const missing = seg.features.filter((f) => !FEATURE_MARKERS[f].named(pattern)).map((f) => FEATURE_MARKERS[f].label);
  const cmd = seg.argv[0];
  if (cmd !== undefined && WRAPPER_COMMANDS.has(posix.basename(cmd))) {
    const word = quoteWord(cmd);
    if (!pattern.split(' ').some((w) => w === word && !hasWildcard(w))) {
      missing.push(`"${word}", which runs other commands,`);
    }
  }
  return missing;
}

/**
 * The texts a deny rule is tried against: the segment itself, the command by its base name
 * (`/sbin/reboot` is `reboot`), and for wrappers every command they may run (`sudo -n reboot`).
 */
/**
 * The texts deny rules are tried against: the command as written, by the base name of its
 * program, and behind each wrapper (`sudo -n reboot` → `reboot`). `words` are the argv as the text
 * shows them: quoted, or in their wild form.
 */
function candidatesOf(seg: Segment, words: readonly string[], whole: string): string[] {
  const out = [whole];
  const first = seg.argv[0];
  if (first === undefined) return out;
  out.push([posix.basename(first), ...words.slice(1)].join(' '));
  if (seg.argv.some((a) => WRAPPER_COMMANDS.has(posix.basename(a)))) {
    for (let i = 1; i < seg.argv.length; i++) out.push([posix.basename(seg.argv[i] as string), ...words.slice(i + 1)].join(' '));
  }
  return out;
}

function denyCandidates(seg: Segment): string[] {
  return candidatesOf(seg, seg.argv.map(quoteWord), seg.text);
}

/** The same, with the names the shell's wildcards may expand to: only when an argument has any. */
function wildCandidates(seg: Segment): string[] {
  return seg.wild && seg.argv.length > 0 ? candidatesOf(seg, seg.wild, seg.wild.join(' ')) : [];
}

function summary(matched: Map<string, PolicyRule>): Decision['matched_rules'] {
  return [...matched.values()].map((r) => ({ name: r.name, action: r.action, source: r.source }));
}

function clip(text: string): string {
  return text.length <= DISPLAY_LIMIT ? text : `${text.slice(0, DISPLAY_LIMIT)}… (${text.length - DISPLAY_LIMIT} more characters)`;
}
