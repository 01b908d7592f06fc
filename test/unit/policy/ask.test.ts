import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { shellParser } from '../../../src/commands/context.js';
import { formatDecision } from '../../../src/commands/plan.js';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { loadPolicy, type PolicyRule } from '../../../src/config/load-policy.js';
import { ConfigError, formatIssue } from '../../../src/errors.js';
import { runCase } from '../../../src/policy/cases.js';
import { createPolicyEngine, type PolicyEngine } from '../../../src/policy/decide.js';
import { Decision } from '../../../src/policy/decision.js';
import { diffPolicies } from '../../../src/policy/diff.js';
import type { Principal } from '../../../src/principal.js';
import { engineFromYaml, web1, writeTree } from '../../support/policy.js';

const as = (name: string, ...roles: string[]): Principal => ({ name, roles, via: 'command-line' });

const POLICY = `
rules:
  - name: diagnostics
    action: allow
    commands: ["uptime", "systemctl status *", "sudo *", "systemctl restart *", "cat *"]
  - name: restarts need a person
    action: ask
    commands: ["systemctl restart *"]
  - name: reboots need a person
    action: ask
    commands: ["reboot", "rm -r /srv/*", "echo $(*)"]
  - name: interns ask for status
    action: ask
    callers: [role:intern]
    commands: ["systemctl status *"]
  - name: ops may ask to stop
    action: ask
    callers: [role:ops]
    commands: ["systemctl stop *"]
  - name: no shadow
    action: deny
    commands: ["*/etc/shadow*", "reboot -f*"]
  - name: wrapped ask
    action: ask
    commands: ["timeout 5 reboot"]
`;

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await engineFromYaml(POLICY);
});
const decide = (command: string, principal?: Principal) => engine.decide(web1, command, { principal });
const verdict = (command: string, principal?: Principal) => decide(command, principal).verdict;

