import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { loadPolicy } from '../../../src/config/load-policy.js';
import { ConfigError, formatIssue } from '../../../src/errors.js';
import { tempDir, writeTree } from '../../support/policy.js';

const CREDS = `entries:\n  - name: k\n    username: deploy\n    key_path: a/id\n`;

function inventoryErrors(servers: string, creds = CREDS): string[] {
  const dir = writeTree({ 'servers.yml': servers, 'credentials.yml': creds });
  try {
    loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => formatIssue(i).replace(`${dir}/`, ''));
  }
  throw new Error('expected the inventory to be refused');
}

function policyErrors(yaml: string | Buffer): string[] {
  const dir = writeTree({ 'p.yml': yaml });
  try {
    loadPolicy(join(dir, 'p.yml'));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => formatIssue(i).replace(`${dir}/`, ''));
  }
  throw new Error('expected the policy to be refused');
}

describe('the inventory loader', () => {
  it('loads the example config', () => {
    const inv = loadInventory({ configDir: 'config', keysDir: 'config/keys' });
    expect(inv.hosts.map((h) => h.alias)).toContain('web1');
    expect(inv.byAlias.get('db1')?.port).toBe(2222);
  });

  it('loads the mcp-ssh-orchestrator example files as they are', () => {
    const inv = loadInventory({ configDir: 'test/fixtures/compat/mcp-ssh-orchestrator', keysDir: '/nonexistent' });
    expect(inv.hosts).toHaveLength(4);
    expect(inv.credentialByName.get('lab-maint')?.key_path).toBeUndefined();
  });

  it('names file, line and column of an unknown key, a wrong type and a bad alias, all at once', () => {
    const errors = inventoryErrors(
      'hosts:\n  - alias: web1\n    host: 10.0.0.1\n    prot: 22\n    credentials: k\n  - alias: "bad alias"\n    host: x\n    port: "22"\n    credentials: k\n',
    );
    expect(errors).toEqual([
      'servers.yml:4:5: unknown key "prot"; did you mean "port"? expected one of: alias, host, port, user, credentials, tags, description, jump, shell',
      expect.stringMatching(/^servers\.yml:6:12: hosts\[1\]\.alias: an alias is 1 to 100/),
      expect.stringMatching(/^servers\.yml:8:11: hosts\[1\]\.port: .*expected number/),
    ]);
  });

  it('reports a duplicate alias, a missing credential and a jump loop', () => {
    const errors = inventoryErrors(
      [
        'hosts:',
        '  - { alias: a, host: 10.0.0.1, credentials: k, jump: b }',
        '  - { alias: b, host: 10.0.0.2, credentials: k, jump: a }',
        '  - { alias: a, host: 10.0.0.3, credentials: k }',
        '  - { alias: c, host: 10.0.0.4, credentials: nope }',
        '  - { alias: d, host: 10.0.0.5, credentials: k, jump: zz }',
      ].join('\n'),
    );
    expect(errors).toEqual([
      expect.stringMatching(/^servers\.yml:4:14: duplicate alias "a" \(first defined in hosts\[0\]\)/),
      expect.stringMatching(/^servers\.yml:5:46: credential "nope" is not defined in credentials\.yml \(defined: k\)/),
      'servers.yml:2:55: jump loop: a → b → a',
      'servers.yml:3:55: jump loop: b → a → b',
      'servers.yml:6:55: jump host "zz" is not an alias in this inventory',
    ]);
  });

  it('reports a host that failed its schema once: no cross-check speaks of it, or of what names it', () => {
    const errors = inventoryErrors(
      [
        'hosts:',
        '  - { alias: bastion, host: 10.0.0.2, port: "22", credentials: k }',
        '  - { alias: web1, host: 10.0.0.11, credentials: k, jump: bastion }',
        '  - { alias: web2, host: 10.0.0.12, credentials: nope, colour: blue }',
        '  - { alias: web3, host: 10.0.0.13, credentials: broken }',
        '  - { alias: web2, host: 10.0.0.14, credentials: k }',
      ].join('\n'),
      `${CREDS}  - { name: broken, agent: "yes" }\n`,
    );
    expect(errors).toEqual([
      expect.stringMatching(/^servers\.yml:2:45: hosts\[0\]\.port: .*expected number/),
      expect.stringMatching(/^servers\.yml:4:56: unknown key "colour"/),
      expect.stringMatching(/^credentials\.yml:5:28: entries\[1\]\.agent: .*expected boolean/),
    ]);
  });

  it('refuses a key path with "..", an absolute one, and a symlink out of the keys dir', () => {
    const dir = writeTree({
      'servers.yml': 'hosts: []\n',
      'credentials.yml':
        'entries:\n  - { name: a, username: u, key_path: ../../etc/shadow }\n  - { name: b, username: u, key_path: /etc/ssh/key }\n  - { name: c, username: u, key_path: link }\n  - { name: d, username: u }\n',
    });
    mkdirSync(join(dir, 'keys'));
    writeFileSync(join(dir, 'outside'), 'x');
    symlinkSync(join(dir, 'outside'), join(dir, 'keys', 'link'));
    let issues: string[] = [];
    try {
      loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
    } catch (err) {
      issues = (err as ConfigError).issues.map((i) => `${i.line}: ${i.message}`);
    }
    expect(issues).toEqual([
      expect.stringMatching(/^2: key_path "\.\.\/\.\.\/etc\/shadow" contains "\.\."/),
      expect.stringMatching(/^3: key_path "\/etc\/ssh\/key" is absolute/),
      expect.stringMatching(/^4: key_path "link" resolves outside the keys dir/),
      expect.stringMatching(/^5: credential "d" has no way to log in/),
    ]);
  });

  it('refuses a certificate_path without key_path, or outside the keys dir', () => {
    const dir = writeTree({
      'servers.yml': 'hosts: []\n',
      'credentials.yml':
        'entries:\n  - { name: a, username: u, agent: true, certificate_path: a-cert.pub }\n  - { name: b, username: u, key_path: k, certificate_path: ../b-cert.pub }\n  - { name: c, username: u, key_path: k, certificate_path: k-cert.pub }\n',
    });
    let issues: string[] = [];
    try {
      loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
    } catch (err) {
      issues = (err as ConfigError).issues.map((i) => `${i.line}: ${i.message}`);
    }
    expect(issues).toEqual([
      expect.stringMatching(/^2: credential "a" names a certificate but no key_path/),
      expect.stringMatching(/^3: certificate_path "\.\.\/b-cert\.pub" contains "\.\."/),
    ]);
  });

  it('refuses a host that reads as an address in another base (010.0.0.11 is 8.0.0.11 to the resolver)', () => {
    for (const host of ['010.0.0.11', '10.0.0.011', '0177.0.0.1', '2130706433', '0x7f.1', 'web.0x10']) {
      const errors = inventoryErrors(`hosts:\n  - { alias: a, host: "${host}", credentials: k }\n`);
      expect(errors[0], host).toMatch(/^servers\.yml:2:\d+: .*a host name cannot end in a number/);
    }
    // Names with digits elsewhere, and plain addresses, are what they look like.
    const ok = writeTree({
      'servers.yml':
        'hosts:\n  - { alias: a, host: web01.example, credentials: k }\n  - { alias: b, host: 10.0.0.11, credentials: k }\n  - { alias: c, host: 3com.example, credentials: k }\n',
      'credentials.yml': CREDS,
    });
    expect(loadInventory({ configDir: ok, keysDir: join(ok, 'keys') }).hosts).toHaveLength(3);
  });

  it('takes shell: bash or sh, bash by default, and names both choices for anything else', () => {
    const ok = writeTree({
      'servers.yml':
        'hosts:\n  - { alias: a, host: h.example, credentials: k }\n  - { alias: b, host: h.example, credentials: k, shell: sh }\n',
      'credentials.yml': CREDS,
    });
    expect(loadInventory({ configDir: ok, keysDir: join(ok, 'keys') }).hosts.map((h) => h.shell)).toEqual(['bash', 'sh']);
    for (const shell of ['zsh', '/bin/bash', 'Bash', '""', '1']) {
      const errors = inventoryErrors(`hosts:\n  - alias: a\n    host: h.example\n    credentials: k\n    shell: ${shell}\n`);
      expect(errors, shell).toEqual([
        expect.stringMatching(
          /^servers\.yml:5:12: hosts\[0\]\.shell: expected bash \(commands run under \/bin\/bash --noprofile --norc\) or sh \(under \/bin\/sh\)$/,
        ),
      ]);
    }
  });

  it('says a host has no user when neither it nor its credential names one', () => {
    const errors = inventoryErrors(
      'hosts:\n  - { alias: a, host: h.example, credentials: k }\n',
      'entries:\n  - { name: k, agent: true }\n',
    );
    expect(errors[0]).toMatch(/host "a" has no user/);
  });

  it('reports a missing file by name', () => {
    const dir = tempDir();
    expect(() => loadInventory({ configDir: dir, keysDir: dir })).toThrow(/servers\.yml:1:1: file not found/);
  });
});

