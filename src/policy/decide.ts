/**
 * Where the policy is decided: decide(host, command) → allow, ask or deny, segment by segment, naming
 * the rules that matched. The order of the checks follows docs/policy.md, "How a command is decided".
 */
import { posix } from 'node:path';
import type { PolicyRule, PolicySet } from '../config/load-policy.js';
import { BUILTIN_DENY_SUBSTRINGS, EVALUATING_BUILTINS, WRAPPER_COMMANDS } from './builtin.js';
import { DenyIndex } from './deny-patterns.js';
import { rememberDecisions } from './decision-memo.js';
import { strictestTerms, type ApprovalTermsView, type Decision, type SegmentVerdict, type Verdict } from './decision.js';
import { DEFAULTS } from '../defaults.js';
import { globMatch, globsIntersect } from '../glob.js';
import { whole } from '../errors.js';
import type { Principal } from '../principal.js';
import { ruleAppliesTo, ruleConsidered, ruleForElevation } from './rule-scope.js';
import { effectiveLimits, type HostRef } from './limits.js';
import { compileNetwork, type NetworkCheck } from './network.js';
import type { Dialect } from './lexer.js';
import type { Feature, ParseResult, Segment, ShellParser } from './parse.js';
import {
  changesDirectory,
  codeArguments,
  commandName,
  commandPositions,
  evaluationProblem,
  mustBeNamed,
  type CodeArgument,
} from './programs.js';
import { quoteWord, WILD_ALL, WILD_MARK } from './words.js';
import { setBounded } from '../bounded-map.js';

export interface DecideOptions {
  /** The command starts there (a call's workdir), not in the login directory. */
  workdir?: string;
  /** Who asks. Without one, the rules with `callers:` are considered as `ruleConsidered` says. */
  principal?: Principal;
  /** The user the call elevates to (`become`); without it, the call does not elevate. */
  become?: string;
}

export interface PolicyEngine {
  readonly policy: PolicySet;
  readonly denySubstrings: readonly string[];
  readonly network: NetworkCheck;
  decide(host: HostRef, command: string, options?: DecideOptions): Decision;
  /** The rules that apply to a host, deny and allow alike, whoever the caller (each names its `callers`). */
  rulesFor(host: HostRef): PolicyRule[];
}

export { ruleConsidered, ruleForElevation } from './rule-scope.js';

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
/**
 * The most text (all candidates of a segment together) tried against deny rules, and the most
 * words behind a wrapper: past these a segment is denied rather than judged slowly, so that every
 * decision stays within milliseconds whatever the input.
 */
const CANDIDATE_BUDGET = 32 * 1024;
const WILD_WORK = 1_000_000;
const MAX_WRAPPED_WORDS = 128;
/** How deep `sh -c "sh -c '…'"` may nest before the engine stops reading. */
const MAX_CODE_NESTING = 4;

/** A deny (or ask) pattern as a rule wrote it; its widened variants are in the engine's DenyIndex. */
interface DenyPattern {
  rule: PolicyRule;
  pattern: string;
}

export interface EngineOptions {
  /** How many decisions the engine remembers (decision-memo.ts); 0: none, each is made afresh. */
  remember?: number;
}

