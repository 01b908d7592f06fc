import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { targetFor, targetProblems, type TargetContext } from '../../../src/gateway/targets.js';
import { writeTree } from '../../support/policy.js';

describe('preparing every host at start', () => {
  it('reports a credential problem once, with every host it stops, and other problems apart', () => {
    const dir = writeTree({
      'servers.yml': [
        'hosts:',
        '  - { alias: bastion, host: 10.0.0.2, credentials: shared }',
        '  - { alias: web1, host: 10.0.0.11, credentials: shared, jump: bastion }',
        '  - { alias: web2, host: 10.0.0.12, credentials: other, jump: bastion }',
        '  - { alias: db1, host: 10.0.0.21, credentials: other }',
        '',
      ].join('\n'),
      'credentials.yml':
        'entries:\n  - { name: shared, username: u, key_path: gone }\n  - { name: other, username: u, password_secret: never_set }\n',
    });
    const inventory = loadInventory({ configDir: dir, keysDir: `${dir}/keys` });
    const ctx: TargetContext = {
      inventory,
      network: { check: () => ({ allowed: true }) } as unknown as TargetContext['network'],
      hostKeys: { path: 'known_hosts', verify: () => ({ status: 'unknown' }) },
      sources: { keysDir: `${dir}/keys`, secretsDir: `${dir}/secrets`, env: {} },
      auths: new Map(),
    };
    const problems = targetProblems(inventory.hosts, (h) => targetFor(h, ctx));
    expect(problems.map((p) => [p.aliases, p.error.message])).toEqual([
      [['bastion', 'web1'], `the key of credential "shared" cannot be read: ${dir}/keys/gone`],
      [['web2', 'db1'], 'secret "never_set" is not set'],
    ]);
  });
});
