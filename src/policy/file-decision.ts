/**
 * Where file operations are decided: decideFile(policy, host, {access, path}) → allow or deny,
 * naming the file rule that decided. The order follows docs/policy.md, "files: what may be read
 * and written": the path's spelling, then deny rules, then allow rules, else deny.
 */
import type { PolicyFileRule, PolicySet } from '../config/load-policy.js';
import { pathSpellingProblem } from '../config/file-formats.js';
import { globMatch } from '../glob.js';
import type { Principal } from '../principal.js';
import type { InputProblem } from './command-input.js';
import type { FileAccess, FileDecision } from './decision.js';
import { effectiveLimits, type HostRef } from './limits.js';
import { ruleAppliesTo, ruleConsidered, ruleForElevation } from './rule-scope.js';

export interface FileRequest {
  access: FileAccess;
  /** As the caller gave it: judged as written, never normalised. */
  path: string;
  /** Who asks; without one, rules with `callers:` are considered as `ruleConsidered` says. */
  principal?: Principal;
  /** The user the operation elevates to (`become`); without it, it does not elevate. */
  become?: string;
}

/** How a reason names an access: "reading /x", "writing /x". */
const DOING: Record<FileAccess, string> = { read: 'reading', write: 'writing' };

/** Paths are shown whole up to this many characters in a reason. */
const SHOWN_PATH = 200;

/**
 * Why a caller's path is refused before any rule is read, or undefined when it is written the one
 * way sshgate judges: absolute, no `.`, `..` or empty component, no trailing `/`, no NUL or other
 * control character, at most 4096 bytes. Refused, never normalised, so that no spelling of a path
 * reaches past the rules; the tools turn it into an invalid_input error with the hint.
 */
export function filePathProblem(path: string): InputProblem | undefined {
  const p = pathSpellingProblem(path);
  return p ? { reason: `the path ${shownPath(path)} ${p.problem}`, hint: p.fix } : undefined;
}

/** The file rules for a host, deny and allow alike, whoever the caller (each names its `callers`). */
export function fileRulesFor(policy: PolicySet, host: Pick<HostRef, 'alias' | 'tags'>): PolicyFileRule[] {
  return policy.fileRules.filter((r) => ruleAppliesTo(r, host));
}

/**
 * The decision for one file operation on one host: denied when the path is not written the one
 * way; else denied when any deny rule considered matches it for this access (deny wins, whatever
 * the order); else allowed when an allow rule considered does; else denied. Rules are considered
 * for the caller and the elevation exactly as command rules are. The size cap is the host's
 * max_file_bytes, lowered by the caps of every allow rule that matched: a rule's cap holds
 * wherever it allows, even when another rule allows the same path too.
 */
export function decideFile(policy: PolicySet, host: HostRef, request: FileRequest): FileDecision {
  const { access, path, principal, become } = request;
  const hostCap = effectiveLimits(policy, host).values.max_file_bytes;
  const base = {
    alias: host.alias,
    access,
    path,
    caller: principal ? { name: principal.name, roles: [...principal.roles] } : null,
    become: become ?? null,
  };
  const deny = (reason: string, rule: PolicyFileRule | null, matched: readonly PolicyFileRule[] = []): FileDecision => ({
    ...base,
    verdict: 'deny',
    allowed: false,
    rule: rule && { name: rule.name, source: rule.source },
    reason,
    matched_rules: matched.map(summary),
    max_file_bytes: hostCap,
  });
  const spelling = filePathProblem(path);
  if (spelling) return deny(`${spelling.reason}: ${spelling.hint}`, null);

  const forHost = fileRulesFor(policy, host);
  const considered = forHost.filter((r) => ruleForElevation(r, become) && ruleConsidered(r, principal));
  const matched = considered.filter((r) => r[access].some((p) => globMatch(p, path)));
  const denying = matched.find((r) => r.action === 'deny');
  if (denying) {
    return deny(
      `denied by rule "${denying.name}" (${denying.source}): pattern "${patternOf(denying, access, path)}" forbids ${DOING[access]} ${shownPath(path)} on ${host.alias}`,
      denying,
      matched,
    );
  }
  const allowing = matched.filter((r) => r.action === 'allow');
  const first = allowing[0];
  if (!first) return deny(`no file rule allows ${DOING[access]} ${shownPath(path)} on ${host.alias}${whyNot(forHost, request)}`, null);
  const caps = allowing.flatMap((r) => (r.maxFileBytes === null ? [] : [r.maxFileBytes]));
  const capped = caps.length > 0 && Math.min(...caps) < hostCap;
  const cap = capped ? Math.min(...caps) : hostCap;
  const capNote = capped ? `; at most ${cap} bytes (max_file_bytes of rule "${allowing.find((r) => r.maxFileBytes === cap)?.name}")` : '';
  return {
    ...base,
    verdict: 'allow',
    allowed: true,
    rule: { name: first.name, source: first.source },
    reason: `allowed by rule "${first.name}" (${first.source}): pattern "${patternOf(first, access, path)}" allows ${DOING[access]} ${shownPath(path)}${capNote}`,
    matched_rules: matched.map(summary),
    max_file_bytes: cap,
  };
}