describe('hostile files', () => {
  it('refuses malformed YAML with its position', () => {
    expect(policyErrors('rules:\n  - action: allow\n    commands: [uptime\n')[0]).toMatch(/^p\.yml:\d+:\d+: YAML syntax/);
  });

  it('refuses a YAML alias bomb quickly', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const started = Date.now();
    expect(policyErrors(bomb.join('\n'))[0]).toMatch(/too many YAML alias expansions/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses a policy that aliases multiply past 20,000 patterns, small as the file is', () => {
    const commands = Array.from({ length: 300 }, (_, i) => `"c${i}"`).join(', ');
    const yaml = `rules:\n  - &r { action: allow, commands: [${commands}] }\n${'  - *r\n'.repeat(99)}`;
    expect(Buffer.byteLength(yaml)).toBeLessThan(4096);
    expect(policyErrors(yaml)[0]).toMatch(/the policy has 30000 command patterns \(YAML aliases expanded\); at most 20000 are accepted/);
  });

  it('refuses a 50 MB file without reading it', () => {
    const dir = tempDir();
    const big = join(dir, 'p.yml');
    writeFileSync(big, '');
    writeFileSync(big, Buffer.alloc(50 * 1024 * 1024, 0x20));
    expect(() => loadPolicy(big)).toThrow(/file is 52428800 bytes; configuration files are limited to 1048576 bytes/);
  });

  it('refuses a binary file and a non-UTF-8 file', () => {
    expect(policyErrors(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01]))[0]).toMatch(/binary file \(NUL byte at offset 4\)/);
    expect(policyErrors(Buffer.from([0x72, 0x3a, 0x20, 0xff, 0xfe]))[0]).toMatch(/not valid UTF-8/);
  });

  it('reads YAML 1.2 only, and refuses a tag it does not know instead of dropping it', () => {
    // Under 1.1, `0100` is 64 and `yes` is true: not what a reviewer reads.
    expect(policyErrors('%YAML 1.1\n---\nlimits: { max_seconds: 0100 }\n')[0]).toMatch(
      /^p\.yml:1:1: a %YAML 1\.1 directive; sshgate reads YAML 1\.2 only/,
    );
    const tags = policyErrors('rules:\n  - action: !deny allow\n    commands: [!!js/function "uptime"]\n');
    expect(tags[0]).toMatch(/^p\.yml:2:13: YAML: Unresolved tag: !deny/);
    expect(tags[1]).toMatch(/^p\.yml:3:16: YAML: Unresolved tag/);
  });

  it('refuses what is not a regular file (a FIFO would block, /dev/zero never ends) and names a dangling link', () => {
    const dir = tempDir();
    execFileSync('mkfifo', [join(dir, 'fifo.yml')]);
    symlinkSync('/dev/zero', join(dir, 'zero.yml'));
    symlinkSync(join(dir, 'gone'), join(dir, 'link.yml'));
    writeFileSync(join(dir, 'Deny.YML'), 'rules: [{ action: deny, commands: ["rm *"] }]\n');
    let message = '';
    try {
      loadPolicy(dir);
    } catch (err) {
      message = (err as ConfigError).message;
    }
    expect(message).toContain(`${join(dir, 'fifo.yml')}:1:1: not a regular file`);
    expect(message).toContain(`${join(dir, 'zero.yml')}:1:1: not a regular file`);
    expect(message).toContain(`${join(dir, 'link.yml')}:1:1: file not found`);
    // An upper-case extension is a policy file too: its deny rules are not passed over.
    writeFileSync(join(dir, 'Deny.YML'), 'rules: [{ action: deny, commands: ["rm *"] }]\n');
    for (const f of ['fifo.yml', 'zero.yml', 'link.yml']) rmSync(join(dir, f));
    expect(loadPolicy(dir).rules.map((r) => r.source)).toEqual([expect.stringContaining('Deny.YML')]);
  });

  it('refuses an empty file and a second document', () => {
    expect(policyErrors('')[0]).toMatch(/file is empty/);
    expect(policyErrors('rules: []\n---\nrules: []\n')[0]).toMatch(/^p\.yml:2:1: a second YAML document/);
  });
});

