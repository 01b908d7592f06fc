import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { shellParser } from '../../../src/commands/context.js';
import { formatDecision } from '../../../src/commands/plan.js';
import { becomeUserProblem } from '../../../src/config/file-formats.js';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { loadPolicy, type PolicyRule, type PolicySet } from '../../../src/config/load-policy.js';
import { DEFAULTS } from '../../../src/defaults.js';
import { ConfigError, formatIssue } from '../../../src/errors.js';
import { runCase } from '../../../src/policy/cases.js';
import { createPolicyEngine, type PolicyEngine } from '../../../src/policy/decide.js';
import { Decision } from '../../../src/policy/decision.js';
import { diffPolicies } from '../../../src/policy/diff.js';
import { engineFromYaml, web1, writeTree } from '../../support/policy.js';

const POLICY = `
rules:
  - name: diagnostics
    action: allow
    commands: ["uptime", "id -u", "journalctl *", "sudo *"]
  - name: restarts as root
    action: allow
    become: root
    commands: ["systemctl restart *", "id -u", "journalctl -u *"]
  - name: database work
    action: allow
    become: [postgres, root]
    commands: ["psql -c *"]
  - name: root shell reads need a person
    action: ask
    become: root
    commands: ["cat /etc/shadow"]
  - name: never reboot
    action: deny
    commands: ["reboot*", "journalctl -u secret*"]
  - name: no psql drop as postgres
    action: deny
    become: postgres
    commands: ["psql -c *drop*"]
`;

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await engineFromYaml(POLICY);
});
const decide = (command: string, become?: string) => engine.decide(web1, command, become === undefined ? {} : { become });

describe('become: in rules', () => {
  it('an allow rule without become: does not allow an elevated call', () => {
    expect(decide('uptime').allowed).toBe(true);
    const d = decide('uptime', 'root');
    expect(d.verdict).toBe('deny');
    expect(d.reason).toMatch(/allow rule "diagnostics" matches it but not with become, and this call elevates to root/);
  });

  it('an allow rule with become: allows only calls that elevate to a user it lists', () => {
    expect(decide('systemctl restart nginx', 'root').allowed).toBe(true);
    expect(decide('systemctl restart nginx', 'postgres').allowed).toBe(false);
    const plain = decide('systemctl restart nginx');
    expect(plain.allowed).toBe(false);
    expect(plain.reason).toMatch(/applies only to calls that elevate to root \(become\)/);
    expect(decide('psql -c select', 'postgres').allowed).toBe(true);
    expect(decide('psql -c select', 'root').allowed).toBe(true);
    expect(decide('psql -c select').allowed).toBe(false);
  });

  it('a deny rule without become: denies elevated calls too, whatever allow rule with become: matches', () => {
    expect(decide('journalctl -u nginx', 'root').allowed).toBe(true);
    const d = decide('journalctl -u secretd', 'root');
    expect(d.verdict).toBe('deny');
    expect(d.segments[0]?.rule).toBe('never reboot');
  });

  it('a deny rule with become: denies only calls that elevate to its users', () => {
    expect(decide("psql -c 'drop table x'", 'postgres').allowed).toBe(false);
    expect(decide("psql -c 'drop table x'", 'root').allowed).toBe(true);
  });

  it('an ask rule with become: makes an elevated call need approval, and nothing else', () => {
    expect(decide('cat /etc/shadow', 'root').verdict).toBe('ask');
    expect(decide('cat /etc/shadow').verdict).toBe('deny');
  });

  it('judges the inner command: sudo typed by the agent still needs a rule naming it', () => {
    expect(decide('sudo id -u').allowed).toBe(true);
    expect(decide('sudo id -u', 'root').allowed).toBe(false);
    expect(decide('sudo reboot', 'root').allowed).toBe(false);
  });

  it('the decision names the target user, in JSON and in plan text', () => {
    const d = decide('id -u', 'root');
    expect(Decision.parse(JSON.parse(JSON.stringify(d)))).toMatchObject({ become: 'root', verdict: 'allow' });
    expect(decide('id -u').become).toBeNull();
    expect(formatDecision(d)).toMatch(/^web1: ALLOW \(become root\) — /);
  });
});

describe('become: in the policy file', () => {
  function policyErrors(yaml: string): string[] {
    const dir = writeTree({ 'p.yml': yaml });
    try {
      loadPolicy(join(dir, 'p.yml'));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).issues.map((i) => formatIssue(i).replace(`${dir}/`, ''));
    }
    throw new Error('expected the policy to be refused');
  }
  const ruleWith = (become: string) => `rules:\n  - action: allow\n    commands: [uptime]\n    become: ${become}\n`;

  it('takes one user or a list, as a list without repeats', () => {
    const dir = writeTree({ 'p.yml': ruleWith('[root, postgres, root]') + ruleWith('root').slice('rules:\n'.length) });
    const rules = loadPolicy(join(dir, 'p.yml')).rules;
    expect(rules.map((r) => r.become)).toEqual([['root', 'postgres'], ['root']]);
  });

  it.each([
    ['"root;id"', /"root;id" is not a user name/],
    ['"-u"', /"-u" is not a user name/],
    ['"../x"', /"..\/x" is not a user name/],
    ['"#0"', /"#0" is not a user name/],
    ['"%wheel"', /"%wheel" is not a user name/],
    ['"ro*"', /become names users, not globs/],
    ['"r\u0430ot"', /is not a user name/],
    ['[]', /become: \[\] would apply the rule to no call/],
    ['""', /is not a user name/],
  ])('refuses become: %s', (value, message) => {
    expect(policyErrors(ruleWith(value)).join('\n')).toMatch(message);
  });

  it('the user check refuses what sudo or doas would read as an option, a uid or a group', () => {
    for (const bad of ['-u', '--', '#0', '%adm', 'a b', 'root;id', '../x', 'x/y', '', 'a'.repeat(33), '0day', 'root\n'])
      expect(becomeUserProblem(bad), bad).toBeDefined();
    for (const good of ['root', 'postgres', 'www-data', '_apt', 'svc.app', 'a'.repeat(32)]) expect(becomeUserProblem(good)).toBeUndefined();
  });
});

