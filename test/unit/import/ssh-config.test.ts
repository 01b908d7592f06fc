import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildInventory } from '../../../src/import/build-inventory.js';
import { Findings } from '../../../src/import/findings.js';
import { argvSplit, MAX_CONFIG_BYTES, readSshConfig, splitLine } from '../../../src/import/ssh-config-file.js';
import { draftsFromSshConfig, jumpOfProxyCommand, parseHop } from '../../../src/import/ssh-config-import.js';
import { tempDir } from '../../support/policy.js';

/**
 * A home with ~/.ssh holding `files` (relative to ~/.ssh), and every key file the configs below
 * name, so that only what a test is about shows in the findings.
 */
function home(files: Record<string, string>): string {
  const dir = tempDir('sshgate-import-');
  mkdirSync(join(dir, '.ssh', 'keys'), { recursive: true });
  for (const k of ['id_ed25519', 'id_rsa', 'keys/ops', 'keys/web1_web1_22', 'keys/bastion'])
    writeFileSync(join(dir, '.ssh', k), 'not read');
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, '.ssh', rel, '..'), { recursive: true });
    writeFileSync(join(dir, '.ssh', rel), text);
  }
  return dir;
}

function importFrom(dir: string, file = join(dir, '.ssh', 'config'), tags: { tags?: string[]; tagRules?: RegExp[] } = {}) {
  const findings = new Findings();
  const config = readSshConfig(file, file, { home: dir }, findings);
  const drafts = config
    ? draftsFromSshConfig(config, { localUser: 'me', uid: '1000', home: dir, cwd: dir, env: { KEYS: join(dir, '.ssh', 'keys') } }, findings)
    : [];
  const built = buildInventory(
    drafts,
    { keysDir: join(dir, '.ssh'), tags: tags.tags ?? [], tagRules: tags.tagRules ?? [], localUser: 'me' },
    findings,
  );
  const hosts = Object.fromEntries(built.hosts.map((h) => [h.entry.alias, h.entry]));
  const text = (kind: string) =>
    findings.list
      .filter((f) => f.kind === kind)
      .map((f) => `${f.where}: ${f.message}`)
      .join('\n');
  return { built, hosts, findings, unmapped: text('unmapped'), ignored: text('ignored'), notes: text('note') };
}

const ssh = (config: string, more: Record<string, string> = {}) => importFrom(home({ config, ...more }));

describe('ssh_config: which hosts', () => {
  it('imports each named host and applies Host * as defaults, the first value obtained winning', () => {
    const r = ssh(`
Host web1
  HostName 10.0.0.11
  User deploy
Host web2
  HostName 10.0.0.12
  Port 2222
Host *
  User fallback
  Port 22
  IdentityFile ~/.ssh/id_ed25519
`);
    expect(Object.keys(r.hosts)).toEqual(['web1', 'web2']);
    expect(r.hosts.web1).toMatchObject({ host: '10.0.0.11', port: 22, user: 'deploy', credentials: 'id_ed25519' });
    expect(r.hosts.web2).toMatchObject({ host: '10.0.0.12', port: 2222, user: 'fallback', credentials: 'id_ed25519' });
    expect(r.built.credentials.map((c) => c.entry)).toEqual([{ name: 'id_ed25519', key_path: 'id_ed25519' }]);
    expect(r.unmapped).toBe('');
  });

  it('keeps the first value even when a later, more specific block sets it again', () => {
    const r = ssh('Host *\n  User early\nHost web1\n  User late\n  HostName 10.0.0.1\n  IdentityFile ~/.ssh/id_ed25519\n');
    expect(r.hosts.web1?.user).toBe('early');
  });

  it('makes a host of each literal pattern of a Host line, none of a wildcard or a negation', () => {
    const r = ssh(`
Host a b *.corp !c ?x
  IdentityFile ~/.ssh/id_ed25519
Host *.corp !db.corp
  User corp
`);
    expect(Object.keys(r.hosts)).toEqual(['a', 'b']);
    expect(r.hosts.a).toMatchObject({ host: 'a', user: 'me' });
    expect(r.notes).toContain('no User given: written as user: me');
  });

  it('honours negation: a block with !name does not apply to name', () => {
    const r = ssh(`
Host db1 web1
  IdentityFile ~/.ssh/id_ed25519
Host * !db1
  User web
Host *
  User other
`);
    expect(r.hosts.web1?.user).toBe('web');
    expect(r.hosts.db1?.user).toBe('other');
  });

  it('does not import a name its own line negates, and says so', () => {
    const r = ssh('Host foo !foo\n  HostName 10.0.0.1\n');
    expect(r.hosts).toEqual({});
    expect(r.unmapped).toContain('host "foo" is never configured by this line');
  });

  it('imports two names of one line with one HostName once, and says so', () => {
    const r = ssh('Host web1 web1.example.com\n  HostName 10.0.0.1\n  IdentityFile ~/.ssh/id_ed25519\n');
    expect(Object.keys(r.hosts)).toEqual(['web1']);
    expect(r.notes).toContain('host "web1.example.com" is host "web1" under another name');
  });

  it('reports Match blocks as not imported and applies none of their settings; Match all applies', () => {
    const r = ssh(`
Host web1
  IdentityFile ~/.ssh/id_ed25519
Match host web1 exec "true"
  User matched
Match all
  Port 2200
`);
    expect(r.hosts.web1).toMatchObject({ user: 'me', port: 2200 });
    expect(r.unmapped).toMatch(/config:4: Match "host web1 exec true": Match blocks are not imported; its setting was applied to no host/);
  });

  it('says which wildcard blocks reach no imported host', () => {
    const r = ssh('Host *.corp\n  User x\nHost web1\n  IdentityFile ~/.ssh/id_ed25519\n');
    expect(r.notes).toContain('Host *.corp applies to no imported host');
  });
});

