import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicyCases } from '../../../src/config/load-cases.js';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { ConfigError, formatIssue } from '../../../src/errors.js';
import { caseLabel, decideCase, runCase } from '../../../src/policy/cases.js';
import type { PolicyEngine } from '../../../src/policy/decide.js';
import type { HostRef } from '../../../src/policy/limits.js';
import { engineFromYaml, writeTree } from '../../support/policy.js';

/** The real engine, recording every host it is asked about. */
async function recordingEngine(seen: HostRef[]): Promise<PolicyEngine> {
  const engine = await engineFromYaml('rules:\n  - { action: allow, commands: ["uptime"] }\n');
  return { ...engine, decide: (host, command) => (seen.push(host), engine.decide(host, command)) };
}

describe('policy test cases', () => {
  it('decide with the shell of the inventory host, and bash for a host described by tags alone', async () => {
    const dir = writeTree({
      'servers.yml':
        'hosts:\n  - { alias: a, host: h.example, credentials: k }\n  - { alias: b, host: h.example, credentials: k, shell: sh }\n',
      'credentials.yml': 'entries:\n  - { name: k, username: u, agent: true }\n',
    });
    const inventory = loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
    const seen: HostRef[] = [];
    const engine = await recordingEngine(seen);
    for (const c of [
      { alias: 'a', command: 'uptime', expect: 'allow' as const },
      { alias: 'b', command: 'uptime', expect: 'allow' as const },
      { alias: 'b', tags: ['web'], command: 'uptime', expect: 'allow' as const },
      { alias: 'new-host', tags: ['web'], command: 'uptime', expect: 'allow' as const },
    ]) {
      expect(decideCase(engine, inventory, c)?.allowed).toBe(true);
    }
    expect(seen.map((h) => [h.alias, h.shell])).toEqual([
      ['a', 'bash'],
      ['b', 'sh'],
      ['b', 'sh'],
      ['new-host', 'bash'],
    ]);
  });
});

describe('policy test cases with as: and roles:', () => {
  const inventoryDir = () =>
    writeTree({
      'servers.yml': 'hosts:\n  - { alias: web1, host: h.example, credentials: k, tags: [web] }\n',
      'credentials.yml': 'entries:\n  - { name: k, username: u, agent: true }\n',
    });
  const POLICY = `rules:
  - { name: restarts for ops, action: allow, callers: [role:ops, alice], commands: ["systemctl restart *"] }
  - { name: uptime, action: allow, commands: ["uptime"] }
  - { name: no uptime for interns, action: deny, callers: [role:intern], commands: ["uptime"] }
`;

  function caseErrors(yaml: string): string[] {
    const dir = writeTree({ 'c.yml': yaml });
    try {
      loadPolicyCases(join(dir, 'c.yml'));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).issues.map((i) => formatIssue(i).replace(`${dir}/`, ''));
    }
    throw new Error('expected the cases to be refused');
  }

  it('decides each case for its principal, and one without as: for no principal', async () => {
    const dir = inventoryDir();
    const inventory = loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
    const engine = await engineFromYaml(POLICY);
    const casesDir = writeTree({
      'c.yml': `- { alias: web1, command: "systemctl restart api", as: olga, roles: [ops], expect: allow }
- { alias: web1, command: "systemctl restart api", as: alice, expect: allow }
- { alias: web1, command: "systemctl restart api", as: bob, roles: [dev], expect: deny }
- { alias: web1, command: "systemctl restart api", expect: deny }
- { alias: web1, command: "uptime", as: ivan, roles: [intern, ops], expect: deny }
- { alias: web1, command: "uptime", as: olga, roles: [ops], expect: allow }
- { alias: web1, command: "uptime", expect: deny }
- { alias: web1, command: "systemctl restart api", as: Alice, expect: allow }
`,
    });
    const cases = loadPolicyCases(join(casesDir, 'c.yml'));
    expect(cases[0]).toMatchObject({ as: 'olga', roles: ['ops'] });
    const results = cases.map((c) => runCase(engine, inventory, c));
    expect(results.map((r) => r.passed)).toEqual([true, true, true, true, true, true, true, false]);
    expect(results[0]?.decision?.caller).toEqual({ name: 'olga', roles: ['ops'] });
    expect(results[3]?.decision?.caller).toBeNull();
    expect(results[7]?.reason).toContain('applies only to callers role:ops, alice');
    expect(cases.map(caseLabel).slice(0, 4)).toEqual([
      'web1 as olga (role:ops): systemctl restart api',
      'web1 as alice: systemctl restart api',
      'web1 as bob (role:dev): systemctl restart api',
      'web1: systemctl restart api',
    ]);
  });

  it('refuses roles: without as:, a role given with its prefix and a name no rule could name, at file:line:column', () => {
    expect(
      caseErrors(`- { alias: web1, command: uptime, roles: [ops], expect: allow }
- { alias: web1, command: uptime, as: alice, roles: ["role:ops", ""], expect: allow }
- { alias: web1, command: uptime, as: "\u0430lice", expect: allow }
- { alias: web1, command: uptime, as: "role:ops", expect: allow }
- { alias: web1, command: uptime, as: [alice], expect: allow }
`),
    ).toEqual([
      'c.yml:1:42: [0].roles: roles: belong to a principal: give its name with as: (as: alice, roles: [ops])',
      `c.yml:2:54: [1].roles[0]: "role:ops": give the role's name alone (ops, not role:ops)`,
      'c.yml:2:66: [1].roles[1]: "" is not a role: a role is 1 to 100 of A-Z a-z 0-9 . _ -, not starting with . or -',
      expect.stringMatching(/^c\.yml:3:39: \[2\]\.as: "\\u\{430\}lice" is not a name/),
      expect.stringMatching(/^c\.yml:4:39: \[3\]\.as: "role:ops" is not a name/),
      expect.stringMatching(/^c\.yml:5:39: \[4\]\.as: .*expected string/),
    ]);
  });
});
