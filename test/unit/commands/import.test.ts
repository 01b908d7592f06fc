import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/commands/dispatch.js';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { captureIo, tempDir } from '../../support/policy.js';

const KEY_TEXT = '-----BEGIN OPENSSH PRIVATE KEY-----\nTHIS-IS-KEY-MATERIAL-NEVER-COPIED\n-----END OPENSSH PRIVATE KEY-----\n';

/** A home whose ~/.ssh/config describes two hosts behind a bastion, with the keys it names. */
function home(config?: string): string {
  const dir = tempDir('sshgate-import-cli-');
  mkdirSync(join(dir, '.ssh', 'work'), { recursive: true });
  writeFileSync(join(dir, '.ssh', 'id_ed25519'), KEY_TEXT, { mode: 0o600 });
  writeFileSync(join(dir, '.ssh', 'work', 'bastion'), KEY_TEXT, { mode: 0o600 });
  writeFileSync(
    join(dir, '.ssh', 'config'),
    config ??
      `Host bastion
  HostName 10.0.0.2
  User jump
  IdentityFile ~/.ssh/work/bastion
Host prod-web1 prod-web2
  ProxyJump bastion
Host prod-web1
  HostName 10.0.1.1
Host prod-web2
  HostName 10.0.1.2
  Port 2222
Host *
  User deploy
  IdentityFile ~/.ssh/id_ed25519
  ServerAliveInterval 30
`,
  );
  return dir;
}