describe('ssh_config: Include', () => {
  it('reads Includes relative to ~/.ssh, globbed, in lexical order, in place', () => {
    const r = ssh('Include conf.d/*.conf\nHost *\n  IdentityFile ~/.ssh/id_ed25519\n', {
      'conf.d/20-b.conf': 'Host b\n  HostName 10.0.0.2\n',
      'conf.d/10-a.conf': 'Host a\n  HostName 10.0.0.1\nHost b\n  User from-a-file\n',
      'conf.d/.hidden.conf': 'Host hidden\n',
      'conf.d/x.txt': 'Host txt\n',
    });
    expect(Object.keys(r.hosts)).toEqual(['a', 'b']);
    // 10-a.conf is read first: its User for b is the first obtained.
    expect(r.hosts.b).toMatchObject({ host: '10.0.0.2', user: 'from-a-file' });
  });

  it('applies an Include inside a Host block only to that block', () => {
    const r = ssh('Host web1\n  Include web.conf\nHost db1\n  IdentityFile ~/.ssh/id_ed25519\n', {
      'web.conf': 'User web\nIdentityFile ~/.ssh/id_rsa\nHost inner\n  HostName 10.9.9.9\n',
    });
    expect(r.hosts.web1).toMatchObject({ user: 'web', credentials: 'id_rsa' });
    expect(r.hosts.db1).toMatchObject({ user: 'me' });
    // "inner" is under Host web1 too: no name is both, so ssh never configures it.
    expect(r.hosts.inner).toBeUndefined();
    expect(r.unmapped).toContain('host "inner" is never configured');
  });

  it('reports an Include loop once per repeat and goes on', () => {
    const r = ssh('Include a\nHost h\n  IdentityFile ~/.ssh/id_ed25519\n', { a: 'Include b\n', b: 'Include a\nInclude config\n' });
    expect(r.unmapped).toMatch(/Include loop: .*\/a → .*\/b → .*\/a/);
    expect(r.unmapped).toMatch(/Include loop: .*\/config → .*\/a → .*\/b → .*\/config/);
    expect(Object.keys(r.hosts)).toEqual(['h']);
  });

  it('stops at ssh depth of 16 nested Includes', () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`f${i}`] = `Include f${i + 1}\nHost h${i}\n  IdentityFile ~/.ssh/id_ed25519\n`;
    const r = ssh('Include f0\n', files);
    expect(r.unmapped).toContain('more than 16 nested Includes');
    expect(Object.keys(r.hosts)).toHaveLength(16);
  });

  it('notes an Include that names no file, as ssh skips it', () => {
    const r = ssh('Include nothing/*\nHost h\n  IdentityFile ~/.ssh/id_ed25519\n');
    expect(r.notes).toContain('Include "nothing/*" names no file');
    expect(r.unmapped).toBe('');
  });

  it('reads each file of a fan-out of Includes but stops at the total cap', () => {
    // Each file includes the next twice: 2^12 reads without a cap.
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++) files[`f${i}`] = `Include f${i + 1} f${i + 1}\n`;
    files.f12 = 'Host h\n  IdentityFile ~/.ssh/id_ed25519\n';
    const started = Date.now();
    const r = ssh('Include f0\n', files);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.unmapped).toContain('more than 1000 files included in all');
    expect(Object.keys(r.hosts)).toEqual(['h']);
  });
});