export function createPolicyEngine(policy: PolicySet, parser: ShellParser, options: EngineOptions = {}): PolicyEngine {
  const denySubstrings = [...new Set([...BUILTIN_DENY_SUBSTRINGS, ...policy.denySubstrings])];
  const network = compileNetwork(policy.network);

  const rulesFor = (host: HostRef): PolicyRule[] => policy.rules.filter((r) => ruleAppliesTo(r, host));
  const denyIndex = new DenyIndex<DenyPattern>();
  // Ask patterns are matched as deny patterns are (widened, behind wrappers) to find what needs
  // approval, and as allow patterns are (exact text, constructs named) to find what may be approved.
  const askIndex = new DenyIndex<DenyPattern>();
  for (const rule of policy.rules) {
    const index = rule.action === 'deny' ? denyIndex : rule.action === 'ask' ? askIndex : undefined;
    if (index) for (const pattern of rule.commands) index.add({ rule, pattern }, pattern);
  }
  const indexes = { deny: denyIndex, ask: askIndex };
  // A fan-out decides one command for many hosts: parse it once. Results are never modified.
  const parsed = new Map<string, ReturnType<ShellParser['parse']>>();
  const parseOnce = (command: string, dialect: Dialect) => {
    const key = `${dialect}\0${command}`;
    let p = parsed.get(key);
    if (!p) {
      p = parser.parse(command, dialect);
      setBounded(parsed, key, p, 256);
    }
    return p;
  };

  function decide(host: HostRef, command: string, options: DecideOptions = {}): Decision {
    const limits = effectiveLimits(policy, host).values;
    const { principal, become } = options;
    const caller = principal ? { name: principal.name, roles: [...principal.roles] } : null;
    const base = { alias: host.alias, command: clip(command), caller, become: become ?? null, limits };
    const parsed = parseOnce(command, host.shell ?? 'bash');
    if (!parsed.ok) {
      const segment: SegmentVerdict = {
        text: clip(command.replace(/\s+/g, ' ').trim()),
        verdict: 'deny',
        allowed: false,
        rule: null,
        source: null,
        reason: parsed.reason,
        nested: false,
        tty: false,
        stdin: false,
      };
      return {
        ...base,
        verdict: 'deny',
        allowed: false,
        tty_allowed: false,
        stdin_allowed: false,
        reason: parsed.reason,
        segments: [segment],
        matched_rules: [],
        approval: null,
      };
    }

    const forHost = rulesFor(host).filter((r) => ruleForElevation(r, become));
    const rules = forHost.filter((r) => ruleConsidered(r, principal));
    // Allow rules for other callers, named when they would have allowed a denied segment.
    const othersAllow = forHost.filter((r) => r.action === 'allow' && !ruleConsidered(r, principal));
    // Allow rules for the other kind of call (elevated or not), named the same way.
    const otherElevation = rulesFor(host).filter(
      (r) => r.action === 'allow' && !ruleForElevation(r, become) && ruleConsidered(r, principal),
    );
    const matched = new Map<string, PolicyRule>();
    const all = withNestedCode(parsed.segments, parseOnce, 0);
    // A segment repeated in one command is judged once.
    const judged = new Map<string, SegmentVerdict>();
    // After a cd (pushd, popd) a relative path may lead anywhere: deny rules then see each
    // relative word as under any directory.
    // A call's workdir is a cd before the command: judged exactly as one.
    let moved = options.workdir !== undefined;
    const segments = all.map((seg) => {
      // A command that runs elsewhere itself (env -C /etc cat shadow) is judged as moved too.
      if (commandPositions(seg.argv).some((at) => changesDirectory(seg.argv, at))) moved = true;
      const key = JSON.stringify([seg.text, seg.argv, seg.wild, seg.dynamic, seg.features, seg.unsupported, moved]);
      let v = judged.get(key);
      if (!v)
        judged.set(
          key,
          (v = judge(
            moved ? relocated(seg) : seg,
            rules,
            indexes,
            matched,
            { othersAllow, otherElevation, become },
            principal !== undefined,
          )),
        );
      return { ...v, nested: seg.nested };
    });

    const substring = denySubstrings.find((s) => command.includes(s) || all.some((g) => g.text.includes(s)));
    if (substring !== undefined) {
      const reason = `contains the denied substring "${substring}"`;
      for (const v of segments) {
        if (v.verdict !== 'deny' && v.text.includes(substring))
          Object.assign(v, { verdict: 'deny', allowed: false, rule: null, source: null, reason, tty: false, stdin: false });
      }
      const decided = { verdict: 'deny' as const, allowed: false, tty_allowed: false, stdin_allowed: false };
      return { ...base, ...decided, reason, segments, matched_rules: summary(matched), approval: null };
    }
    const denied = segments.find((v) => v.verdict === 'deny');
    const asked = segments.find((v) => v.verdict === 'ask');
    const verdict: Verdict = denied ? 'deny' : asked ? 'ask' : 'allow';
    const reason = denied
      ? `"${denied.text}" is denied: ${denied.reason}`
      : asked
        ? `"${asked.text}" needs approval (ask rule "${asked.rule}" at ${asked.source})`
        : `every command is allowed (${[...new Set(segments.map((v) => `rule "${v.rule}"`))].join(', ')})`;
    // With a terminal, every segment needs an allow rule that says so (not only the first that matched).
    const ttyAllowed = verdict === 'allow' && segments.every((v) => v.tty);
    // So with stdin: the engine never sees the data, so every part must be allowed to read it.
    const stdinAllowed = verdict === 'allow' && segments.every((v) => v.stdin);
    return {
      ...base,
      verdict,
      allowed: verdict === 'allow',
      tty_allowed: ttyAllowed,
      stdin_allowed: stdinAllowed,
      reason,
      segments,
      matched_rules: summary(matched),
      approval: verdict === 'ask' ? approvalTerms(segments, forHost) : null,
    };
  }

  return { policy, denySubstrings, network, decide: rememberDecisions(decide, options.remember), rulesFor };
}

