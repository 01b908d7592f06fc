import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy, type PolicySet } from '../../../src/config/load-policy.js';
import { RateLimitedError, SshgateError } from '../../../src/errors.js';
import type { Principal } from '../../../src/principal.js';
import { effectiveRateLimits, MemoryDayCounts, RateLimiter, type DayCounts } from '../../../src/policy/rate-limits.js';
import { writeTree } from '../../support/policy.js';

function policyFrom(yaml: string): PolicySet {
  return loadPolicy(join(writeTree({ 'p.yml': yaml }), 'p.yml'));
}

const alice: Principal = { name: 'alice', roles: [], via: 'token' };
const bob: Principal = { name: 'bob', roles: [], via: 'token' };
const web1 = { alias: 'web1', tags: ['web'] };
const web2 = { alias: 'web2', tags: ['web'] };

/** 2026-03-14 10:00:00 UTC. */
const T0 = Date.UTC(2026, 2, 14, 10, 0, 0);

/** A limiter on a clock the test moves. */
function limiter(yaml: string, days?: DayCounts) {
  const clock = { now: T0 };
  let policy = policyFrom(yaml);
  const rl = new RateLimiter({ policy: () => policy, now: () => clock.now, ...(days ? { days } : {}) });
  return {
    rl,
    clock,
    reload: (y: string) => void (policy = policyFrom(y)),
    calls: (p: Principal, n: number) => Array.from({ length: n }, () => rl.checkCall(p)),
    commands: (p: Principal, host: typeof web1, n: number) => Array.from({ length: n }, () => rl.check(p, host)),
  };
}

const allowed = (results: (SshgateError | undefined)[]) => results.filter((r) => r === undefined).length;

describe('calls_per_minute', () => {
  it('lets a burst of N through, then one more each 60/N seconds, and says when', () => {
    const { rl, clock, calls } = limiter('limits: { calls_per_minute: 6 }\n');
    expect(allowed(calls(alice, 6))).toBe(6);
    const refused = rl.checkCall(alice);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect(refused?.toJSON()).toEqual({
      code: 'rate_limited',
      message: 'principal "alice": 6 calls a minute used up (calls_per_minute, from policy)',
      hint: 'retry in 10 s: the limit gives back 6 a minute, one at a time; a loop should wait between calls',
      retry_after_seconds: 10,
    });
    clock.now += 9_999;
    expect(rl.checkCall(alice)).toMatchObject({ retryAfterSeconds: 1 });
    clock.now += 1;
    expect(rl.checkCall(alice)).toBeUndefined();
    expect(rl.checkCall(alice)).toMatchObject({ retryAfterSeconds: 10 });
    // A bucket never holds more than N, however long it rests.
    clock.now += 3_600_000;
    expect(allowed(calls(alice, 10))).toBe(6);
  });

  it('keeps a bucket per principal', () => {
    const { calls } = limiter('limits: { calls_per_minute: 3 }\n');
    expect(allowed(calls(alice, 5))).toBe(3);
    expect(allowed(calls(bob, 5))).toBe(3);
  });

  it('applies a reloaded policy from the next call on', () => {
    const { rl, reload, calls } = limiter('limits: { calls_per_minute: 2 }\n');
    expect(allowed(calls(alice, 2))).toBe(2);
    expect(rl.checkCall(alice)).toBeDefined();
    reload('limits: { calls_per_minute: 600 }\n');
    // The bucket refills at the new rate; its level is what the old one left.
    expect(rl.checkCall(alice)).toMatchObject({ retryAfterSeconds: 1 });
  });

  it('refills nothing while the clock goes back, nor for the time it went back', () => {
    const { rl, clock, calls } = limiter('limits: { calls_per_minute: 6 }\n');
    expect(allowed(calls(alice, 6))).toBe(6);
    clock.now -= 3_600_000;
    expect(rl.checkCall(alice)).toBeDefined();
    clock.now += 3_600_000 + 9_999;
    expect(rl.checkCall(alice)).toBeDefined();
    clock.now += 1;
    expect(rl.checkCall(alice)).toBeUndefined();
  });

  it('forgets the buckets of principals idle for a minute, and still counts those in use', () => {
    const { rl, clock, calls } = limiter('limits: { calls_per_minute: 2 }\n');
    expect(allowed(calls(alice, 2))).toBe(2);
    for (let i = 0; i < 3000; i++) rl.checkCall({ name: `agent${i}`, roles: [], via: 'token' });
    expect(rl.checkCall(alice)).toBeDefined();
    clock.now += 60_000;
    for (let i = 0; i < 3000; i++) expect(rl.checkCall({ name: `agent${i}`, roles: [], via: 'token' })).toBeUndefined();
    expect(allowed(calls(alice, 3))).toBe(2);
  });

  it('lets exactly N of many calls that arrive together through', async () => {
    const { rl } = limiter('limits: { calls_per_minute: 25 }\n');
    const results = await Promise.all(Array.from({ length: 100 }, () => Promise.resolve().then(() => rl.checkCall(alice))));
    expect(allowed(results)).toBe(25);
  });
});