describe('become in policy test and policy diff', () => {
  const inventory = () => {
    const dir = writeTree({
      'servers.yml': 'hosts:\n  - { alias: web1, host: h.example, credentials: k, tags: [web] }\n',
      'credentials.yml': 'entries:\n  - { name: k, username: u, agent: true }\n',
    });
    return loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
  };

  it('a case with become: is decided for that elevation', () => {
    const inv = inventory();
    const c = { alias: 'web1', command: 'systemctl restart nginx', expect: 'allow' as const, source: 't.yml:1:3' };
    expect(runCase(engine, inv, { ...c, become: 'root' })).toMatchObject({ passed: true, got: 'allow' });
    expect(runCase(engine, inv, c)).toMatchObject({ passed: false, got: 'deny' });
  });

  it('policy diff compares elevated calls for every user the rules name', async () => {
    const before = await engineFromYaml('rules:\n  - { action: allow, commands: ["uptime"] }\n');
    const after = await engineFromYaml(
      'rules:\n  - { action: allow, commands: ["uptime"] }\n  - { action: allow, become: root, commands: ["id -u"] }\n',
    );
    const { decisions } = diffPolicies(before, after, inventory(), []);
    expect(decisions.map((d) => `${d.command} ${d.become ?? '-'}: ${d.from}→${d.to}`)).toEqual(['id -u root: deny→allow']);
  });
});

describe('become under random policies', () => {
  const COMMANDS = ['uptime', 'reboot', 'id -u', 'sudo id -u', 'uptime; reboot', 'cat /etc/shadow', 'systemctl restart x'];
  const PATTERNS = ['*', 'uptime', 'reboot*', 'id -u', 'sudo *', 'cat *', 'systemctl restart *'];
  const USERS = ['root', 'postgres'];
  const spec = fc.record({
    action: fc.constantFrom('allow' as const, 'deny' as const, 'ask' as const),
    commands: fc.uniqueArray(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 3 }),
    become: fc.option(fc.uniqueArray(fc.constantFrom(...USERS), { minLength: 1 }), { nil: null }),
  });
  const toRules = (specs: { action: PolicyRule['action']; commands: string[]; become: string[] | null }[]): PolicyRule[] =>
    specs.map((s, i) => ({
      ...s,
      name: `r${i}`,
      source: `p.yml:${i + 2}:5`,
      aliases: [],
      tags: [],
      tty: false,
      stdin: false,
      callers: null,
      approval: null,
    }));
  const policyOf = (rules: PolicyRule[]): PolicySet => ({
    files: ['p.yml'],
    rules,
    fileRules: [],
    limits: { ...DEFAULTS.limits },
    limitsSetBy: {},
    rateLimits: { ...DEFAULTS.rateLimits },
    rateLimitsSetBy: {},
    overrides: { tags: {}, aliases: {}, callers: {} },
    network: { allow_cidrs: [], block_cidrs: [], allow_ips: [], block_ips: [] },
    denySubstrings: [],
    hostKeyPolicy: 'strict',
    workdirs: [],
    env: [],
  });

  it('an elevated call is never allowed nor approvable by rules without become:', async () => {
    const parser = await shellParser();
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 6 }),
        fc.constantFrom(...COMMANDS),
        fc.constantFrom(...USERS),
        (specs, command, user) => {
          const rules = toRules(specs.map((s) => ({ ...s, become: null })));
          const d = createPolicyEngine(policyOf(rules), parser).decide(web1, command, { become: user });
          expect(d.verdict).toBe('deny');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('elevation never allows what the same rules would deny to a call that does not elevate, once become: is read as a grant', async () => {
    const parser = await shellParser();
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 6 }),
        fc.constantFrom(...COMMANDS),
        fc.constantFrom(...USERS),
        (specs, command, user) => {
          const rules = toRules(specs);
          const elevated = createPolicyEngine(policyOf(rules), parser).decide(web1, command, { become: user });
          // The same call as the rules for `user` (and every deny rule without become:) see it, unelevated.
          const forUser = rules
            .filter((r) => (r.become === null ? r.action === 'deny' : r.become.includes(user)))
            .map((r) => ({ ...r, become: null }));
          const plain = createPolicyEngine(policyOf(forUser), parser).decide(web1, command);
          expect(elevated.verdict).toBe(plain.verdict);
          // Adding become: to a call never loosens a deny of the rules without become:.
          const base = createPolicyEngine(policyOf(rules.filter((r) => r.become === null)), parser).decide(web1, command);
          if (
            base.verdict === 'deny' &&
            rules.some((r) => r.become === null && r.action === 'deny' && base.segments.some((s) => s.rule === r.name))
          )
            expect(elevated.verdict).toBe('deny');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('adding a rule with become: never changes a call that does not elevate', async () => {
    const parser = await shellParser();
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 5 }),
        spec.filter((s) => s.become !== null),
        fc.constantFrom(...COMMANDS),
        (specs, extra, command) => {
          const rules = toRules(specs);
          const before = createPolicyEngine(policyOf(rules), parser).decide(web1, command);
          const after = createPolicyEngine(policyOf([...rules, ...toRules([extra]).map((r) => ({ ...r, name: 'extra' }))]), parser).decide(
            web1,
            command,
          );
          expect(after.verdict).toBe(before.verdict);
        },
      ),
      { numRuns: 500 },
    );
  });
});
