/**
 * Rate limits and quotas per principal, and per principal on one host (docs/policy.md): a token
 * bucket for a principal's tool calls, one for the commands it starts on each host, and counts of
 * the commands it starts per UTC day, on all hosts and on each. A check consumes only when every
 * limit it checks allows; otherwise it consumes nothing and says which limit refused and when to
 * retry. Buckets live in memory (a restart refills them); the day's counts are kept by a
 * DayCounts: the state dir's (tasks/quota-store.ts), or memory when there is none.
 *
 * Checks are synchronous, so calls that arrive together are checked one after the other: no two
 * can both take the last token or the last command of a day.
 */
import type { PolicySet, RateLimitKey, RateLimits } from '../config/load-policy.js';
import { RateLimitedError, SshgateError } from '../errors.js';
import type { Principal } from '../principal.js';
import { nextUtcMidnight, utcDay } from '../utc-day.js';
import { applyHostOverrides, type HostRef } from './limits.js';

export interface EffectiveRateLimits {
  values: RateLimits;
  /** Where each value came from: `default`, `policy`, `caller:alice`, `caller:role:ci`, `tag:web`, `alias:db1`. */
  sources: Record<RateLimitKey, string>;
}

/** The two limits that count on one host; tags and aliases may set only these. */
const HOST_KEYS = ['host_commands_per_minute', 'host_commands_per_day'] as const;

/**
 * The rate limits of a principal, and on a host when one is given: the built-in defaults, then
 * `limits:`, then `overrides.callers` (when several of the principal's roles set a limit the
 * smallest wins; its own name wins over its roles), then for the host limits the overrides of the
 * host's tags (the smallest wins) and of its alias, as for the task limits (limits.ts).
 */
export function effectiveRateLimits(policy: PolicySet, principal: Principal, host?: HostRef): EffectiveRateLimits {
  const keys = Object.keys(policy.rateLimits) as RateLimitKey[];
  const values = { ...policy.rateLimits };
  const sources = Object.fromEntries(keys.map((k) => [k, policy.rateLimitsSetBy[k] ? 'policy' : 'default'])) as Record<
    RateLimitKey,
    string
  >;
  const callers = policy.overrides.callers;
  const caller = (key: string) => (Object.hasOwn(callers, key) ? callers[key] : undefined);
  const byRole: Partial<Record<RateLimitKey, { value: number; role: string }>> = {};
  for (const role of principal.roles) {
    const o = caller(`role:${role}`);
    for (const k of keys) {
      const v = o?.[k];
      if (v === undefined) continue;
      const prev = byRole[k];
      if (!prev || v < prev.value) byRole[k] = { value: v, role };
    }
  }
  const own = caller(principal.name);
  for (const k of keys) {
    const r = byRole[k];
    if (r) {
      values[k] = r.value;
      sources[k] = `caller:role:${r.role}`;
    }
    const v = own?.[k];
    if (v !== undefined) {
      values[k] = v;
      sources[k] = `caller:${principal.name}`;
    }
  }
  if (host) applyHostOverrides(policy, host, HOST_KEYS, values, sources);
  return { values, sources };
}

/** The day's command counts: kept in the state dir (tasks/quota-store.ts) or in memory. */
export interface DayCounts {
  /**
   * The commands counted on `day` (UTC, `YYYY-MM-DD`) for the principal: on every host, and on
   * `alias`. Throws an SshgateError when the counts cannot be read.
   */
  get(day: string, principal: string, alias: string): { all: number; host: number };
  /** Counts one command; throws an SshgateError when it cannot be counted. */
  add(day: string, principal: string, alias: string): void;
}

/** Day counts that a restart forgets: for a server without a state dir, and for tests. */
export class MemoryDayCounts implements DayCounts {
  private day = '';
  private readonly all = new Map<string, number>();
  private readonly host = new Map<string, number>();

