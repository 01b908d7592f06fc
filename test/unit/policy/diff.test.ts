import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { callersToCompare, diffPolicies } from '../../../src/policy/diff.js';
import { engineFromYaml, writeTree } from '../../support/policy.js';

const inventory = () => {
  const dir = writeTree({
    'servers.yml': 'hosts:\n  - { alias: web1, host: h.example, credentials: k, tags: [web] }\n',
    'credentials.yml': 'entries:\n  - { name: k, username: u, agent: true }\n',
  });
  return loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
};

describe('policy diff, per caller', () => {
  it('compares for no principal alone when no rule has callers:, whatever the cases say', async () => {
    const engine = await engineFromYaml('rules:\n  - { action: allow, commands: ["uptime"] }\n');
    const cases = [{ alias: 'web1', command: 'uptime', as: 'olga', roles: ['ops'], expect: 'allow' as const }];
    expect(callersToCompare([engine, engine], cases).map((c) => c.label)).toEqual(['(no principal)']);
  });

  it('compares for no principal, anyone else, each name and role the rules name, and each case principal', async () => {
    const before = await engineFromYaml('rules:\n  - { action: allow, callers: [role:ops, alice], commands: ["uptime"] }\n');
    const after = await engineFromYaml('rules:\n  - { action: deny, callers: [role:intern, alice], commands: ["uptime"] }\n');
    const cases = [
      { alias: 'web1', command: 'uptime', as: 'alice', expect: 'allow' as const },
      { alias: 'web1', command: 'uptime', as: 'olga', roles: ['ops', 'dev'], expect: 'allow' as const },
    ];
    const callers = callersToCompare([before, after], cases);
    expect(callers.map((c) => c.label)).toEqual([
      '(no principal)',
      '(anyone else)',
      'role:ops',
      'alice',
      'role:intern',
      'olga (role:ops, role:dev)',
    ]);
    expect(callers.map((c) => c.principal && [c.principal.name, c.principal.roles])).toEqual([
      undefined,
      ['(anyone else)', []],
      ['(role:ops)', ['ops']],
      ['alice', []],
      ['(role:intern)', ['intern']],
      ['olga', ['ops', 'dev']],
    ]);
  });

  it('names only the callers a change is for, and none when it changes alike for all', async () => {
    const before = await engineFromYaml(`rules:
  - { name: all, action: allow, commands: ["uptime", "df -h"] }
  - { name: no df, action: deny, callers: [role:intern], commands: ["df *"] }
`);
    const after = await engineFromYaml(`rules:
  - { name: all, action: allow, commands: ["df -h"] }
  - { name: no df, action: deny, callers: [role:intern, role:contractor], commands: ["df *"] }
`);
    const { decisions } = diffPolicies(before, after, inventory(), []);
    expect(decisions.map((d) => [d.command, `${d.from}→${d.to}`, d.as])).toEqual([
      ['uptime', 'allow→deny', undefined],
      ['df -h', 'allow→deny', ['role:contractor']],
    ]);
    expect(decisions[1]?.after.caller).toEqual({ name: '(role:contractor)', roles: ['contractor'] });
  });
});
