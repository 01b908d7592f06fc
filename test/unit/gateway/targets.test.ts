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

describe('the become settings of a credential', () => {
  const setup = (credential: string, env: Record<string, string> = {}) => {
    const dir = writeTree({
      'servers.yml': 'hosts:\n  - { alias: web1, host: 10.0.0.11, credentials: c }\n',
      'credentials.yml': `entries:\n  - ${credential}\n`,
      'secrets/sudo_pw': 'from-the-file\n',
      'secrets/login_pw': 'x\n',
    });
    const inventory = loadInventory({ configDir: dir, keysDir: `${dir}/keys` });
    const ctx: TargetContext = {
      inventory,
      network: { check: () => ({ allowed: true }) } as unknown as TargetContext['network'],
      hostKeys: { path: 'known_hosts', verify: () => ({ status: 'unknown' }) },
      sources: { keysDir: `${dir}/keys`, secretsDir: `${dir}/secrets`, env },
    };
    return () => targetFor(inventory.hosts[0] as (typeof inventory.hosts)[0], ctx);
  };

  it('is sudo without a password by default', () => {
    expect(setup('{ name: c, username: u, password_secret: login_pw }')().become).toEqual({ method: 'sudo' });
  });

  it('reads become_password_secret as every secret: its variable first, else its file', () => {
    expect(setup('{ name: c, username: u, password_secret: login_pw, become_password_secret: sudo_pw }')().become).toEqual({
      method: 'sudo',
      password: 'from-the-file',
    });
    const fromEnv = setup('{ name: c, username: u, password_secret: login_pw, become_password_secret: sudo_pw }', {
      SSHGATE_SECRET_SUDO_PW: 'from-env',
    });
    expect(fromEnv().become?.password).toBe('from-env');
  });

  it('refuses a become password with a line break, naming the secret and never its value', () => {
    const build = setup('{ name: c, username: u, password_secret: login_pw, become_password_secret: sudo_pw }', {
      SSHGATE_SECRET_SUDO_PW: 'one\ntwo',
    });
    expect(build).toThrow(/become password of credential "c" \(secret "sudo_pw", read from SSHGATE_SECRET_SUDO_PW\) contains a line break/);
    try {
      build();
    } catch (err) {
      expect(JSON.stringify(err) + String(err)).not.toContain('one\ntwo');
    }
  });

  it('refuses doas with a password, and an unknown method', () => {
    const refused = (credential: string) => {
      try {
        setup(credential);
      } catch (err) {
        return String((err as { issues?: { message: string }[] }).issues?.map((i) => i.message));
      }
      return '';
    };
    expect(refused('{ name: c, username: u, password_secret: login_pw, become_method: doas, become_password_secret: sudo_pw }')).toMatch(
      /doas reads a password only from a terminal/,
    );
    expect(refused('{ name: c, username: u, password_secret: login_pw, become_method: su }')).toMatch(/expected sudo or doas/);
    expect(refused('{ name: c, username: u, password_secret: login_pw, become_method: doas }')).toBe('');
  });
});