describe('ssh_config: values', () => {
  it('expands %h %p %r %n %u %d %% ${VAR} and ~ in IdentityFile', () => {
    const r = ssh('Host web1\n  IdentityFile ${KEYS}/%n_%h_%p\n  IdentityFile %d/.ssh/keys/%u-%r-%%\n');
    expect(r.hosts.web1?.credentials).toBe('keys-web1_web1_22');
    expect(r.notes).toContain('2 IdentityFiles; sshgate logs in with the first');
    expect(r.notes).toContain('/.ssh/keys/me-me-%');
  });

  it('reports a token it cannot know, and does not import the host', () => {
    const r = ssh('Host web1\n  IdentityFile ~/.ssh/%C\n');
    expect(r.hosts).toEqual({});
    expect(r.unmapped).toContain('IdentityFile "~/.ssh/%C": the token %C depends on the connection ssh makes; not imported');
  });

  it('expands %h in HostName to the name given', () => {
    const r = ssh('Host web1\n  HostName %h.example.com\n  IdentityFile ~/.ssh/id_ed25519\n');
    expect(r.hosts.web1?.host).toBe('web1.example.com');
  });

  it('logs in with the agent when no IdentityFile is given, and says so', () => {
    const r = ssh('Host web1\n  User u\n');
    expect(r.hosts.web1?.credentials).toBe('ssh-agent');
    expect(r.built.credentials[0]?.entry).toEqual({ name: 'ssh-agent', agent: true });
    expect(r.notes).toContain('no IdentityFile: logs in with the ssh-agent');
  });

  it('reports a key outside the keys dir and does not import its hosts', () => {
    const r = ssh('Host web1\n  IdentityFile /etc/ssh/ssh_host_ed25519_key\n');
    expect(r.hosts).toEqual({});
    expect(r.unmapped).toContain('the key /etc/ssh/ssh_host_ed25519_key is outside the keys dir');
  });

  it('reports a missing key file and a public key file, but keeps the reference', () => {
    const r = ssh('Host a\n  IdentityFile ~/.ssh/gone\nHost b\n  IdentityFile ~/.ssh/id_rsa.pub\n');
    expect(r.hosts.a?.credentials).toBe('gone');
    expect(r.unmapped).toContain('does not exist here (ssh would skip it)');
    expect(r.unmapped).toContain('is a public key; sshgate needs the private key file');
  });

  it('refuses a Port that is not a port, and an address sshgate would not take', () => {
    const r = ssh('Host a\n  Port 99999\nHost b\n  HostName 010.0.0.1\n  IdentityFile ~/.ssh/id_ed25519\n');
    expect(r.hosts).toEqual({});
    expect(r.unmapped).toContain('Port "99999" is not a port number');
    expect(r.unmapped).toContain('host "b": host: not an address in the usual dotted form');
  });

  it('lists settings sshgate decides itself as ignored, and settings that change the connection as not mapped', () => {
    const r = ssh(
      'Host web1\n  IdentityFile ~/.ssh/id_ed25519\n  ForwardAgent yes\n  HostKeyAlias other\n  Bogus 1\nHost *\n  ServerAliveInterval 30\n',
    );
    expect(r.ignored).toContain('ForwardAgent (web1): sshgate forwards nothing');
    expect(r.ignored).toContain('ServerAliveInterval (web1)');
    expect(r.unmapped).toContain('HostKeyAlias (web1): ssh looks the host key up under this name');
    expect(r.unmapped).toContain('Bogus (web1): not a keyword the import maps');
  });
});