/**
 * The segments with, after each, the commands of the sh or bash `-c` strings it runs, read as
 * commands of their own in that shell's dialect; a string that cannot be read denies its segment.
 * Parsed segments are shared through the cache, so they are copied, never changed.
 */
function withNestedCode(segments: readonly Segment[], parse: (code: string, dialect: Dialect) => ParseResult, depth: number): Segment[] {
  const out: Segment[] = [];
  for (const seg of segments) {
    const inner: Segment[] = [];
    let problem: string | undefined;
    for (const code of seg.unsupported ? [] : allCode(seg.argv)) {
      if (!code.shell) continue;
      const shell = commandName(seg.argv[code.at] as string);
      if (depth >= MAX_CODE_NESTING) {
        problem = `shell code nested more than ${MAX_CODE_NESTING} deep`;
        break;
      }
      const r = parse(seg.argv[code.shell.index] as string, code.shell.dialect);
      if (!r.ok) {
        problem = `the code ${shell} -c runs, where ${r.reason}`;
        break;
      }
      inner.push(...withNestedCode(r.segments, parse, depth + 1).map((s) => ({ ...s, nested: true })));
    }
    out.push(problem ? { ...seg, unsupported: problem } : seg, ...inner);
  }
  return out;
}

/** Every code argument of every command a segment's words may start. */
function allCode(argv: readonly string[]): (CodeArgument & { at: number })[] {
  if (argv.length > MAX_WRAPPED_WORDS && WRAPPER_COMMANDS.has(commandName(argv[0] as string))) return [];
  return commandPositions(argv).flatMap((at) => codeArguments(argv, at).map((c) => ({ ...c, at })));
}

const RUNNERS = [...WRAPPER_COMMANDS, ...EVALUATING_BUILTINS];
const RUNNER_MEMO_SIZE = 1024;
const runnerMemo = new Map<string, string | null>();

/**
 * The first program that runs or evaluates other commands which a wildcard command name could
 * expand to. Remembered per name: a hostile command repeats one word as often as it likes, and
 * each answer costs one intersection per runner.
 */
function runnerItCouldName(name: string): string | undefined {
  let could = runnerMemo.get(name);
  if (could === undefined) {
    could = RUNNERS.find((w) => globsIntersect(w, name)) ?? null;
    if (runnerMemo.size >= RUNNER_MEMO_SIZE) runnerMemo.clear();
    runnerMemo.set(name, could);
  }
  return could ?? undefined;
}

