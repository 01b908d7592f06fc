import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { shellParser } from '../../../src/commands/context.js';
import type { PolicySet } from '../../../src/config/load-policy.js';
import { createPolicyEngine, type DecideOptions, type PolicyEngine } from '../../../src/policy/decide.js';
import { DECISION_MEMO_COMMAND_LIMIT, DECISION_MEMO_SEGMENT_LIMIT, rememberDecisions } from '../../../src/policy/decision-memo.js';
import type { HostRef } from '../../../src/policy/limits.js';
import type { Principal } from '../../../src/principal.js';
import { engineFromYaml } from '../../support/policy.js';

// Rules that tell apart everything the key holds: alias, tags, shell (sh reads no `<(…)`), the
// caller's name and roles, become, and a workdir (a relative path after a cd).
const POLICY = `
rules:
  - { name: web reads, action: allow, tags: [web], commands: ["cat *", "ls *", "uptime"] }
  - { name: db1 only, action: allow, aliases: [db1], commands: ["psql *", "uptime"] }
  - { name: ops restart, action: allow, callers: ["role:ops"], commands: ["systemctl restart *"] }
  - { name: alice tails, action: allow, callers: [alice], commands: ["tail *"] }
  - { name: root reads, action: allow, become: [root], commands: ["cat /var/log/*"] }
  - { name: keys, action: deny, commands: ["cat */.ssh/*"] }
  - { name: restarts asked, action: ask, tags: [prod], commands: ["systemctl restart db*"] }
`;

const hosts: HostRef[] = [
  { alias: 'web1', tags: ['web'] },
  { alias: 'web1', tags: ['web', 'prod'] },
  { alias: 'web1', tags: [] },
  { alias: 'db1', tags: ['prod'] },
  { alias: 'db1', tags: ['prod'], shell: 'sh' },
];
const principals: (Principal | undefined)[] = [
  undefined,
  { name: 'alice', roles: [], via: 'token', credentialId: 't1' },
  { name: 'alice', roles: ['ops'], via: 'token', credentialId: 't1' },
  { name: 'bob', roles: ['ops'], via: 'oauth', credentialId: 'j1' },
  { name: 'bob', roles: [], via: 'oauth', credentialId: 'j1' },
];
const commands = [
  'uptime',
  'cat notes.txt',
  'cat .ssh/id_rsa',
  'cat /var/log/syslog',
  'ls -la; uptime',
  'psql -c "select 1"',
  'systemctl restart nginx',
  'systemctl restart db1',
  'tail -f app.log',
  'uptime $(cat .ssh/id_rsa)',
  'cat a | ls b',
  'ls <(uptime)',
];
const optionsArb: fc.Arbitrary<DecideOptions> = fc.record(
  {
    // null is no value a caller passes (the schemas refuse it), but the key must not take it for absent.
    workdir: fc.constantFrom('/home', '.', '', null as unknown as string),
    principal: fc.constantFrom(...principals),
    become: fc.constantFrom('root', 'postgres', '', null as unknown as string),
  },
  { requiredKeys: [] },
);
const callArb = fc.tuple(fc.constantFrom(...hosts), fc.constantFrom(...commands), optionsArb);

let policy: PolicySet;
let parser: Awaited<ReturnType<typeof shellParser>>;
beforeAll(async () => {
  policy = (await engineFromYaml(POLICY)).policy;
  parser = await shellParser();
});