describe('ssh_config: ProxyJump and ProxyCommand', () => {
  const bastion = 'Host bastion\n  HostName 10.0.0.2\n  User jump\n  IdentityFile ~/.ssh/keys/bastion\n';

  it('turns ProxyJump into jump: the hop is the host of that name when it is the same', () => {
    const r = ssh(`${bastion}Host web1\n  HostName 10.0.1.1\n  ProxyJump bastion\n  IdentityFile ~/.ssh/id_ed25519\n`);
    expect(r.hosts.web1?.jump).toBe('bastion');
    expect(Object.keys(r.hosts)).toEqual(['bastion', 'web1']);
  });

  it('adds a host for a hop with another user or port, and says so', () => {
    const r = ssh(`${bastion}Host web1\n  ProxyJump admin@bastion:2222\n  IdentityFile ~/.ssh/id_ed25519\n`);
    expect(r.hosts['bastion-2']).toMatchObject({ host: '10.0.0.2', port: 2222, user: 'admin', credentials: 'keys-bastion' });
    expect(r.hosts.web1?.jump).toBe('bastion-2');
    expect(r.notes).toContain('added for the jump hop admin@bastion:2222 (ProxyJump of web1)');
  });

  it('follows a comma chain: the last hop is reached through the ones before it', () => {
    const r = ssh(
      `${bastion}Host inner\n  HostName 10.0.5.5\n  IdentityFile ~/.ssh/id_ed25519\nHost web1\n  ProxyJump bastion,inner\n  IdentityFile ~/.ssh/id_ed25519\n`,
    );
    expect(r.hosts.web1?.jump).toBe('inner-2');
    expect(r.hosts['inner-2']).toMatchObject({ host: '10.0.5.5', jump: 'bastion' });
    expect(r.hosts.inner?.jump).toBeUndefined();
  });

  it("uses a hop's own ProxyJump when it is the only hop", () => {
    const r = ssh(
      `${bastion}Host inner\n  ProxyJump bastion\n  IdentityFile ~/.ssh/id_ed25519\nHost web1\n  ProxyJump inner\n  IdentityFile ~/.ssh/id_ed25519\n`,
    );
    expect(r.hosts.web1?.jump).toBe('inner');
    expect(r.hosts.inner?.jump).toBe('bastion');
  });

  it('reads ProxyJump none as no jump, and the first of ProxyJump and ProxyCommand wins', () => {
    const r = ssh(
      `${bastion}Host web1\n  ProxyJump none\nHost web1\n  ProxyCommand nc %h %p\n` +
        `Host web2\n  ProxyCommand ssh -W %h:%p bastion\n  ProxyJump nowhere\nHost * !bastion\n  ProxyJump bastion\n  IdentityFile ~/.ssh/id_ed25519\n`,
    );
    expect(r.hosts.web1).toBeDefined();
    expect(r.hosts.web1?.jump).toBeUndefined();
    expect(r.hosts.web2?.jump).toBe('bastion');
    expect(r.unmapped).toBe('');
  });

  it('reports a host that jumps through itself', () => {
    const r = ssh(`${bastion}Host *\n  ProxyJump bastion\n`);
    expect(r.hosts).toEqual({});
    expect(r.unmapped).toContain('ProxyJump loop: bastion → bastion');
  });

  it('reports a ProxyJump loop and imports neither', () => {
    const r = ssh('Host a\n  ProxyJump b\n  IdentityFile ~/.ssh/id_ed25519\nHost b\n  ProxyJump a\n  IdentityFile ~/.ssh/id_ed25519\n');
    expect(r.hosts).toEqual({});
    expect(r.unmapped).toContain('ProxyJump loop: a → b → a');
  });

  it('reads ssh -W %h:%p through a host as a jump, and reports any other ProxyCommand', () => {
    const r = ssh(
      `${bastion}Host web1\n  ProxyCommand ssh -q -W %h:%p bastion\n  IdentityFile ~/.ssh/id_ed25519\nHost web2\n  ProxyCommand nc -X 5 -x proxy:1080 %h %p\n`,
    );
    expect(r.hosts.web1?.jump).toBe('bastion');
    expect(r.notes).toContain('is read as ProxyJump bastion');
    expect(r.hosts.web2).toBeUndefined();
    expect(r.unmapped).toContain('ProxyCommand "nc -X 5 -x proxy:1080 %h %p" is not mapped');
  });

  it('parses hops as ssh does', () => {
    expect(parseHop('bastion')).toEqual({ name: 'bastion' });
    expect(parseHop('a@b@host:22')).toEqual({ name: 'host', user: 'a@b', port: 22 });
    expect(parseHop('ssh://u@[fd00::1]:2222')).toEqual({ name: 'fd00::1', user: 'u', port: 2222 });
    expect(parseHop('host:0')).toMatch(/not a port/);
    expect(parseHop('@host')).toMatch(/empty user/);
    expect(jumpOfProxyCommand(['ssh', 'bastion', '-W', '[%h]:%p'])).toEqual({ name: 'bastion' });
    expect(jumpOfProxyCommand(['exec', '/usr/bin/ssh', '-l', 'j', '-p', '2', 'b', 'nc', '%h', '%p'])).toEqual({
      name: 'b',
      user: 'j',
      port: 2,
    });
    expect(jumpOfProxyCommand(['ssh', '-o', 'X=y', '-W', '%h:%p', 'b'])).toBeUndefined();
    expect(jumpOfProxyCommand(['ssh', 'b', 'cat'])).toBeUndefined();
  });
});