describe('ask rules: deny > ask > allow', () => {
  it('asks for a command an ask rule matches, even with no allow rule, naming the rule and its file:line', () => {
    const d = decide('reboot');
    expect([d.verdict, d.allowed, d.tty_allowed, d.stdin_allowed]).toEqual(['ask', false, false, false]);
    expect(d.reason).toMatch(/^"reboot" needs approval \(ask rule "reboots need a person" at .*policy\.yml:\d+:5\)$/);
    expect(d.segments[0]).toMatchObject({ verdict: 'ask', allowed: false, rule: 'reboots need a person' });
    expect(d.matched_rules).toEqual([expect.objectContaining({ name: 'reboots need a person', action: 'ask' })]);
  });

  it('asks for a command an allow rule allows when an ask rule also matches it, whatever the order', () => {
    expect(verdict('systemctl restart nginx')).toBe('ask');
    const d = decide('sudo systemctl restart nginx');
    expect(d.verdict).toBe('ask');
    expect(d.segments[0]?.reason).toBe(
      'matches allow rule "diagnostics" (pattern "sudo *"), and ask rule "restarts need a person" (pattern "systemctl restart *") makes it need approval',
    );
    expect(d.segments[0]?.rule).toBe('restarts need a person');
  });

  it('catches an ask pattern behind a wrapper as a deny pattern would, once an allow rule allows the whole', () => {
    expect(verdict('sudo systemctl restart nginx')).toBe('ask');
    expect(verdict('sudo /bin/systemctl restart nginx')).toBe('ask');
    expect(verdict('sudo systemctl status nginx', as('x'))).toBe('allow');
  });

  it('never makes approvable what an allow rule could not name: wrappers and constructs stay denied', () => {
    // "reboot" is approvable, but sudo is named by no ask rule: the wrapper is not approvable.
    expect(verdict('sudo reboot', as('x'))).toBe('ask'); // allowed by "sudo *", and the ask pattern caught behind sudo
    expect(verdict('timeout 5 reboot')).toBe('ask'); // named literally by the ask rule
    expect(verdict('nice reboot')).toBe('deny'); // nice is named by no rule
    expect(verdict('echo $(id)')).toBe('deny'); // the substitution's own command is asked of no rule
    // A substitution may print anything, "/etc/shadow" too: the deny rule wins.
    expect(verdict('echo $(reboot)')).toBe('deny');
    expect(verdict('(reboot)')).toBe('deny');
    expect(verdict('rm -r /srv/a')).toBe('ask');
    expect(verdict('rm -r /srv/../etc')).toBe('ask'); // a deny rule for traversal is the policy's to write
    expect(verdict('rm -rf /')).toBe('deny');
  });

  it('lets any matching deny win over ask, segment by segment and for the whole command', () => {
    expect(verdict('reboot -f')).toBe('deny');
    expect(verdict('cat /etc/shadow')).toBe('deny');
    const d = decide('reboot; cat /etc/shadow; uptime');
    expect(d.verdict).toBe('deny');
    expect(d.segments.map((s) => s.verdict)).toEqual(['ask', 'deny', 'allow']);
    expect(d.reason).toContain('"cat /etc/shadow" is denied');
    const mixed = decide('uptime && reboot');
    expect([mixed.verdict, mixed.allowed]).toEqual(['ask', false]);
    expect(mixed.segments.map((s) => s.verdict)).toEqual(['allow', 'ask']);
    expect(decide('uptime; vim x').verdict).toBe('deny');
    expect(decide('uptime; cat /etc/hosts').verdict).toBe('allow');
  });

  it('applies callers: to ask rules as to others, and without a principal only to make an allowed command ask', () => {
    expect(verdict('systemctl status nginx', as('ivan', 'intern'))).toBe('ask');
    expect(verdict('systemctl status nginx', as('olga', 'ops'))).toBe('allow');
    // No principal: the interns' ask rule may apply, so the allowed command needs approval.
    expect(verdict('systemctl status nginx')).toBe('ask');
    expect(verdict('systemctl stop nginx', as('olga', 'ops'))).toBe('ask');
    expect(verdict('systemctl stop nginx', as('ivan', 'intern'))).toBe('deny');
    // No principal: the ops' ask rule does not make a denied command approvable.
    expect(verdict('systemctl stop nginx')).toBe('deny');
  });

  it('does not let the network policy be skipped by an ask', async () => {
    const { decideForHost } = await import('../../../src/policy/host-decision.js');
    const blocked = await engineFromYaml('rules:\n  - { action: ask, commands: ["reboot"] }\nnetwork:\n  block_cidrs: ["10.0.0.0/8"]\n');
    const host = { alias: 'web1', host: '10.1.2.3', port: 22, credentials: 'k', tags: [], description: '', shell: 'bash' as const };
    const d = decideForHost(blocked, host, 'reboot');
    expect([d.verdict, d.allowed]).toEqual(['deny', false]);
    expect(d.reason).toMatch(/^network policy: /);
  });
});

describe('ask rules in the policy file', () => {
  function problems(yaml: string): string[] {
    const dir = writeTree({ 'p.yml': yaml });
    try {
      loadPolicy(join(dir, 'p.yml'));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).issues.map((i) => formatIssue(i).replace(`${dir}/`, ''));
    }
    return [];
  }

  it('loads action: ask and refuses tty: or stdin: on it, and an unknown action, at file:line:column', () => {
    expect(problems('rules:\n  - { action: ask, commands: [reboot] }\n')).toEqual([]);
    expect(problems('rules:\n  - action: ask\n    tty: true\n    commands: [top]\n').join('\n')).toMatch(
      /p\.yml:3:\d+: .*tty: true belongs on allow rules; an ask rule asks for approval of a command with or without a terminal/,
    );
    expect(problems('rules:\n  - action: ask\n    stdin: true\n    commands: [wc]\n').join('\n')).toMatch(
      /p\.yml:3:\d+: .*stdin: true belongs/,
    );
    expect(problems('rules:\n  - action: maybe\n    commands: [wc]\n').join('\n')).toMatch(/p\.yml:2:\d+: .*ask/);
  });
});

