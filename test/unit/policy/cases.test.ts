import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { decideCase } from '../../../src/policy/cases.js';
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