describe('ssh_config: odd and hostile files', () => {
  it('splits lines as ssh does: = or spaces, quotes, escapes, trailing comments', () => {
    expect(splitLine('Host=web1')).toEqual({ keyword: 'host', spelled: 'Host', args: ['web1'] });
    expect(splitLine('  port = 22  ')).toEqual({ keyword: 'port', spelled: 'port', args: ['22'] });
    expect(splitLine('\tUser\t"a b"  # who')).toEqual({ keyword: 'user', spelled: 'User', args: ['a b'] });
    expect(splitLine('# Host x')).toBeUndefined();
    expect(splitLine('Host')).toEqual({ error: 'no argument after keyword "Host"' });
    expect(splitLine('User "open')).toEqual({ error: 'an unterminated quote' });
    expect(argvSplit(`a\\ b 'c "d' "e\\"f" g\\x #h`)).toEqual(['a b', 'c "d', 'e"f', 'g\\x']);
    expect(argvSplit('a#b')).toEqual(['a#b']);
  });

  it('reads a CRLF file as the same file with LF', () => {
    const text = 'Host web1\n  HostName 10.0.0.1\n  User "deploy"\n  IdentityFile "~/.ssh/id_ed25519"\n';
    const lf = ssh(text);
    const crlf = ssh(text.replace(/\n/g, '\r\n'));
    expect(crlf.hosts).toEqual(lf.hosts);
    expect(crlf.hosts.web1).toMatchObject({ host: '10.0.0.1', user: 'deploy' });
  });

  it('reports a bad line with its place, skips it and reads the rest', () => {
    const r = ssh('Host web1\n  User "unclosed\n  HostName 10.0.0.1\n  IdentityFile ~/.ssh/id_ed25519\n');
    expect(r.unmapped).toMatch(/config:2: an unterminated quote; ssh refuses this line/);
    expect(r.hosts.web1).toMatchObject({ host: '10.0.0.1', user: 'me' });
  });

  it('renames names that are no alias, and says so', () => {
    const r = ssh(
      'Host "web 1"\n  HostName 10.0.0.1\nHost web/2\n  HostName 10.0.0.2\nHost -x\n  HostName 10.0.0.3\nHost web-1\n  HostName 10.0.0.9\nHost *\n  IdentityFile ~/.ssh/id_ed25519\n',
    );
    // web-1 is an alias as it is and keeps it; "web 1", though first, is the one renamed.
    expect(Object.keys(r.hosts)).toEqual(['web-1-2', 'web-2', 'x', 'web-1']);
    expect(r.hosts['web-1']?.host).toBe('10.0.0.9');
    expect(r.notes).toContain('host "web 1" is written as alias "web-1-2"');
    expect(r.notes).toContain('host "-x" is written as alias "x"');
  });

  it('refuses a binary file and a file over the size cap, with the reason', () => {
    const dir = home({ config: 'Host a\n\u0000' });
    expect(importFrom(dir).unmapped).toContain('binary file (NUL byte at offset 7)');
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x23));
    expect(importFrom(dir, big).unmapped).toContain(`over the ${MAX_CONFIG_BYTES} bytes the import reads`);
  });

  it('imports a file of 20,000 hosts in time linear in its size, not quadratic', () => {
    const timed = (n: number) => {
      const lines = ['Host *', '  IdentityFile ~/.ssh/id_ed25519', '  User ops', '  ServerAliveInterval 30'];
      for (let i = 0; i < n; i++) lines.push(`Host h${i}`, `  HostName 10.${(i >> 8) & 255}.${i & 255}.1`);
      const dir = home({ config: lines.join('\n') });
      const started = process.hrtime.bigint();
      const r = importFrom(dir);
      expect(Object.keys(r.hosts)).toHaveLength(n);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    timed(1000); // warm-up
    const small = timed(5000);
    const large = timed(20_000);
    // Four times the hosts: about four times the time; a quadratic step would make it sixteen.
    expect(large).toBeLessThan(8 * small + 500);
  });

  it('gives tags from --tag and from --tag-from captures, and says which hosts no rule tagged', () => {
    const r = importFrom(home({ config: 'Host prod-web1 stg-db1 other\n  IdentityFile ~/.ssh/id_ed25519\n' }), undefined, {
      tags: ['imported'],
      tagRules: [/^(prod|stg)-([a-z]+)/],
    });
    expect(r.hosts['prod-web1']?.tags).toEqual(['imported', 'prod', 'web']);
    expect(r.hosts['stg-db1']?.tags).toEqual(['imported', 'stg', 'db']);
    expect(r.hosts.other?.tags).toEqual(['imported']);
    expect(r.notes).toContain('host "other": no --tag-from rule matches the name');
  });
});