describe('ask in plan, policy test and policy diff', () => {
  const inventory = () => {
    const dir = writeTree({
      'servers.yml': 'hosts:\n  - { alias: web1, host: h.example, credentials: k, tags: [web] }\n',
      'credentials.yml': 'entries:\n  - { name: k, username: u, agent: true }\n',
    });
    return loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
  };

  it('plan shows ASK with the rule and its file:line, in text and in JSON', () => {
    const d = decide('uptime; systemctl restart nginx');
    const text = formatDecision(d);
    expect(text).toMatch(
      /^web1: ASK — "systemctl restart nginx" needs approval \(ask rule "restarts need a person" at .*policy\.yml:\d+:5\)\n/,
    );
    expect(text).toMatch(/\n {2}allow {2}uptime\n/);
    expect(text).toMatch(
      /\n {2}ask {4}systemctl restart nginx\n {9}matches ask rule "restarts need a person" .*: it needs approval \[.*policy\.yml:\d+:5\]\n/,
    );
    const json = Decision.parse(JSON.parse(JSON.stringify(d)));
    expect(json).toMatchObject({
      verdict: 'ask',
      allowed: false,
      segments: [{ verdict: 'allow' }, { verdict: 'ask', source: expect.stringMatching(/policy\.yml:\d+:5$/) }],
    });
  });

  it('policy test cases accept expect: ask, and fail an ask expected to be allowed', () => {
    const inv = inventory();
    const c = (command: string, expect: 'allow' | 'ask' | 'deny') => ({ alias: 'web1', command, expect, source: 't.yml:1:3' });
    expect(runCase(engine, inv, c('reboot', 'ask'))).toMatchObject({ passed: true, got: 'ask' });
    expect(runCase(engine, inv, c('reboot', 'allow'))).toMatchObject({ passed: false, got: 'ask' });
    expect(runCase(engine, inv, c('reboot', 'deny'))).toMatchObject({ passed: false, got: 'ask' });
    expect(runCase(engine, inv, c('reboot -f', 'ask'))).toMatchObject({ passed: false, got: 'deny' });
    expect(runCase(engine, inv, { ...c('reboot', 'ask'), tty: true })).toMatchObject({ passed: false, got: 'deny' });
  });

  it('policy diff reports allow→ask, ask→deny and deny→ask', async () => {
    const before = await engineFromYaml(
      'rules:\n  - { action: allow, commands: ["uptime", "df -h"] }\n  - { action: ask, commands: ["reboot"] }\n',
    );
    const after = await engineFromYaml(
      'rules:\n  - { action: allow, commands: ["uptime", "df -h"] }\n  - { action: ask, commands: ["df -h", "hostname"] }\n  - { action: deny, commands: ["reboot"] }\n',
    );
    const { decisions } = diffPolicies(before, after, inventory(), []);
    const seen = decisions.map((d) => `${d.command}: ${d.from}→${d.to}`);
    expect(seen).toEqual(expect.arrayContaining(['df -h: allow→ask', 'reboot: ask→deny', 'hostname: deny→ask']));
    expect(seen).not.toContain('uptime: allow→allow');
  });

  it('policy diff reports looser or stricter terms of approval as ask→ask with what changed', async () => {
    const before = await engineFromYaml(
      'rules:\n  - { action: ask, commands: ["reboot"] }\n  - { action: ask, commands: ["halt"], four_eyes: true }\n',
    );
    const after = await engineFromYaml(
      'rules:\n  - { action: ask, commands: ["reboot"], approve_by: client, grant_minutes: 30 }\n  - { action: ask, commands: ["halt"], four_eyes: true }\n',
    );
    const { decisions } = diffPolicies(before, after, inventory(), []);
    const seen = decisions.map((d) => `${d.command}: ${d.from}→${d.to} ${d.approval ?? ''}`);
    expect(seen).toEqual(['reboot: ask→ask approve_by operator→client, grant_minutes once→30']);
  });

  it('plan prints the terms of approval, and a rule that is not ask cannot carry them', async () => {
    const e = await engineFromYaml(
      'rules:\n  - { action: ask, commands: ["reboot"], approve_by: either, four_eyes: true, approval_timeout_seconds: 60 }\n',
    );
    const d = e.decide({ alias: 'web1', tags: [] }, 'reboot');
    expect(d.approval).toMatchObject({ approve_by: 'either', timeout_seconds: 60, four_eyes: true, grant_minutes: null });
    expect(formatDecision(d)).toMatch(/\n {2}approval: by either, within 60 s, four eyes \(not by the caller\), once\n/);
    await expect(engineFromYaml('rules:\n  - { action: allow, commands: ["x"], grant_minutes: 5 }\n')).rejects.toThrow(
      /grant_minutes belongs on ask rules; an allow rule runs its commands without approval/,
    );
    await expect(engineFromYaml('rules:\n  - { action: ask, commands: ["x"], approval_timeout_seconds: 1 }\n')).rejects.toThrow(
      /approval_timeout_seconds/,
    );
  });
});

