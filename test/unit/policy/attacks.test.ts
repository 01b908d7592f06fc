/**
 * Every class of the attack on the engine (a policy that allowed more than it said), for a host
 * pinned to bash and one pinned to sh. Each line here once ran a command no rule allowed, or is a
 * spelling of one that did; the differential fuzzer's findings join them (regressions.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PolicyEngine } from '../../../src/policy/decide.js';
import type { Dialect } from '../../../src/policy/lexer.js';
import { ATTACK_POLICY, MUST_DENY, payload, STILL_ALLOWED } from '../../support/attacks.js';
import { engineFromYaml } from '../../support/policy.js';

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await engineFromYaml(ATTACK_POLICY);
});
const SHELLS: Dialect[] = ['bash', 'sh'];
const decide = (alias: string, shell: Dialect, command: string) => engine.decide({ alias, tags: [], shell }, command);

describe.each(SHELLS)('a host pinned to %s', (shell) => {
  it.each(MUST_DENY)('denies (%s) %j where rules name each thing allowed', (_, command) => {
    expect(decide('named', shell, command).allowed).toBe(false);
  });

  it.each(MUST_DENY)('denies (%s) %j where a rule allows "*"', (_, command) => {
    expect(decide('star', shell, command).allowed).toBe(false);
  });

  it.each(STILL_ALLOWED)('still allows what the rules name: %j', (command) => {
    const d = decide('named', shell, command);
    expect(d.reason).toMatch(/every command is allowed/);
  });
});

it('reads a sh -c string in sh and a bash -c string in bash', () => {
  expect(decide('named', 'bash', "sh -c 'ls -l &>/dev/null'").allowed).toBe(false);
  expect(decide('named', 'bash', "bash -c 'ls -l &>/dev/null'").allowed).toBe(true);
  expect(decide('named', 'sh', "bash -c 'ls -l &>/dev/null'").allowed).toBe(true);
});

it('points every payload at a file a test can look for', () => {
  const moved = MUST_DENY.map(([, line]) => payload(line, '/tmp/p')).filter((l) => /\b(touch|tou\?h|t\[o\]uch) [xyz]\b/.test(l));
  expect(moved).toEqual([]);
  expect(payload("sh -c 'touch x'", '/tmp/p')).toBe("sh -c 'touch /tmp/p/x'");
});

it('names the nested command that a wrapper ran and the rule that denied it', () => {
  const d = decide('named', 'bash', "timeout 5 sh -c 'uptime; touch x'");
  expect(d.segments.map((s) => [s.text, s.allowed, s.nested])).toEqual([
    ["timeout 5 sh -c 'uptime; touch x'", true, false],
    ['uptime', true, true],
    ['touch x', false, true],
  ]);
  expect(d.reason).toMatch(/"touch x" is denied: matches deny rule "the payload"/);
});

it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
  'judges a command named %s, alone and behind a wrapper, without throwing',
  (name) => {
    for (const command of [`${name} x`, `a/${name} a`, `timeout 5 ${name} -c x`, `uptime; ${name}`]) {
      for (const shell of SHELLS)
        expect(decide('star', shell, command).allowed, command).toBe(command.startsWith('uptime') || !command.startsWith('timeout'));
    }
  },
);