  get(day: string, principal: string, alias: string): { all: number; host: number } {
    if (day !== this.day) return { all: 0, host: 0 };
    return { all: this.all.get(principal) ?? 0, host: this.host.get(pairKey(principal, alias)) ?? 0 };
  }

  add(day: string, principal: string, alias: string): void {
    if (day !== this.day) {
      this.day = day;
      this.all.clear();
      this.host.clear();
    }
    this.all.set(principal, (this.all.get(principal) ?? 0) + 1);
    const pair = pairKey(principal, alias);
    this.host.set(pair, (this.host.get(pair) ?? 0) + 1);
  }
}

export interface RateLimiterDeps {
  /** The policy in force: read at every check, so that a reload applies from the next call on. */
  policy: () => PolicySet;
  /** Where the day's command counts are kept; default: in memory. */
  days?: DayCounts;
  /** Milliseconds since the epoch (UTC); Date.now unless a test sets the clock. */
  now?: () => number;
}

/**
 * A token, in the units buckets hold: a bucket of N a minute gains N units a millisecond, so every
 * amount is a whole number and no rounding lets a call through.
 */
const TOKEN = 60_000;
/** A bucket untouched for this long is full again, whatever its size: it is forgotten. */
const FULL_AFTER_MS = 60_000;

interface Bucket {
  units: number;
  /** When `units` was measured. */
  at: number;
}

interface Refusal {
  key: RateLimitKey;
  waitMs: number;
}

export class RateLimiter {
  /** By principal name: its tool calls. */
  private readonly calls = new Map<string, Bucket>();
  /** By principal and alias: the commands it starts on the host. */
  private readonly hostCommands = new Map<string, Bucket>();
  private readonly days: DayCounts;
  private readonly now: () => number;
  private pruneAt = 1024;

  constructor(private readonly deps: RateLimiterDeps) {
    this.days = deps.days ?? new MemoryDayCounts();
    this.now = deps.now ?? Date.now;
  }

  /**
   * One tool call of the principal, against `calls_per_minute`: undefined when it may go ahead
   * (a token is taken), else a `rate_limited` error (nothing is taken).
   */
  checkCall(principal: Principal): SshgateError | undefined {
    const now = this.now();
    const limits = effectiveRateLimits(this.deps.policy(), principal);
    const perMinute = limits.values.calls_per_minute;
    const units = level(this.calls.get(principal.name), perMinute, now);
    if (units < TOKEN) return refusal(principal, undefined, [{ key: 'calls_per_minute', waitMs: waitMs(units, perMinute) }], limits);
    take(this.calls, principal.name, units, now);
    this.prune(now);
    return undefined;
  }

  /**
   * One command the principal starts on the host (ssh_run, ssh_run_async, each host of
   * ssh_run_on_tag), against `host_commands_per_minute`, `commands_per_day` and
   * `host_commands_per_day`: undefined when it may start (it is counted), else a `rate_limited`
   * error naming the limit that holds it back longest (nothing is counted), or the error of day
   * counts that cannot be read or kept.
   */
  check(principal: Principal, host: HostRef): SshgateError | undefined {
    const now = this.now();
    const day = utcDay(now);
    const limits = effectiveRateLimits(this.deps.policy(), principal, host);
    const { values } = limits;
    let counted: { all: number; host: number };
    try {
      counted = this.days.get(day, principal.name, host.alias);
    } catch (err) {
      return asSshgateError(err);
    }
    const pair = pairKey(principal.name, host.alias);
    const units = level(this.hostCommands.get(pair), values.host_commands_per_minute, now);
    const refusals: Refusal[] = [];
    if (units < TOKEN) refusals.push({ key: 'host_commands_per_minute', waitMs: waitMs(units, values.host_commands_per_minute) });
    if (counted.all >= values.commands_per_day) refusals.push({ key: 'commands_per_day', waitMs: untilUtcMidnight(now) });
    if (counted.host >= values.host_commands_per_day) refusals.push({ key: 'host_commands_per_day', waitMs: untilUtcMidnight(now) });
    if (refusals.length > 0) return refusal(principal, host.alias, refusals, limits);
    try {
      this.days.add(day, principal.name, host.alias);
    } catch (err) {
      return asSshgateError(err);
    }
    take(this.hostCommands, pair, units, now);
    this.prune(now);
    return undefined;
  }