describe('commands', () => {
  it('are limited per host by host_commands_per_minute, and on all hosts by commands_per_day', () => {
    const { rl, clock, commands } = limiter('limits: { host_commands_per_minute: 2, commands_per_day: 5, host_commands_per_day: 100 }\n');
    expect(allowed(commands(alice, web1, 3))).toBe(2);
    expect(allowed(commands(alice, web2, 3))).toBe(2);
    expect(allowed(commands(bob, web1, 3))).toBe(2);
    clock.now += 60_000;
    expect(allowed(commands(alice, web1, 3))).toBe(1);
    const refused = rl.check(alice, web2);
    expect(refused?.toJSON()).toMatchObject({
      code: 'rate_limited',
      message: 'principal "alice": 5 commands a day on all hosts used up (commands_per_day, from policy)',
      hint: "the day's count starts again at 00:00 UTC: retry in 50340 s (13 h 59 min), or ask for a higher commands_per_day in the policy",
      retry_after_seconds: 50_340,
    });
  });

  it('are limited per host and day by host_commands_per_day', () => {
    const { rl, commands } = limiter('limits: { host_commands_per_minute: 100, host_commands_per_day: 3 }\n');
    expect(allowed(commands(alice, web1, 5))).toBe(3);
    expect(rl.check(alice, web1)?.message).toBe(
      'principal "alice": 3 commands a day on host "web1" used up (host_commands_per_day, from policy)',
    );
    expect(allowed(commands(alice, web2, 5))).toBe(3);
  });

  it('take nothing from any limit when one refuses, and name the one that holds them back longest', () => {
    const days = new MemoryDayCounts();
    const { rl, clock, commands } = limiter(
      'limits: { host_commands_per_minute: 1, host_commands_per_day: 2, commands_per_day: 3 }\n',
      days,
    );
    expect(allowed(commands(alice, web1, 1))).toBe(1);
    // Refused by the bucket: the day's counts stay at 1.
    expect(rl.check(alice, web1)?.message).toMatch(/1 command a minute on host "web1" used up \(host_commands_per_minute/);
    expect(days.get('2026-03-14', 'alice', 'web1')).toEqual({ all: 1, host: 1 });
    clock.now += 60_000;
    expect(rl.check(alice, web1)).toBeUndefined();
    // Both the bucket and the host's day refuse: the day is the longer wait, and is named first.
    const both = rl.check(alice, web1);
    expect(both?.message).toBe(
      'principal "alice": 2 commands a day on host "web1" used up (host_commands_per_day, from policy); and 1 command a minute on host "web1" used up (host_commands_per_minute, from policy)',
    );
    expect(both).toMatchObject({ retryAfterSeconds: 14 * 3600 - 60 });
    expect(days.get('2026-03-14', 'alice', 'web1')).toEqual({ all: 2, host: 2 });
    // web2 still has its own bucket and day; the principal's day has one command left.
    expect(allowed(commands(alice, web2, 1))).toBe(1);
    expect(rl.check(alice, web2)).toBeDefined();
  });

  it('start again at 00:00 UTC, and the wait before it is counted to the second', () => {
    const { rl, clock, commands } = limiter('limits: { commands_per_day: 2 }\n');
    clock.now = Date.UTC(2026, 2, 14, 23, 59, 58, 500);
    expect(allowed(commands(alice, web1, 3))).toBe(2);
    expect(rl.check(alice, web1)).toMatchObject({ retryAfterSeconds: 2 });
    clock.now = Date.UTC(2026, 2, 14, 23, 59, 59, 999);
    expect(rl.check(alice, web1)).toMatchObject({ retryAfterSeconds: 1 });
    clock.now = Date.UTC(2026, 2, 15, 0, 0, 0);
    expect(allowed(commands(alice, web1, 3))).toBe(2);
  });

  it('are refused with the error of day counts that cannot be read or kept, and take nothing', () => {
    const broken = new SshgateError('invalid_config', 'the quota file x cannot be read', 'move it aside');
    let failGet = true;
    const days: DayCounts = {
      get: () => {
        if (failGet) throw broken;
        return { all: 0, host: 0 };
      },
      add: () => {
        throw broken;
      },
    };
    const { rl } = limiter('limits: { host_commands_per_minute: 1 }\n', days);
    expect(rl.check(alice, web1)).toBe(broken);
    failGet = false;
    expect(rl.check(alice, web1)).toBe(broken);
    // The bucket's one token was not taken by either.
    days.add = () => undefined;
    expect(rl.check(alice, web1)).toBeUndefined();
  });

  it('are limited only among commands: calls and commands are separate buckets', () => {
    const { rl, calls } = limiter('limits: { calls_per_minute: 1, host_commands_per_minute: 1 }\n');
    expect(allowed(calls(alice, 2))).toBe(1);
    expect(rl.check(alice, web1)).toBeUndefined();
  });
});

describe('the rate limits of a principal on a host', () => {
  const policy = policyFrom(
    [
      'limits: { calls_per_minute: 100, host_commands_per_day: 500 }',
      'overrides:',
      '  tags: { prod: { host_commands_per_day: 50 }, web: { host_commands_per_day: 80, host_commands_per_minute: 7 } }',
      '  aliases: { db1: { host_commands_per_day: 5 } }',
      '  callers:',
      '    role:ci: { calls_per_minute: 1000, commands_per_day: 50000, host_commands_per_day: 4000 }',
      '    role:intern: { calls_per_minute: 10 }',
      '    carol: { calls_per_minute: 300 }',
      '',
    ].join('\n'),
  );
  const ci: Principal = { name: 'ci-bot', roles: ['ci'], via: 'token' };

  it('are the defaults, then limits:, then the callers, then the tags (smallest), then the alias', () => {
    expect(effectiveRateLimits(policy, alice, { alias: 'app1', tags: [] })).toEqual({
      values: { calls_per_minute: 100, commands_per_day: 10_000, host_commands_per_minute: 120, host_commands_per_day: 500 },
      sources: {
        calls_per_minute: 'policy',
        commands_per_day: 'default',
        host_commands_per_minute: 'default',
        host_commands_per_day: 'policy',
      },
    });
    expect(effectiveRateLimits(policy, ci, { alias: 'app1', tags: [] }).values).toMatchObject({
      calls_per_minute: 1000,
      commands_per_day: 50_000,
      host_commands_per_day: 4000,
    });
    for (const tags of [
      ['web', 'prod'],
      ['prod', 'web'],
    ]) {
      const l = effectiveRateLimits(policy, ci, { alias: 'web9', tags });
      expect(l.values).toMatchObject({ host_commands_per_minute: 7, host_commands_per_day: 50 });
      expect(l.sources).toMatchObject({
        calls_per_minute: 'caller:role:ci',
        host_commands_per_minute: 'tag:web',
        host_commands_per_day: 'tag:prod',
      });
    }
    expect(effectiveRateLimits(policy, ci, { alias: 'db1', tags: ['prod'] }).sources.host_commands_per_day).toBe('alias:db1');
    expect(effectiveRateLimits(policy, ci, { alias: 'db1', tags: ['prod'] }).values.host_commands_per_day).toBe(5);
  });

  it('take the smallest of several roles, and the principal by name over its roles', () => {
    const both: Principal = { name: 'dave', roles: ['ci', 'intern'], via: 'oauth' };
    expect(effectiveRateLimits(policy, both).values.calls_per_minute).toBe(10);
    expect(effectiveRateLimits(policy, both).sources.calls_per_minute).toBe('caller:role:intern');
    const carol: Principal = { name: 'carol', roles: ['intern'], via: 'token' };
    expect(effectiveRateLimits(policy, carol).values.calls_per_minute).toBe(300);
    expect(effectiveRateLimits(policy, carol).sources.calls_per_minute).toBe('caller:carol');
    // A name is looked up as written, never through the object's prototype.
    expect(effectiveRateLimits(policy, { name: 'constructor', roles: [], via: 'token' }).values.calls_per_minute).toBe(100);
  });

  it('name their source in a refusal', () => {
    const clock = { now: T0 };
    const rl = new RateLimiter({ policy: () => policy, now: () => clock.now });
    const db1 = { alias: 'db1', tags: ['prod'] };
    for (let i = 0; i < 5; i++) expect(rl.check(alice, db1)).toBeUndefined();
    expect(rl.check(alice, db1)?.message).toBe(
      'principal "alice": 5 commands a day on host "db1" used up (host_commands_per_day, from alias:db1)',
    );
    expect(rl.checkCall({ name: 'eve', roles: [], via: 'token' })).toBeUndefined();
    const intern: Principal = { name: 'ivan', roles: ['intern'], via: 'token' };
    for (let i = 0; i < 10; i++) rl.checkCall(intern);
    expect(rl.checkCall(intern)?.message).toBe('principal "ivan": 10 calls a minute used up (calls_per_minute, from caller:role:intern)');
  });
});

describe('the limits over any stretch of time', () => {
  const N = 3;
  const H = 2;
  const DAY = 8;
  const HOST_DAY = 5;
  const yaml = `limits: { calls_per_minute: ${N}, host_commands_per_minute: ${H}, commands_per_day: ${DAY}, host_commands_per_day: ${HOST_DAY} }\n`;
  const policy = policyFrom(yaml);
  const principals = [alice, bob];
  const hosts = [web1, web2];
  const step = fc.record({
    waitMs: fc.oneof(
      fc.integer({ min: 0, max: 500 }),
      fc.integer({ min: 0, max: 5_000 }),
      fc.integer({ min: 0, max: 120_000 }),
      fc.constant(3_600_000),
    ),
    who: fc.integer({ min: 0, max: 1 }),
    /** None: a tool call; else a command on that host. */
    host: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 1 })),
  });

  it('never let more than N + N·t/60 calls through in t seconds, nor more commands than a day allows', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 100, maxLength: 300 }), (steps) => {
        let now = Date.UTC(2026, 2, 14, 21, 0, 0);
        const rl = new RateLimiter({ policy: () => policy, now: () => now });
        const seen: { at: number; who: number; host?: number }[] = [];
        for (const s of steps) {
          now += s.waitMs;
          const p = principals[s.who] as Principal;
          const ok = s.host === undefined ? rl.checkCall(p) === undefined : rl.check(p, hosts[s.host] as typeof web1) === undefined;
          if (ok) seen.push({ at: now, who: s.who, ...(s.host !== undefined ? { host: s.host } : {}) });
        }
        for (let who = 0; who < 2; who++) {
          const calls = seen.filter((e) => e.who === who && e.host === undefined).map((e) => e.at);
          expectWithinBucket(calls, N);
          for (let host = 0; host < 2; host++) {
            const cmds = seen.filter((e) => e.who === who && e.host === host).map((e) => e.at);
            expectWithinBucket(cmds, H);
            for (const n of perDay(cmds).values()) expect(n).toBeLessThanOrEqual(HOST_DAY);
          }
          const all = seen.filter((e) => e.who === who && e.host !== undefined).map((e) => e.at);
          for (const n of perDay(all).values()) expect(n).toBeLessThanOrEqual(DAY);
        }
      }),
      { numRuns: 200 },
    );
  });

  /** Every stretch from the i-th allowed time to the j-th holds at most cap + floor(cap·t/60 s) of them. */
  function expectWithinBucket(times: number[], cap: number): void {
    for (let i = 0; i < times.length; i++) {
      for (let j = i; j < times.length; j++) {
        const t = (times[j] as number) - (times[i] as number);
        expect(j - i + 1).toBeLessThanOrEqual(cap + Math.floor((t * cap) / 60_000));
      }
    }
  }

  function perDay(times: number[]): Map<string, number> {
    const days = new Map<string, number>();
    for (const t of times) {
      const d = new Date(t).toISOString().slice(0, 10);
      days.set(d, (days.get(d) ?? 0) + 1);
    }
    return days;
  }
});
