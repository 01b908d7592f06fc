import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { shellParser } from '../../../src/commands/context.js';
import { loadPolicy, type PolicyRule, type PolicySet } from '../../../src/config/load-policy.js';
import { DEFAULTS } from '../../../src/defaults.js';
import { ConfigError, formatIssue } from '../../../src/errors.js';
import { createPolicyEngine, type PolicyEngine } from '../../../src/policy/decide.js';
import { callerMatches, type Principal } from '../../../src/principal.js';
import { engineFromYaml, web1, writeTree } from '../../support/policy.js';

const as = (name: string, ...roles: string[]): Principal => ({ name, roles, via: 'command-line' });
const alice = as('alice');
const ops = as('olga', 'ops');
const intern = as('ivan', 'intern');
const carol = as('carol', 'dev');

const POLICY = `
rules:
  - name: diagnostics
    action: allow
    commands: ["uptime", "df -h*", "sudo *", "top -n 1"]
  - name: restarts for ops and alice
    action: allow
    callers: [role:ops, alice]
    commands: ["systemctl restart *"]
  - name: terminal for ops
    action: allow
    callers: [role:ops]
    tty: true
    commands: ["top -n 1"]
  - name: no disk usage for interns
    action: deny
    callers: [role:intern]
    commands: ["df *", "reboot*"]
  - name: never reboot
    action: deny
    commands: ["reboot*"]
`;

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await engineFromYaml(POLICY);
});
const allowed = (command: string, principal?: Principal) => engine.decide(web1, command, { principal }).allowed;

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

const ruleWith = (callers: string) => `rules:\n  - action: allow\n    commands: [uptime]\n    callers: ${callers}\n`;

describe('callers: in the policy file', () => {
  it('is kept on the rule, and absent means every caller', () => {
    const rules = engine.rulesFor(web1);
    expect(rules.map((r) => [r.name, r.callers])).toEqual([
      ['diagnostics', null],
      ['restarts for ops and alice', ['role:ops', 'alice']],
      ['terminal for ops', ['role:ops']],
      ['no disk usage for interns', ['role:intern']],
      ['never reboot', null],
    ]);
  });

  it('refuses an empty list, a missing list and a lone string, at file:line:column', () => {
    expect(policyErrors(ruleWith('[]'))).toEqual([
      'p.yml:4:14: rules[0].callers: callers: [] would apply the rule to no one; name principals or roles (role:ops), or leave callers: out for everyone',
    ]);
    // `callers:` with nothing after it is YAML's null: refused, never read as "everyone".
    expect(policyErrors(ruleWith(''))).toEqual(['p.yml:4:14: rules[0].callers: Invalid input: expected array, received null']);
    expect(policyErrors(ruleWith('alice'))).toEqual([expect.stringMatching(/^p\.yml:4:14: rules\[0\]\.callers: .*expected array/)]);
  });

  it('refuses "role:" alone, another prefix, a glob and a role spelled with its prefix twice', () => {
    expect(policyErrors(ruleWith('[alice, "role:", Role:ops, "*", role:role:ops, group:x]'))).toEqual([
      'p.yml:4:22: rules[0].callers[1]: "role:" needs the name of a role after it, as in role:ops',
      'p.yml:4:31: rules[0].callers[2]: "Role:ops": the only prefix is role: (in lower case), as in role:ops; a name has no colon',
      'p.yml:4:41: rules[0].callers[3]: "*": callers are names and roles, not globs; leave callers: out for a rule that applies to everyone',
      'p.yml:4:46: rules[0].callers[4]: "role:role:ops": "role:ops" is not a role: a role is 1 to 100 of A-Z a-z 0-9 . _ -, not starting with . or -',
      'p.yml:4:61: rules[0].callers[5]: "group:x": the only prefix is role: (in lower case), as in role:ops; a name has no colon',
    ]);
  });

  it('refuses a look-alike letter, spaces, control characters and an overlong name, showing them escaped', () => {
    const errors = policyErrors(ruleWith(`["\u0430lice", "role:\u043eps", " alice", "al\\u0000ice", -x, ${'a'.repeat(101)}]`));
    expect(errors).toEqual([
      expect.stringContaining('rules[0].callers[0]: "\\u{430}lice" is not a name: a name is 1 to 100 of A-Z a-z 0-9 . _ @ + -'),
      expect.stringContaining('rules[0].callers[1]: "role:\\u{43e}ps": "\\u{43e}ps" is not a role'),
      expect.stringContaining('rules[0].callers[2]: " alice" is not a name'),
      expect.stringContaining('rules[0].callers[3]: "al\\u0000ice" is not a name'),
      expect.stringContaining('rules[0].callers[4]: "-x" is not a name'),
      expect.stringContaining(`rules[0].callers[5]: "${'a'.repeat(60)}…" is not a name`),
    ]);
    expect(errors[0]).toContain('a letter outside ASCII could pass for another name');
  });

  it('accepts names with @ + . _ - and roles with . _ -, in any case', () => {
    const dir = writeTree({ 'p.yml': ruleWith('[alice@example.com, a.b+c_d-e, _svc, role:Site_Ops.eu-1, ALICE]') });
    expect(loadPolicy(join(dir, 'p.yml')).rules[0]?.callers).toEqual([
      'alice@example.com',
      'a.b+c_d-e',
      '_svc',
      'role:Site_Ops.eu-1',
      'ALICE',
    ]);
  });
});