/** Why no rule can allow this segment, whatever the policy says, or undefined. */
function neverAllowed(seg: Segment): string | undefined {
  if (seg.unsupported) return `${seg.unsupported} is not supported; no rule can allow it`;
  const positions = commandPositions(seg.argv);
  if (positions.length > MAX_WRAPPED_WORDS) {
    return `more than ${MAX_WRAPPED_WORDS} words after "${quoteWord(seg.argv[0] as string)}", which runs other commands, are too many to judge`;
  }
  const dynamic = new Set(seg.dynamic ?? []);
  for (const at of positions) {
    // A computed word where a command may stand, or given to a program that runs or evaluates
    // its arguments, could be anything: such a command cannot be judged.
    if (dynamic.has(at))
      return `a command name that comes from an expansion or substitution (${clip(quoteWord(seg.argv[at] as string))}); no rule can allow it`;
    if (mustBeNamed(seg.argv[at] as string) && [...dynamic].some((d) => d > at)) {
      return `an expansion or substitution given to "${quoteWord(seg.argv[at] as string)}", which runs other commands or evaluates its arguments; no rule can allow it`;
    }
    const problem = evaluationProblem(seg.argv, at);
    if (problem) return `${problem}, is never allowed`;
    // A wildcard where a wrapped command's name stands could expand to a name no rule names.
    const wild = at > 0 ? seg.wild?.[at] : undefined;
    if (wild !== undefined && WILD_MARK.test(wild)) {
      const name = commandName(wild);
      const could = runnerItCouldName(name);
      if (could)
        return `a wildcard where a command run by "${quoteWord(seg.argv[0] as string)}" may stand (it could expand to "${could}"); no rule can allow it`;
    }
  }
  return undefined;
}

/**
 * The patterns of an index (deny or ask rules) that match a segment, tried against every candidate
 * text, or why the segment is too costly to judge. `work` is shared by the calls for one segment.
 */
function hitsIn(
  index: DenyIndex<DenyPattern>,
  candidates: readonly string[],
  wild: readonly string[],
  applicable: ReadonlySet<PolicyRule>,
  work: { cells: number },
): Set<DenyPattern> | string {
  const hits = new Set<DenyPattern>();
  for (const c of candidates) {
    for (const v of index.for(firstWord(c))) {
      if (!hits.has(v.owner) && applicable.has(v.owner.rule) && c.startsWith(v.head) && c.includes(v.needle) && globMatch(v.text, c))
        hits.add(v.owner);
    }
  }
  // Intersection is quadratic (pattern × text): its total work is bounded, as a count, so a
  // decision takes the same answer on every machine.
  for (const c of wild) {
    const first = firstWord(c);
    for (const v of index.for(WILD_MARK.test(first) ? undefined : first)) {
      if (hits.has(v.owner) || !applicable.has(v.owner.rule) || !headFits(v.head, c)) continue;
      work.cells += (v.text.length + 1) * (c.length + 1);
      if (work.cells > WILD_WORK)
        return 'the wildcards in this command take too long to check against the deny and ask rules; no rule can allow it';
      if (globsIntersect(v.text, c)) hits.add(v.owner);
    }
  }
  return hits;
}

/** The first hit in the policy's order, naming every rule that has one. */
function firstHit(rules: readonly PolicyRule[], hits: ReadonlySet<DenyPattern>, matched: Map<string, PolicyRule>): DenyPattern | undefined {
  let first: DenyPattern | undefined;
  for (const rule of rules) {
    for (const d of hits) {
      if (d.rule !== rule) continue;
      matched.set(rule.name, rule);
      first ??= d;
    }
  }
  return first;
}

/**
 * One segment's verdict: deny if any deny rule matches it (deny patterns widened, tried behind
 * wrappers); else ask if an ask rule matches it as an allow rule would (exact text, constructs
 * named), or matches it as a deny rule would while an allow rule allows it; else allow if an
 * allow rule does; else deny. An ask rule never allows anything an allow rule would not, and
 * without a known caller an ask rule with `callers:` can only turn an allow into an ask.
 */