/**
 * What a denial by default adds for a person: the allow rule that would have allowed the path
 * for another caller, another elevation or the other access, if there is one.
 */
function whyNot(forHost: readonly PolicyFileRule[], request: FileRequest): string {
  const { access, path, principal, become } = request;
  const allows = (r: PolicyFileRule, a: FileAccess) => r.action === 'allow' && r[a].some((p) => globMatch(p, path));
  const forCaller = forHost.find((r) => allows(r, access) && ruleForElevation(r, become) && !ruleConsidered(r, principal));
  if (forCaller) {
    const who = (forCaller.callers ?? []).join(', ');
    return `; rule "${forCaller.name}" allows it but only for callers ${who}${principal ? '' : ', and no caller was given'}`;
  }
  const forElevation = forHost.find((r) => allows(r, access) && ruleConsidered(r, principal) && !ruleForElevation(r, become));
  if (forElevation) {
    return become === undefined
      ? `; rule "${forElevation.name}" allows it only for calls that elevate to ${(forElevation.become ?? []).join(', ')} (become)`
      : `; rule "${forElevation.name}" allows it ${forElevation.become === null ? 'only without become' : `only elevating to ${forElevation.become.join(', ')}`}, and this call elevates to ${become}`;
  }
  const other: FileAccess = access === 'read' ? 'write' : 'read';
  const otherAccess = forHost.find((r) => allows(r, other) && ruleForElevation(r, become) && ruleConsidered(r, principal));
  // Writing does not imply reading, nor reading writing: say so where a rule allows the other.
  return otherAccess ? `; rule "${otherAccess.name}" allows ${DOING[other]} it, not ${DOING[access]}` : '';
}

/** The first of a rule's patterns for `access` that matches `path`. */
function patternOf(rule: PolicyFileRule, access: FileAccess, path: string): string {
  return rule[access].find((p) => globMatch(p, path)) ?? '';
}

function summary(rule: PolicyFileRule): FileDecision['matched_rules'][number] {
  return { name: rule.name, action: rule.action, source: rule.source };
}

/**
 * A path in a reason: as it is when it is plain printable ASCII; else quoted, with every character
 * outside printable ASCII escaped, so that a look-alike letter or a control character shows as
 * what it is. Cut short when very long.
 */
function shownPath(path: string): string {
  const chars = [...path];
  const cut = chars.length > SHOWN_PATH;
  const start = cut ? chars.slice(0, SHOWN_PATH).join('') : path;
  const more = cut ? `… (${chars.length} characters)` : '';
  if (/^[\x21-\x7e]*$/.test(start) && !/["\\]/.test(start)) return `${start}${more}`;
  const escaped = JSON.stringify(start).replace(/[^\x20-\x7e]/gu, (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`);
  return `${escaped}${more}`;
}