describe('an allow rule with callers:', () => {
  it('allows the principals and roles it names, and no one else', () => {
    expect(allowed('systemctl restart nginx', ops)).toBe(true);
    expect(allowed('systemctl restart nginx', alice)).toBe(true);
    expect(allowed('systemctl restart nginx', carol)).toBe(false);
    expect(allowed('systemctl restart nginx', intern)).toBe(false);
  });

  it('allows nothing when no principal is known', () => {
    const d = engine.decide(web1, 'systemctl restart nginx');
    expect(d.allowed).toBe(false);
    expect(d.caller).toBeNull();
    expect(d.segments[0]?.reason).toBe(
      'no allow rule matches it (deny by default); allow rule "restarts for ops and alice" matches it but applies only to callers role:ops, alice, and no caller was given',
    );
  });

  it('names the rule a principal is not among, when it would have allowed the command', () => {
    expect(engine.decide(web1, 'systemctl restart nginx', { principal: carol }).reason).toContain(
      'applies only to callers role:ops, alice',
    );
    expect(engine.decide(web1, 'systemctl restart nginx', { principal: carol }).reason).not.toContain('no caller was given');
  });

  it('compares names and roles exactly: case, a name that looks like a role, a role with its prefix', () => {
    expect(allowed('systemctl restart nginx', as('Alice'))).toBe(false);
    expect(allowed('systemctl restart nginx', as('alice '))).toBe(false);
    expect(allowed('systemctl restart nginx', as('\u0430lice'))).toBe(false);
    expect(allowed('systemctl restart nginx', as('x', 'Ops'))).toBe(false);
    expect(allowed('systemctl restart nginx', as('role:ops'))).toBe(false);
    expect(allowed('systemctl restart nginx', as('x', 'role:ops'))).toBe(false);
    expect(allowed('systemctl restart nginx', as('x', ''))).toBe(false);
    expect(allowed('systemctl restart nginx', as('x', 'dev', 'ops'))).toBe(true);
  });

  it('gives a terminal only to the callers of the rule that says tty: true', () => {
    expect(engine.decide(web1, 'top -n 1', { principal: ops }).tty_allowed).toBe(true);
    const d = engine.decide(web1, 'top -n 1', { principal: alice });
    expect(d).toMatchObject({ allowed: true, tty_allowed: false });
    expect(engine.decide(web1, 'top -n 1').tty_allowed).toBe(false);
  });
});