function judge(
  seg: Segment,
  rules: PolicyRule[],
  indexes: { deny: DenyIndex<DenyPattern>; ask: DenyIndex<DenyPattern> },
  matched: Map<string, PolicyRule>,
  others: { othersAllow: readonly PolicyRule[]; otherElevation: readonly PolicyRule[]; become: string | undefined },
  known: boolean,
): SegmentVerdict {
  const { othersAllow, otherElevation, become } = others;
  const verdict = (allowed: boolean | 'ask', reason: string, rule?: PolicyRule, tty = false, stdin = false): SegmentVerdict => ({
    text: clip(seg.text),
    verdict: allowed === 'ask' ? 'ask' : allowed ? 'allow' : 'deny',
    allowed: allowed === true,
    rule: rule?.name ?? null,
    source: rule?.source ?? null,
    reason,
    nested: seg.nested,
    tty,
    stdin,
  });
  const never = neverAllowed(seg);
  if (never) return verdict(false, never);

  const candidates = denyCandidates(seg);
  const wild = wildCandidates(seg);
  if (wild.some((c) => c.length > WILD_LIMIT)) {
    return verdict(false, `an argument with shell wildcards in a command over ${WILD_LIMIT} characters; no rule can allow it`);
  }
  if ([...candidates, ...wild].reduce((n, c) => n + c.length, 0) > CANDIDATE_BUDGET) {
    return verdict(false, 'the command is too long to judge against the deny rules behind its wrappers; no rule can allow it');
  }
  const applicable = new Set(rules);
  const work = { cells: 0 };
  const denyHits = hitsIn(indexes.deny, candidates, wild, applicable, work);
  if (typeof denyHits === 'string') return verdict(false, denyHits);
  // The first in the policy's order decides; every one is named.
  const deny = firstHit(rules, denyHits, matched);
  const askHits = hitsIn(indexes.ask, candidates, wild, applicable, work);
  if (typeof askHits === 'string') return verdict(false, askHits);
  const ask = firstHit(rules, askHits, matched);
  const code = allCode(seg.argv);
  // An ask rule matching as an allow rule would: the segment may run once a person approves it.
  let approvable: { rule: PolicyRule; pattern: string } | undefined;
  for (const rule of rules) {
    if (rule.action !== 'ask' || (!known && rule.callers !== null)) continue;
    for (const pattern of rule.commands) {
      if (globMatch(pattern, seg.text) && notNamed(seg, pattern, code).length === 0) {
        approvable = { rule, pattern };
        break;
      }
    }
    if (approvable) break;
  }
  let allow: { rule: PolicyRule; pattern: string } | undefined;
  // Any matching allow rule with `tty: true` lets the segment have a terminal, whatever the order.
  let ttyAllow: { rule: PolicyRule; pattern: string } | undefined;
  let stdinAllowed = false;
  let unnamed: { rule: PolicyRule; missing: string[] } | undefined;
  for (const rule of rules) {
    if (rule.action !== 'allow') continue;
    for (const pattern of rule.commands) {
      if (!globMatch(pattern, seg.text)) continue;
      const missing = notNamed(seg, pattern, code);
      if (missing.length === 0) {
        matched.set(rule.name, rule);
        allow ??= { rule, pattern };
        if (rule.tty) ttyAllow ??= { rule, pattern };
        if (rule.stdin) stdinAllowed = true;
      } else {
        unnamed ??= { rule, missing };
      }
    }
  }
  if (approvable) matched.set(approvable.rule.name, approvable.rule);
  if (deny) return verdict(false, `matches deny rule "${deny.rule.name}" (pattern "${deny.pattern}")`, deny.rule);
  if (approvable) {
    return verdict(
      'ask',
      `matches ask rule "${approvable.rule.name}" (pattern "${approvable.pattern}"): it needs approval`,
      approvable.rule,
    );
  }
  if (allow && ask) {
    return verdict(
      'ask',
      `matches allow rule "${allow.rule.name}" (pattern "${allow.pattern}"), and ask rule "${ask.rule.name}" (pattern "${ask.pattern}") makes it need approval`,
      ask.rule,
    );
  }
  if (allow) {
    const tty =
      ttyAllow && ttyAllow.rule !== allow.rule
        ? `; with a terminal by allow rule "${ttyAllow.rule.name}" (pattern "${ttyAllow.pattern}")`
        : '';
    return verdict(
      true,
      `matches allow rule "${allow.rule.name}" (pattern "${allow.pattern}")${tty}`,
      allow.rule,
      ttyAllow !== undefined,
      stdinAllowed,
    );
  }
  if (unnamed) {
    return verdict(false, `contains ${unnamed.missing.join(' and ')}, which rule "${unnamed.rule.name}" does not name literally`);
  }
  const labels = seg.features.map((f) => FEATURE_MARKERS[f].label);
  const note = labels.length > 0 ? `; it contains ${labels.join(' and ')}, which a rule must name explicitly` : '';
  const other = othersAllow.find((r) => r.commands.some((p) => globMatch(p, seg.text)));
  const forOthers = other
    ? `; allow rule "${other.name}" matches it but applies only to callers ${(other.callers ?? []).join(', ')}${known ? '' : ', and no caller was given'}`
    : '';
  const elevated = otherElevation.find((r) => r.commands.some((p) => globMatch(p, seg.text)));
  const forElevation = !elevated
    ? ''
    : become === undefined
      ? `; allow rule "${elevated.name}" matches it but applies only to calls that elevate to ${(elevated.become ?? []).join(', ')} (become)`
      : `; allow rule "${elevated.name}" matches it but ${elevated.become === null ? 'not with become' : `elevates only to ${elevated.become.join(', ')}`}, and this call elevates to ${become}`;
  return verdict(false, `no allow rule matches it (deny by default)${note}${forOthers}${forElevation}`);
}

