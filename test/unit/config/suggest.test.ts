import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { loadPolicy } from '../../../src/config/load-policy.js';
import { hostByAlias, hostsWithTag } from '../../../src/config/select-hosts.js';
import { closest } from '../../../src/config/suggest.js';
import { ConfigError, SshgateError } from '../../../src/errors.js';
import { runCase } from '../../../src/policy/cases.js';
import { engineFromYaml, writeTree } from '../../support/policy.js';

/** The messages of the ConfigError `load` throws, as `file:line:col: message` lines. */
function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const credentials = 'entries:\n  - { name: deploy-key, username: u, agent: true }\n';
const inventoryAt = (servers: string) => {
  const dir = writeTree({ 'servers.yml': servers, 'credentials.yml': credentials });
  return () => loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
};

describe('did you mean: the nearest name', () => {
  it('suggests a name one or two edits away, or differing in case, and nothing farther', () => {
    expect(closest('comands', ['aliases', 'commands', 'tags'])).toBe('commands');
    expect(closest('tgas', ['aliases', 'commands', 'tags'])).toBe('tags');
    expect(closest('Tags', ['aliases', 'commands', 'tags'])).toBe('tags');
    expect(closest('db', ['web'])).toBeUndefined();
    expect(closest('network', ['limits', 'rules'])).toBeUndefined();
    expect(closest('x'.repeat(5000), ['x'])).toBeUndefined();
  });
});

describe('did you mean: unknown keys', () => {
  it('names the key a misspelt one in a policy rule was meant to be, at its line', () => {
    const dir = writeTree({ 'p.yml': 'rules:\n  - action: allow\n    comands: ["uptime"]\n' });
    const lines = problems(() => loadPolicy(join(dir, 'p.yml')));
    expect(lines).toContainEqual(
      expect.stringMatching(/p\.yml:3:5: unknown key "comands"; did you mean "commands"\? expected one of: name, /),
    );
  });

  it('names each of several misspelt keys, and no suggestion for a key like none', () => {
    const dir = writeTree({ 'p.yml': 'limts: { max_seconds: 5 }\nrulez: []\nzzzzzz: 1\n' });
    const lines = problems(() => loadPolicy(join(dir, 'p.yml')));
    expect(lines[0]).toMatch(/p\.yml:1:1: unknown key "limts"; did you mean "limits" for "limts", "rules" for "rulez"\? expected one of:/);
    expect(lines.some((l) => l.includes('unknown key "zzzzzz"'))).toBe(true);
  });

  it('names the key meant in servers.yml', () => {
    const lines = problems(inventoryAt('hosts:\n  - { alias: web1, host: 10.0.0.1, credentials: deploy-key, tgas: [web] }\n'));
    expect(lines).toContainEqual(
      expect.stringMatching(/servers\.yml:2:\d+: unknown key "tgas"; did you mean "tags"\? expected one of: alias, /),
    );
  });

  it('leaves the message as it was when no key is near', () => {
    const lines = problems(inventoryAt('hosts:\n  - { alias: web1, host: 10.0.0.1, credentials: deploy-key, zzzzzzzz: 1 }\n'));
    expect(lines).toContainEqual(expect.stringMatching(/unknown key "zzzzzzzz"; expected one of: alias, /));
  });
});

describe('did you mean: names the inventory has', () => {
  it('names the jump host and the credential meant', () => {
    const lines = problems(
      inventoryAt(`hosts:
  - { alias: bastion, host: 10.0.0.2, credentials: deploy-key }
  - { alias: web1, host: 10.0.0.11, credentials: deploy-kye, jump: bastoin }
`),
    );
    expect(lines).toContainEqual(
      expect.stringContaining(
        'credential "deploy-kye" is not defined in credentials.yml (defined: deploy-key); did you mean "deploy-key"?',
      ),
    );
    expect(lines).toContainEqual(expect.stringContaining('jump host "bastoin" is not an alias in this inventory; did you mean "bastion"?'));
  });

  it('hints at the alias and the tag meant when a call names an unknown one', () => {
    const inventory = inventoryAt('hosts:\n  - { alias: web1, host: 10.0.0.11, credentials: deploy-key, tags: [prod] }\n')();
    const error = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        if (err instanceof SshgateError) return err;
      }
      throw new Error('expected an SshgateError');
    };
    expect(error(() => hostByAlias(inventory, 'wbe1')).hint).toBe(
      'did you mean "web1"? ssh_list_hosts (or sshgate check) lists the aliases',
    );
    expect(error(() => hostsWithTag(inventory, 'prdo')).hint).toMatch(/^did you mean "prod"\? /);
    expect(error(() => hostByAlias(inventory, 'mail')).hint).toBe('ssh_list_hosts (or sshgate check) lists the aliases');
  });

  it('names the alias meant by a policy test case', async () => {
    const inventory = inventoryAt('hosts:\n  - { alias: web1, host: 10.0.0.11, credentials: deploy-key }\n')();
    const engine = await engineFromYaml('rules:\n  - { action: allow, commands: ["uptime"] }\n');
    const r = runCase(engine, inventory, { alias: 'web2', command: 'uptime', expect: 'allow', source: 't.yml:1:3' });
    expect(r.problem).toBe('alias "web2" is not in the inventory (did you mean "web1"?) (give tags: to describe a host that is not)');
  });
});