describe('the policy loader', () => {
  it('loads the mcp-ssh-orchestrator policy as it is', () => {
    const p = loadPolicy('test/fixtures/compat/mcp-ssh-orchestrator/policy.yml');
    expect(p.rules).toHaveLength(6);
    expect(p.denySubstrings).toContain('curl ');
    expect(p.knownHostsPath).toBe('/app/keys/known_hosts');
    expect(p.overrides.tags.longrun?.task_result_ttl).toBe(1800);
  });

  it('resolves a relative known_hosts_path against the policy file, whatever the working directory', () => {
    const root = writeTree({ 'deploy/policies/p.yml': 'known_hosts_path: ../config/known_hosts\n' });
    const cwd = process.cwd();
    try {
      process.chdir('/');
      expect(loadPolicy(join(root, 'deploy/policies')).knownHostsPath).toBe(join(root, 'deploy/config/known_hosts'));
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses host_key_auto_add: true and require_known_host: false with the reason', () => {
    const errors = policyErrors('limits:\n  host_key_auto_add: true\nnetwork:\n  require_known_host: false\n');
    expect(errors[0]).toMatch(/^p\.yml:2:22: limits\.host_key_auto_add: sshgate never adds host keys silently/);
    expect(errors[1]).toMatch(/^p\.yml:4:23: network\.require_known_host: sshgate always requires a known host key/);
  });

  it('reports every bad rule field at its place', () => {
    const errors = policyErrors(
      'rules:\n  - action: permit\n    commands: []\n  - action: allow\n    commands: ["ok"]\n    alias: [x]\nnetwork:\n  allow_cidrs: ["10.0.0.0/33"]\n',
    );
    expect(errors).toEqual([
      expect.stringMatching(/^p\.yml:2:13: rules\[0\]\.action: .*"allow"\|"ask"\|"deny"/),
      expect.stringMatching(/^p\.yml:3:15: rules\[0\]\.commands: a rule needs at least one command pattern/),
      expect.stringMatching(
        /^p\.yml:6:5: unknown key "alias"; did you mean "aliases"\? expected one of: name, description, action, aliases/,
      ),
      expect.stringMatching(/^p\.yml:8:17: network\.allow_cidrs\[0\]: expected a CIDR block/),
    ]);
  });

  it('takes tty: true on an allow rule, false by default, and refuses it on a deny rule at its place', () => {
    const dir = writeTree({
      'p.yml': 'rules:\n  - { name: a, action: allow, tty: true, commands: [top] }\n  - { name: b, action: allow, commands: [ps] }\n',
    });
    expect(loadPolicy(join(dir, 'p.yml')).rules.map((r) => [r.name, r.tty])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(policyErrors('rules:\n  - action: deny\n    tty: true\n    commands: [top]\n')).toEqual([
      expect.stringMatching(/^p\.yml:3:10: rules\[0\]\.tty: tty: true belongs on allow rules/),
    ]);
  });

  it('refuses a limit set differently in two files, and a duplicate rule name', () => {
    const dir = writeTree({
      'a.yml': 'limits: { max_seconds: 10 }\nrules: [{ name: r, action: allow, commands: [x] }]\n',
      'b.yml': 'limits: { max_seconds: 20 }\nrules: [{ name: r, action: deny, commands: [y] }]\n',
      'tests/cases.yml': '[]\n',
    });
    expect(() => loadPolicy(dir)).toThrow(
      /max_seconds is already set to 10 in .*a\.yml; set it in one file only[\s\S]*duplicate rule name "r"/,
    );
  });

  it('refuses an empty policy folder rather than denying everything silently', () => {
    expect(() => loadPolicy(tempDir())).toThrow(/no policy files/);
  });
});

describe('rate limits in the policy', () => {
  it('takes them in limits:, with built-in defaults for those not set, and says which file set each', () => {
    const dir = writeTree({ 'p.yml': 'limits: { calls_per_minute: 60, host_commands_per_day: 50 }\n' });
    const p = loadPolicy(join(dir, 'p.yml'));
    expect(p.rateLimits).toEqual({
      calls_per_minute: 60,
      commands_per_day: 10_000,
      host_commands_per_minute: 120,
      host_commands_per_day: 50,
    });
    expect(p.rateLimitsSetBy).toEqual({ calls_per_minute: join(dir, 'p.yml'), host_commands_per_day: join(dir, 'p.yml') });
    // They are no host limits: a task's limits, and what describe_host shows, do not hold them.
    expect(Object.keys(p.limits)).toEqual([
      'max_seconds',
      'max_output_bytes',
      'max_concurrent_per_host',
      'task_result_ttl',
      'max_file_bytes',
    ]);
  });

  it('takes host rate limits from tags and aliases, and any rate limit from callers', () => {
    const dir = writeTree({
      'p.yml': [
        'overrides:',
        '  tags: { prod: { max_seconds: 30, host_commands_per_minute: 10 } }',
        '  aliases: { db1: { host_commands_per_day: 20 } }',
        '  callers: { "role:ci": { calls_per_minute: 1200, host_commands_per_day: 5000 }, alice: { commands_per_day: 100 } }',
        '',
      ].join('\n'),
    });
    const p = loadPolicy(join(dir, 'p.yml'));
    expect(p.overrides.tags.prod).toEqual({ max_seconds: 30, host_commands_per_minute: 10 });
    expect(p.overrides.aliases.db1).toEqual({ host_commands_per_day: 20 });
    expect(p.overrides.callers).toEqual({
      'role:ci': { calls_per_minute: 1200, host_commands_per_day: 5000 },
      alice: { commands_per_day: 100 },
    });
  });

  it('refuses a principal-wide limit on a tag or an alias, and says where it belongs', () => {
    expect(policyErrors('overrides:\n  tags:\n    web: { calls_per_minute: 5 }\n')).toEqual([
      expect.stringMatching(
        /^p\.yml:3:12: unknown key "calls_per_minute"; calls_per_minute counts a principal's calls or commands on every host, so a tag or an alias cannot set it: set it in limits: or overrides\.callers/,
      ),
    ]);
    expect(policyErrors('overrides:\n  aliases:\n    db1: { commands_per_day: 5 }\n')[0]).toMatch(/commands_per_day counts a principal's/);
    expect(policyErrors('overrides:\n  tags:\n    web: { max_second: 5 }\n')[0]).toMatch(
      /expected one of: max_seconds, .*host_commands_per_day$/,
    );
  });

  it('refuses a task limit on a caller, a caller that is no name or role, and values out of range', () => {
    expect(policyErrors('overrides:\n  callers:\n    alice: { max_seconds: 5 }\n')[0]).toMatch(
      /unknown key "max_seconds"; expected one of: calls_per_minute, commands_per_day, host_commands_per_minute, host_commands_per_day/,
    );
    expect(policyErrors('overrides:\n  callers:\n    "role:": { calls_per_minute: 5 }\n')[0]).toMatch(
      /^p\.yml:3:14: overrides\.callers\.role:: "role:" needs the name of a role after it/,
    );
    expect(policyErrors('overrides:\n  callers:\n    "*": { calls_per_minute: 5 }\n')[0]).toMatch(
      /not globs; limits: sets a limit for every caller/,
    );
    expect(policyErrors('overrides:\n  callers:\n    \u0430lice: { calls_per_minute: 5 }\n')[0]).toMatch(
      /a letter outside ASCII could pass for another name/,
    );
    expect(policyErrors('limits: { calls_per_minute: 0 }\n')[0]).toMatch(/^p\.yml:1:29: limits\.calls_per_minute: /);
    expect(policyErrors('limits: { commands_per_day: 1.5 }\n')[0]).toMatch(/limits\.commands_per_day: /);
  });

  it('refuses a rate limit set differently in two files', () => {
    const dir = writeTree({ 'a.yml': 'limits: { commands_per_day: 10 }\n', 'b.yml': 'limits: { commands_per_day: 20 }\n' });
    expect(() => loadPolicy(dir)).toThrow(/commands_per_day is already set to 10 in .*a\.yml; set it in one file only/);
  });
});