/**
 * What an allow pattern fails to name explicitly: constructs, every word that runs other
 * commands or evaluates its arguments, and every code flag or program (literally, as written).
 */
function notNamed(seg: Segment, pattern: string, code: readonly CodeArgument[]): string[] {
  // A construct is named outside quotes: the `$1` of `awk '{print $1}' *` names no expansion.
  const unquoted = pattern.replace(/'[^']*'/g, "''");
  const missing = seg.features.filter((f) => !FEATURE_MARKERS[f].named(unquoted)).map((f) => FEATURE_MARKERS[f].label);
  // A quoted word may hold spaces (`awk '{print $1}'`): look for it whole, between spaces.
  const padded = ` ${pattern} `;
  const named = (i: number) => padded.includes(` ${quoteWord(seg.argv[i] as string)} `);
  for (const at of commandPositions(seg.argv)) {
    if (mustBeNamed(seg.argv[at] as string) && !named(at))
      missing.push(`"${quoteWord(seg.argv[at] as string)}" (it runs other commands or evaluates its arguments)`);
  }
  for (const c of code) {
    if (!c.shell && !named(c.index)) missing.push(`"${clip(quoteWord(seg.argv[c.index] as string))}" (code)`);
  }
  return [...new Set(missing)];
}

function firstWord(text: string): string {
  const space = text.indexOf(' ');
  return space === -1 ? text : text.slice(0, space);
}

/** Whether a text with shell wildcards may start with `head`. */
function headFits(head: string, wild: string): boolean {
  const stop = wild.search(WILD_MARK);
  const n = Math.min(head.length, stop === -1 ? wild.length : stop);
  return head.slice(0, n) === wild.slice(0, n);
}