describe('a deny rule with callers:', () => {
  it('denies only the callers it names; everyone else keeps the allow', () => {
    expect(allowed('df -h', intern)).toBe(false);
    expect(engine.decide(web1, 'df -h', { principal: intern }).reason).toContain('deny rule "no disk usage for interns"');
    expect(allowed('df -h', ops)).toBe(true);
    expect(allowed('df -h', alice)).toBe(true);
    expect(allowed('df -h', as('x', 'Intern'))).toBe(true);
  });

  it('applies when no principal is known: the caller could be one it names', () => {
    const d = engine.decide(web1, 'df -h');
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain('deny rule "no disk usage for interns"');
  });

  it('wins over an allow rule that names the same caller, and catches the command behind wrappers', () => {
    const both = as('ivan', 'intern', 'ops');
    expect(allowed('df -h', both)).toBe(false);
    expect(allowed('sudo df -h', intern)).toBe(false);
    expect(allowed('sudo df -h', ops)).toBe(true);
  });

  it('leaves a deny rule without callers denying everyone', () => {
    for (const p of [undefined, ops, alice, intern]) expect(allowed('reboot', p)).toBe(false);
    for (const p of [undefined, ops, alice, intern]) expect(allowed('sudo reboot', p)).toBe(false);
  });
});

describe('a decision', () => {
  it('names the principal it was decided for, without how it proved itself', () => {
    // A credential id no temporary path or rule name could contain by chance.
    const credentialId = 'credential-id-7f3e9a';
    const d = engine.decide(web1, 'uptime', { principal: { ...ops, via: 'token', credentialId } });
    expect(d.caller).toEqual({ name: 'olga', roles: ['ops'] });
    expect(JSON.stringify(d)).not.toContain(credentialId);
    expect(JSON.stringify(d)).not.toContain('"via"');
  });

  it('is the same as before for rules without callers:, with or without a principal', () => {
    for (const p of [undefined, ops, alice, intern, carol]) {
      expect(allowed('uptime', p)).toBe(true);
      expect(allowed('uptime; reboot', p)).toBe(false);
      expect(engine.decide(web1, 'vim x', { principal: p }).reason).toBe('"vim x" is denied: no allow rule matches it (deny by default)');
    }
  });
});

/** A policy of the given rules, as the loader would give it. */
function policyOf(rules: PolicyRule[]): PolicySet {
  return {
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
  };
}

describe('callers: under random policies and principals', () => {
  const COMMANDS = ['uptime', 'hostname', 'date', 'whoami'];
  const ENTRIES = ['alice', 'Alice', 'bob', 'role:ops', 'role:Ops', 'role:intern'];
  const rule = fc.record({
    action: fc.constantFrom('allow' as const, 'deny' as const),
    callers: fc.option(fc.uniqueArray(fc.constantFrom(...ENTRIES), { minLength: 1 }), { nil: null }),
    commands: fc.uniqueArray(fc.constantFrom(...COMMANDS), { minLength: 1 }),
  });
  const principal = fc.option(
    fc.record({
      name: fc.constantFrom<string>('alice', 'Alice', 'bob', 'carol', 'role:ops', '\u0430lice', ''),
      roles: fc.uniqueArray(fc.constantFrom<string>('ops', 'Ops', 'intern', 'role:ops', ''), { maxLength: 3 }),
      via: fc.constant('command-line' as const),
    }),
    { nil: undefined },
  );

  it('allows a command exactly when a rule for the caller allows it and none for the caller denies it', async () => {
    const parser = await shellParser();
    fc.assert(
      fc.property(fc.array(rule, { minLength: 1, maxLength: 6 }), principal, fc.constantFrom(...COMMANDS), (specs, who, command) => {
        const rules: PolicyRule[] = specs.map((s, i) => ({
          ...s,
          name: `r${i}`,
          source: `p.yml:${i + 2}:5`,
          aliases: [],
          tags: [],
          tty: false,
          stdin: false,
          approval: null,
          become: null,
        }));
        const d = createPolicyEngine(policyOf(rules), parser).decide(web1, command, { principal: who });
        // The model, written apart from the engine: without a principal only deny rules with callers: count.
        const counts = (r: PolicyRule) =>
          r.callers === null ||
          (who === undefined
            ? r.action === 'deny'
            : r.callers.some((c) => (c.startsWith('role:') ? who.roles.includes(c.slice(5)) : c === who.name)));
        const hit = (action: string) => rules.some((r) => r.action === action && counts(r) && r.commands.includes(command));
        expect(d.allowed).toBe(hit('allow') && !hit('deny'));
        // The rule that allowed it names the caller, whenever it names callers at all.
        const by = rules.find((r) => r.name === d.segments[0]?.rule);
        if (d.allowed && by?.callers) expect(who !== undefined && callerMatches(who, by.callers)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
