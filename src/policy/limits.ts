/**
 * The limits in force for one host: built-in defaults, then the policy's `limits:`, then the
 * overrides of the host's tags, then the override of its alias. When several of a host's tags set
 * the same limit, the smallest value wins, so the order of tags in the inventory never matters.
 * The rate limits of a principal on a host take the same overrides (rate-limits.ts).
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

/** The limits a task runs under: a host's limits but the file cap, which file operations read from their decision. */
export function taskLimits(limits: Limits): Omit<Limits, 'max_file_bytes'> {
  const { max_seconds, max_output_bytes, max_concurrent_per_host, task_result_ttl } = limits;
  return { max_seconds, max_output_bytes, max_concurrent_per_host, task_result_ttl };
}

export function effectiveLimits(policy: PolicySet, host: HostRef): EffectiveLimits {
  const keys = Object.keys(policy.limits) as LimitKey[];
  const values = { ...policy.limits };
  const sources = Object.fromEntries(keys.map((k) => [k, policy.limitsSetBy[k] ? 'policy' : 'default'])) as Record<LimitKey, string>;
  applyHostOverrides(policy, host, keys, values, sources);
  return { values, sources };
}

/**
 * Sets `keys` of `values` from the overrides of the host's tags (the smallest value of its tags
 * wins), then of its alias (which wins over everything), and says so in `sources`. The same
 * overrides also hold the keys of other limits (rate limits): only `keys` are read.
 */
export function applyHostOverrides<K extends string>(
  policy: PolicySet,
  host: Pick<HostRef, 'alias' | 'tags'>,
  keys: readonly K[],
  values: Record<K, number>,
  sources: Record<K, string>,
): void {
  const set = (o: Partial<Record<string, number>> | undefined, k: K) => (o ? o[k] : undefined);
  const byTag: Partial<Record<K, { value: number; tag: string }>> = {};
  for (const tag of host.tags) {
    const o = policy.overrides.tags[tag];
    for (const k of keys) {
      const v = set(o, k);
      if (v === undefined) continue;
      const prev = byTag[k];
      if (!prev || v < prev.value) byTag[k] = { value: v, tag };
    }
  }
  const own = policy.overrides.aliases[host.alias];
  for (const k of keys) {
    const t = byTag[k];
    if (t) {
      values[k] = t.value;
      sources[k] = `tag:${t.tag}`;
    }
    const v = set(own, k);
    if (v !== undefined) {
      values[k] = v;
      sources[k] = `alias:${host.alias}`;
    }
  }
}