describe('ask rules under random policies', () => {
  const COMMANDS = [
    'uptime',
    'reboot',
    'sudo reboot',
    'timeout 5 reboot',
    'uptime; reboot',
    'echo $(reboot)',
    'cat /etc/shadow',
    'cat /etc/hosts',
    'rm -rf /',
    'systemctl restart nginx',
    'sudo systemctl restart nginx',
    '(uptime)',
    'echo hi > /tmp/x',
    'bash -c reboot',
  ];
  const PATTERNS = [
    '*',
    'sudo *',
    'reboot*',
    'uptime',
    'echo *',
    'echo $(*)',
    'cat *',
    'rm *',
    'systemctl restart *',
    'timeout 5 *',
    'bash -c *',
  ];
  const spec = fc.record({
    action: fc.constantFrom('allow' as const, 'deny' as const, 'ask' as const),
    commands: fc.uniqueArray(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 3 }),
    callers: fc.option(fc.constant<string[]>(['role:ops']), { nil: null }),
  });
  const toRules = (specs: { action: PolicyRule['action']; commands: string[]; callers: string[] | null }[]): PolicyRule[] =>
    specs.map((s, i) => ({
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

  it('adding an ask rule never makes anything allowed, nor approvable what the same rule as allow would not allow', async () => {
    const parser = await shellParser();
    const base = loadPolicy(join(writeTree({ 'p.yml': 'rules:\n  - { action: deny, commands: ["nothing"] }\n' }), 'p.yml'));
    const engineOf = (rules: PolicyRule[]) => createPolicyEngine({ ...base, rules }, parser);
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 4 }),
        spec,
        fc.constantFrom(...COMMANDS),
        fc.option(fc.constant(as('olga', 'ops')), { nil: undefined }),
        (specs, added, command, who) => {
          const rules = toRules(specs);
          const extra = toRules([added])[0] as PolicyRule;
          const before = engineOf(rules).decide(web1, command, { principal: who });
          const withAsk = engineOf([...rules, { ...extra, name: 'added', action: 'ask' }]).decide(web1, command, { principal: who });
          const withAllow = engineOf([...rules, { ...extra, name: 'added', action: 'allow' }]).decide(web1, command, { principal: who });
          if (withAsk.verdict === 'allow') expect(before.verdict).toBe('allow');
          if (withAllow.verdict === 'deny') expect(withAsk.verdict).toBe('deny');
          if (before.verdict === 'ask') expect(withAsk.verdict).toBe('ask');
        },
      ),
      { numRuns: 1500 },
    );
  });
});