describe('a remembered decision', () => {
  it('is the decision a fresh engine makes, whatever was decided before', () => {
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 1, maxLength: 40 }), (calls) => {
        const engine = createPolicyEngine(policy, parser);
        for (const [host, command, options] of calls) {
          const fresh = createPolicyEngine(policy, parser).decide(host, command, options);
          expect(
            engine.decide(host, command, options),
            `${host.alias} ${JSON.stringify(host)} ${command} ${JSON.stringify(options)}`,
          ).toEqual(fresh);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('differs where the inputs differ: each key field changes a decision of this policy', () => {
    const engine = createPolicyEngine(policy, parser);
    const verdict = (host: HostRef, command: string, options: DecideOptions = {}) => JSON.stringify(engine.decide(host, command, options));
    const web = { alias: 'web1', tags: ['web'] };
    // Each pair is decided twice, in both orders, so a key that missed a field returns the first's.
    const pairs: [() => string, () => string][] = [
      [() => verdict(web, 'psql x'), () => verdict({ alias: 'db1', tags: ['web'] }, 'psql x')],
      [() => verdict(web, 'cat x'), () => verdict({ alias: 'web1', tags: [] }, 'cat x')],
      [() => verdict(web, 'ls <(uptime)'), () => verdict({ ...web, shell: 'sh' }, 'ls <(uptime)')],
      [() => verdict(web, 'tail x'), () => verdict(web, 'tail x', { principal: principals[1] })],
      [
        () => verdict(web, 'systemctl restart a', { principal: principals[1] }),
        () => verdict(web, 'systemctl restart a', { principal: principals[2] }),
      ],
      [() => verdict(web, 'cat /var/log/x'), () => verdict(web, 'cat /var/log/x', { become: 'root' })],
      [() => verdict(web, 'cat .ssh/k'), () => verdict(web, 'cat .ssh/k', { workdir: '/home/u' })],
      // null is not absent to the engine (no caller passes it; the key keeps them apart all the same).
      [() => verdict(web, 'cat .ssh/k'), () => verdict(web, 'cat .ssh/k', { workdir: null as unknown as string })],
      [() => verdict(web, 'cat x'), () => verdict(web, 'cat x', { become: null as unknown as string })],
    ];
    for (const [a, b] of pairs) {
      const first = [a(), b()];
      expect(first[0], String(a)).not.toBe(first[1]);
      expect([b(), a()]).toEqual([first[1], first[0]]);
    }
  });

  it('is frozen: a caller that changed it would throw, not change the next caller’s', async () => {
    const engine = await engineFromYaml(POLICY);
    const d = engine.decide(hosts[0] as HostRef, 'uptime');
    expect(() => {
      (d as { verdict: string }).verdict = 'deny';
    }).toThrow(TypeError);
    expect(() => (d.segments as unknown[]).push({})).toThrow(TypeError);
    expect(engine.decide(hosts[0] as HostRef, 'uptime').verdict).toBe('allow');
  });

  it('keeps at most its size, the oldest going first, and decides long commands afresh', () => {
    let made = 0;
    const decide = rememberDecisions((host, command) => ({ made: ++made, host, command, segments: [] }) as never, 2);
    const h = hosts[0] as HostRef;
    const made1 = (c: string) => (decide(h, c) as unknown as { made: number }).made;
    expect([made1('a'), made1('b'), made1('a')]).toEqual([1, 2, 1]);
    expect(made1('c')).toBe(3); // 'a' goes
    expect([made1('b'), made1('a')]).toEqual([2, 4]);
    const long = 'x'.repeat(DECISION_MEMO_COMMAND_LIMIT + 1);
    expect(made1(long)).not.toBe(made1(long));
  });

  it('is not kept by an engine told to remember none (what the decision benchmark times), yet frozen', () => {
    const engine = createPolicyEngine(policy, parser, { remember: 0 });
    const h = hosts[0] as HostRef;
    const [a, b] = [engine.decide(h, 'uptime'), engine.decide(h, 'uptime')];
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
    expect(Object.isFrozen(a.segments[0])).toBe(true);
    const remembering = createPolicyEngine(policy, parser);
    expect(remembering.decide(h, 'uptime')).toBe(remembering.decide(h, 'uptime'));
  });
});

describe('what is not remembered', () => {
  it('a decision of more parts than the limit: decided afresh each time, frozen all the same', () => {
    const engine = createPolicyEngine(policy, parser);
    const h = hosts[0] as HostRef;
    const many = Array.from({ length: DECISION_MEMO_SEGMENT_LIMIT + 1 }, () => 'uptime').join('; ');
    const few = Array.from({ length: DECISION_MEMO_SEGMENT_LIMIT }, () => 'uptime').join('; ');
    const first = engine.decide(h, many);
    expect(first.segments).toHaveLength(DECISION_MEMO_SEGMENT_LIMIT + 1);
    expect(engine.decide(h, many)).not.toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(engine.decide(h, few)).toBe(engine.decide(h, few));
  });

  it('a command longer than the limit: decided afresh, frozen', () => {
    const engine = createPolicyEngine(policy, parser);
    const h = hosts[0] as HostRef;
    const long = `cat ${'a'.repeat(DECISION_MEMO_COMMAND_LIMIT)}`;
    const first = engine.decide(h, long);
    expect(engine.decide(h, long)).not.toBe(first);
    expect(engine.decide(h, long)).toEqual(first);
    expect(Object.isFrozen(first)).toBe(true);
  });
});

describe('the engine of a reloaded policy', () => {
  it('decides by the new rules, not the old engine’s memory', async () => {
    const host = hosts[0] as HostRef;
    const before: PolicyEngine = await engineFromYaml('rules:\n  - { action: allow, commands: ["uptime"] }\n');
    expect(before.decide(host, 'uptime').verdict).toBe('allow');
    const after = await engineFromYaml('rules:\n  - { action: deny, commands: ["uptime"] }\n');
    expect(after.decide(host, 'uptime').verdict).toBe('deny');
  });
});
