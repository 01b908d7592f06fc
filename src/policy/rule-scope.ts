/**
 * Which rules a call is judged by: those for its host, its caller and its elevation. Command rules
 * (decide.ts) and file rules (file-decision.ts) are scoped the same way, by these functions.
 */
import { globMatch } from '../glob.js';
import { callerMatches, type Principal } from '../principal.js';
import type { HostRef } from './limits.js';

/** What scopes a rule, command or file rule alike. */
export interface ScopedRule {
  action: 'allow' | 'ask' | 'deny';
  aliases: readonly string[];
  tags: readonly string[];
  callers: readonly string[] | null;
  become: readonly string[] | null;
}

/** Whether a rule is for this host: an alias glob matches (none: every alias), and a tag glob one of its tags (none: any). */
export function ruleAppliesTo(rule: Pick<ScopedRule, 'aliases' | 'tags'>, host: Pick<HostRef, 'alias' | 'tags'>): boolean {
  if (rule.aliases.length > 0 && !rule.aliases.some((g) => globMatch(g, host.alias))) return false;
  if (rule.tags.length > 0 && !rule.tags.some((g) => host.tags.some((t) => globMatch(g, t)))) return false;
  return true;
}

/**
 * Whether a rule is considered for a caller. A rule without `callers:` is considered for everyone.
 * One with `callers:` is considered for a principal it names (by name or role) and not for other
 * principals. Without a principal the caller could be anyone, so it fails closed: an allow rule
 * with `callers:` is not considered, a deny rule with `callers:` is, and so is an ask rule with
 * `callers:`, but only to make an allowed command need approval, never to make a denied one
 * approvable (see `judge` in decide.ts).
 */
export function ruleConsidered(rule: Pick<ScopedRule, 'action' | 'callers'>, principal: Principal | undefined): boolean {
  if (rule.callers === null) return true;
  if (principal === undefined) return rule.action !== 'allow';
  return callerMatches(principal, rule.callers);
}

/**
 * Whether a rule is considered for a call that elevates to `become` (undefined: it does not). An
 * allow or ask rule grants what it names only to the calls it was written for: one without
 * `become:` to calls that do not elevate, one with it to calls that elevate to a user it lists. A
 * deny rule without `become:` holds for every call, elevated or not; one with it only for calls
 * that elevate to a user it lists. So elevation can only be allowed by a rule that says so.
 */
export function ruleForElevation(rule: Pick<ScopedRule, 'action' | 'become'>, become: string | undefined): boolean {
  if (rule.become === null) return become === undefined || rule.action === 'deny';
  return become !== undefined && rule.become.includes(become);
}