async function cli(env: Record<string, string>, ...argv: string[]) {
  const io = captureIo();
  const code = await runCli(argv, env, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('sshgate import ssh-config', () => {
  it('writes servers.yml and credentials.yml that load as sshgate check loads them, and says what it did', async () => {
    const dir = home();
    const out = join(dir, 'out');
    const r = await cli({ HOME: dir }, 'import', 'ssh-config', '--out', out, '--tag', 'imported', '--tag-from', '^(prod)-');
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toContain(`sshgate: 3 hosts imported, 2 credentials, from ${join(dir, '.ssh', 'config')}`);
    expect(r.err).toContain(`wrote ${join(out, 'servers.yml')} and ${join(out, 'credentials.yml')}`);
    expect(r.err).toContain(`keys: each key_path is relative to ${join(dir, '.ssh')}; give sshgate SSHGATE_KEYS_DIR=${join(dir, '.ssh')}`);
    expect(r.err).toContain('ServerAliveInterval (bastion, prod-web1, prod-web2): sshgate keeps its own connections');
    const inventory = loadInventory({ configDir: out, keysDir: join(dir, '.ssh') });
    expect(inventory.hosts).toEqual([
      expect.objectContaining({
        alias: 'bastion',
        host: '10.0.0.2',
        port: 22,
        user: 'jump',
        credentials: 'work-bastion',
        tags: ['imported'],
      }),
      expect.objectContaining({ alias: 'prod-web1', host: '10.0.1.1', user: 'deploy', jump: 'bastion', tags: ['imported', 'prod'] }),
      expect.objectContaining({ alias: 'prod-web2', port: 2222, jump: 'bastion', credentials: 'id_ed25519' }),
    ]);
    expect(inventory.credentials).toEqual([
      expect.objectContaining({ name: 'work-bastion', key_path: 'work/bastion' }),
      expect.objectContaining({ name: 'id_ed25519', key_path: 'id_ed25519' }),
    ]);
    const servers = readFileSync(join(out, 'servers.yml'), 'utf8');
    expect(servers).toContain(`# from ${join(dir, '.ssh', 'config')}:1\n  - alias: bastion`);
    expect(servers).toContain('tags: [ imported, prod ]');
    for (const text of [r.err, servers, readFileSync(join(out, 'credentials.yml'), 'utf8')]) expect(text).not.toContain('KEY-MATERIAL');
  });

  it('prints the files on stdout without --out, the summary on stderr', async () => {
    const r = await cli({ HOME: home() }, 'import', 'ssh-config');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^# ---- servers\.yml ----\n(.|\n)*hosts:\n(.|\n)*# ---- credentials\.yml ----\n(.|\n)*entries:\n/);
    expect(r.err).not.toContain('hosts:');
  });

  it('never overwrites existing files without --force, and overwrites with it', async () => {
    const dir = home();
    const out = join(dir, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'servers.yml'), 'hosts: []\n');
    const r = await cli({ HOME: dir }, 'import', 'ssh-config', '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${join(out, 'servers.yml')} already exists: review or move them, or give --force to overwrite`);
    expect(readFileSync(join(out, 'servers.yml'), 'utf8')).toBe('hosts: []\n');
    expect(existsSync(join(out, 'credentials.yml'))).toBe(false);
    expect((await cli({ HOME: dir }, 'import', 'ssh-config', '--out', out, '--force')).code).toBe(0);
    expect(readFileSync(join(out, 'servers.yml'), 'utf8')).toContain('alias: prod-web1');
  });

  it('exits 1 and lists what it could not map, writing what it could', async () => {
    const dir = home(
      'Host ok\n  HostName 10.0.0.1\n  IdentityFile ~/.ssh/id_ed25519\nHost viaproxy\n  ProxyCommand nc -X connect %h %p\nMatch user root\n  User x\n',
    );
    const out = join(dir, 'out');
    const r = await cli({ HOME: dir }, 'import', 'ssh-config', '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toContain('not imported or not mapped (2):');
    expect(r.err).toContain('host "viaproxy": ProxyCommand "nc -X connect %h %p" is not mapped');
    expect(r.err).toContain('Match "user root": Match blocks are not imported');
    expect(readFileSync(join(out, 'servers.yml'), 'utf8')).toContain('alias: ok');
  });

  it('writes nothing and exits 1 when no host could be imported', async () => {
    const dir = home('Host *\n  User x\n');
    const r = await cli({ HOME: dir }, 'import', 'ssh-config', '--out', join(dir, 'out'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('nothing was written: no host could be imported');
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('takes another file and another keys dir; a key outside it is not imported', async () => {
    const dir = home();
    writeFileSync(
      join(dir, 'other.conf'),
      'Host a\n  HostName 10.0.0.1\n  IdentityFile ~/.ssh/work/bastion\nHost b\n  HostName 10.0.0.2\n  IdentityFile ~/.ssh/id_ed25519\n',
    );
    const r = await cli({ HOME: dir, SSHGATE_KEYS_DIR: join(dir, '.ssh', 'work') }, 'import', 'ssh-config', join(dir, 'other.conf'));
    expect(r.code).toBe(1);
    expect(r.out).toContain('key_path: bastion');
    expect(r.err).toContain(`hosts "b": the key ${join(dir, '.ssh', 'id_ed25519')} is outside the keys dir ${join(dir, '.ssh', 'work')}`);
  });

  it('refuses bad usage with status 2', async () => {
    const dir = home();
    expect((await cli({ HOME: dir }, 'import', 'ssh-config', join(dir, 'missing'))).err).toContain('missing: file not found');
    expect((await cli({ HOME: dir }, 'import', 'ssh-config', join(dir, 'missing'))).code).toBe(2);
    expect((await cli({ HOME: dir }, 'import', 'ssh-config', '--tag-from', '(')).code).toBe(2);
    expect((await cli({ HOME: dir }, 'import', 'ssh-config', '--tag', 'no spaces')).code).toBe(2);
    expect((await cli({ HOME: dir }, 'import', 'puppet', 'x')).err).toContain(
      'unknown import source "puppet"; expected ssh-config or ansible',
    );
    expect((await cli({ HOME: dir }, 'import', 'ansible')).code).toBe(2);
    expect((await cli({ HOME: dir }, 'check', '--out', 'x')).err).toContain('--out is an option of import only');
    expect((await cli({ HOME: dir }, 'check', '--force')).err).toContain('--force is an option of import only');
  });
});

describe('sshgate import ansible', () => {
  it('imports an INI inventory into files that load', async () => {
    const dir = home();
    writeFileSync(
      join(dir, 'hosts.ini'),
      `[bastions]\nbastion ansible_host=10.0.0.2 ansible_user=jump ansible_ssh_private_key_file=~/.ssh/work/bastion\n[web]\nweb[1:2] ansible_ssh_common_args='-J bastion'\n[web:vars]\nansible_user=deploy\nansible_ssh_private_key_file=~/.ssh/id_ed25519\n`,
    );
    const out = join(dir, 'out');
    const r = await cli({ HOME: dir }, 'import', 'ansible', join(dir, 'hosts.ini'), '--out', out);
    expect(r.err).toContain('3 hosts imported, 2 credentials');
    expect(r.code).toBe(0);
    const inventory = loadInventory({ configDir: out, keysDir: join(dir, '.ssh') });
    expect(inventory.hosts.map((h) => [h.alias, h.jump ?? null, h.tags])).toEqual([
      ['bastion', null, ['bastions']],
      ['web1', 'bastion', ['web']],
      ['web2', 'bastion', ['web']],
    ]);
  });
});