/**
 * The texts deny rules are tried against: the command as written, by the base name of its
 * program, and behind each wrapper (`sudo -n reboot` → `reboot`), each also with paths
 * normalised (`/etc//./shadow` → `/etc/shadow`) and short option bundles spelled out
 * (`-qH` → `-q -H`). `words` are the argv as the text shows them: quoted, or in their wild form.
 */
function candidatesOf(seg: Segment, words: readonly string[], whole: string, wild: boolean): string[] {
  const out = new Set([whole]);
  if (seg.argv.length === 0) return [...out];
  const normalised = words.map(normalisePath);
  const spellings = wild ? [words, normalised] : [words, normalised, normalised.map(spellOutOptions)];
  const starts = commandPositions(seg.argv);
  for (const spelled of spellings) {
    out.add(spelled.join(' '));
    for (const i of starts) {
      const name = wild ? commandName(words[i] as string) : quoteWord(commandName(seg.argv[i] as string));
      out.add([name, ...spelled.slice(i + 1)].join(' '));
    }
  }
  return [...out];
}

/** The segment with each relative argument also under an unknown directory, for deny rules. */
function relocated(seg: Segment): Segment {
  if (seg.argv.length < 2) return seg;
  const words = seg.argv.map((a, i) => seg.wild?.[i] ?? quoteWord(a));
  const wild = words.map((w, i) => (i === 0 || w.startsWith('/') || w.startsWith('-') ? w : `${WILD_ALL}/${w}`));
  return { ...seg, wild };
}

function denyCandidates(seg: Segment): string[] {
  return candidatesOf(seg, seg.argv.map(quoteWord), seg.text, false);
}

/** The same, with the names the shell's wildcards may expand to: only when an argument has any. */
function wildCandidates(seg: Segment): string[] {
  return seg.wild && seg.argv.length > 0 ? candidatesOf(seg, seg.wild, seg.wild.join(' '), true) : [];
}

/** A path spelled the short way (`//`, `/./`, `x/..` resolved lexically); other words as they are. */
function normalisePath(word: string): string {
  return word.includes('/') ? posix.normalize(word) : word;
}

/** A bundle of short options spelled out (`-qH` → `-q -H`; `-n5` → `-n -5`); other words as they are. */
function spellOutOptions(word: string): string {
  const m = /^-([A-Za-z0-9]{2,})(.*)$/.exec(word);
  if (!m) return word;
  const flags = [...(m[1] as string)].map((f) => `-${f}`);
  return `${flags.join(' ')}${m[2]}`;
}

function summary(matched: Map<string, PolicyRule>): Decision['matched_rules'] {
  return [...matched.values()].map((r) => ({ name: r.name, action: r.action, source: r.source }));
}

function clip(text: string): string {
  return text.length <= DISPLAY_LIMIT ? text : `${whole(text, DISPLAY_LIMIT)}… (${text.length - DISPLAY_LIMIT} more characters)`;
}

/** The terms of approval of an ask decision: of its ask rules' terms, the strictest of each. */
function approvalTerms(segments: readonly SegmentVerdict[], rules: readonly PolicyRule[]): ApprovalTermsView {
  const bySource = new Map(rules.map((r) => [r.source, r]));
  const asking = [...new Set(segments.filter((v) => v.verdict === 'ask').map((v) => v.source))].flatMap((source) => {
    const rule = source === null ? undefined : bySource.get(source);
    if (!rule?.approval) return [];
    const t = rule.approval;
    return [
      {
        approve_by: t.approveBy,
        timeout_seconds: t.timeoutSeconds,
        four_eyes: t.fourEyes,
        grant_minutes: t.grantMinutes,
        rules: [{ name: rule.name, source: rule.source }],
      },
    ];
  });
  return strictestTerms(asking, { approve_by: DEFAULTS.approval.approveBy, timeout_seconds: DEFAULTS.approval.timeoutSeconds });
}
