/**
 * The limits in force for one host: built-in defaults, then the policy's `limits:`, then the
 * overrides of the host's tags, then the override of its alias. When several of a host's tags set
 * the same limit, the smallest value wins, so the order of tags in the inventory never matters.
 */
import type { LimitKey, Limits, PolicySet } from '../config/load-policy.js';
import type { Dialect } from './lexer.js';

export interface HostRef {
  alias: string;
  tags: readonly string[];
  /** The interpreter the host pins (inventory `shell:`); bash when absent. */
  shell?: Dialect;
}

export interface EffectiveLimits {
  values: Limits;
  /** Where each value came from: `default`, `policy`, `tag:web`, `alias:db1`. */
  sources: Record<LimitKey, string>;
}

export function effectiveLimits(policy: PolicySet, host: HostRef): EffectiveLimits {
  const values = { ...policy.limits };
  const sources = Object.fromEntries(
    Object.keys(values).map((k) => [k, policy.limitsSetBy[k as LimitKey] ? 'policy' : 'default']),
  ) as Record<LimitKey, string>;
  const byTag: Partial<Record<LimitKey, { value: number; tag: string }>> = {};
  for (const tag of host.tags) {
    const o = policy.overrides.tags[tag];
    if (!o) continue;
    for (const [k, v] of Object.entries(o) as [LimitKey, number | undefined][]) {
      if (v === undefined) continue;
      const prev = byTag[k];
      if (!prev || v < prev.value) byTag[k] = { value: v, tag };
    }
  }
  for (const [k, t] of Object.entries(byTag) as [LimitKey, { value: number; tag: string }][]) {
    values[k] = t.value;
    sources[k] = `tag:${t.tag}`;
  }
  const own = policy.overrides.aliases[host.alias];
  for (const [k, v] of Object.entries(own ?? {}) as [LimitKey, number | undefined][]) {
    if (v === undefined) continue;
    values[k] = v;
    sources[k] = `alias:${host.alias}`;
  }
  return { values, sources };
}