  /** Forgets the buckets that are full again: they hold what a new one would. */
  private prune(now: number): void {
    if (this.calls.size + this.hostCommands.size <= this.pruneAt) return;
    for (const map of [this.calls, this.hostCommands]) {
      for (const [key, b] of map) if (now - b.at >= FULL_AFTER_MS) map.delete(key);
    }
    this.pruneAt = Math.max(1024, 2 * (this.calls.size + this.hostCommands.size));
  }
}

function untilUtcMidnight(ms: number): number {
  return nextUtcMidnight(ms) - ms;
}

function pairKey(principal: string, alias: string): string {
  return JSON.stringify([principal, alias]);
}

/** The units in a bucket of `perMinute` at `now`: what it held, plus what it gained since, up to full. */
function level(b: Bucket | undefined, perMinute: number, now: number): number {
  const full = perMinute * TOKEN;
  if (!b) return full;
  return Math.min(full, b.units + Math.max(0, now - b.at) * perMinute);
}

function take(map: Map<string, Bucket>, key: string, units: number, now: number): void {
  const before = map.get(key);
  // A clock that went back does not refill the bucket again.
  map.set(key, { units: units - TOKEN, at: Math.max(before?.at ?? now, now) });
}

/** Milliseconds until a bucket of `perMinute` that holds `units` holds a token. */
function waitMs(units: number, perMinute: number): number {
  return Math.ceil((TOKEN - units) / perMinute);
}

function asSshgateError(err: unknown): SshgateError {
  if (err instanceof SshgateError) return err;
  throw err;
}

const n = (v: number, what: string) => `${v} ${what}${v === 1 ? '' : 's'}`;
const WHAT: Record<RateLimitKey, (value: number, alias: string) => string> = {
  calls_per_minute: (v) => `${n(v, 'call')} a minute`,
  commands_per_day: (v) => `${n(v, 'command')} a day on all hosts`,
  host_commands_per_minute: (v, alias) => `${n(v, 'command')} a minute on host "${alias}"`,
  host_commands_per_day: (v, alias) => `${n(v, 'command')} a day on host "${alias}"`,
};

/** The error for refused limits: it names the one that holds the call back longest, and says when to retry. */
function refusal(principal: Principal, alias: string | undefined, refusals: Refusal[], limits: EffectiveRateLimits): RateLimitedError {
  const sorted = [...refusals].sort((a, b) => b.waitMs - a.waitMs);
  const first = sorted[0] as Refusal;
  const seconds = Math.max(1, Math.ceil(first.waitMs / 1000));
  const used = (r: Refusal) =>
    `${WHAT[r.key](limits.values[r.key], alias ?? '')} used up (${r.key}, ${limits.sources[r.key] === 'default' ? 'the default' : `from ${limits.sources[r.key]}`})`;
  const message = `principal "${principal.name}": ${sorted.map(used).join('; and ')}`;
  const hint = first.key.endsWith('_per_day')
    ? `the day's count starts again at 00:00 UTC: retry in ${seconds} s (${clock(seconds)}), or ask for a higher ${first.key} in the policy`
    : `retry in ${seconds} s: the limit gives back ${limits.values[first.key]} a minute, one at a time; a loop should wait between calls`;
  return new RateLimitedError(message, hint, seconds);
}

/** `5 h 12 min`, `3 min`: a wait as a person reads it. */
function clock(seconds: number): string {
  const minutes = Math.ceil(seconds / 60);
  const h = Math.floor(minutes / 60);
  return h > 0 ? `${h} h ${minutes % 60} min` : `${minutes} min`;
}
