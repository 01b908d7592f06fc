import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { draftsFromAnsible } from '../../../src/import/ansible-import.js';
import { expandHostPattern, shellWords } from '../../../src/import/ansible-inventory.js';
import { buildInventory } from '../../../src/import/build-inventory.js';
import { Findings } from '../../../src/import/findings.js';
import { writeTree } from '../../support/policy.js';

const SECRET = 'hunter2-never-shown';

function importInventory(files: Record<string, string>, main: string) {
  const dir = writeTree({ 'keys/deploy': 'not read', 'keys/bastion': 'not read', ...files });
  mkdirSync(join(dir, 'keys'), { recursive: true });
  const findings = new Findings();
  const drafts = draftsFromAnsible(join(dir, main), { home: dir, cwd: dir }, findings);
  const built = buildInventory(drafts, { keysDir: join(dir, 'keys'), tags: [], tagRules: [], localUser: 'me' }, findings);
  const hosts = Object.fromEntries(built.hosts.map((h) => [h.entry.alias, h.entry]));
  const text = (kind: string) =>
    findings.list
      .filter((f) => f.kind === kind)
      .map((f) => `${f.where}: ${f.message}`)
      .join('\n');
  return {
    dir,
    built,
    hosts,
    unmapped: text('unmapped'),
    ignored: text('ignored'),
    notes: text('note'),
    all: JSON.stringify(findings.list),
  };
}

const INI = `
# a comment
mail.example.com ansible_user=postmaster

[webservers]
web[01:03].example.com
foo.example.com:5309 ansible_host="10.0.0.9"   ; not a comment in shlex, so keep it out

[webservers:vars]
ansible_user=deploy
ansible_ssh_private_key_file=keys/deploy

[dbservers]
db-[a:b].example.com ansible_port=2222 ansible_user='dba'

[atlanta]
web01.example.com

[southeast:children]
atlanta
dbservers

[southeast:vars]
ansible_user=southeast
ansible_become=true
ansible_become_password=${SECRET}
ansible_port=2200
ntp_server=ntp.atlanta.example.com

[atlanta:vars]
ansible_port=2201

[all:vars]
ansible_ssh_private_key_file=keys/deploy
`;

describe('ansible INI inventories', () => {
  it('reads groups, ranges, host:port, vars and children, and maps groups to tags', () => {
    const r = importInventory({ 'hosts.ini': INI.replace('   ; not a comment in shlex, so keep it out', '') }, 'hosts.ini');
    expect(Object.keys(r.hosts)).toEqual([
      'mail.example.com',
      'web01.example.com',
      'web02.example.com',
      'web03.example.com',
      'foo.example.com',
      'db-a.example.com',
      'db-b.example.com',
    ]);
    expect(r.hosts['mail.example.com']).toMatchObject({ host: 'mail.example.com', port: 22, user: 'postmaster', tags: [] });
    expect(r.hosts['foo.example.com']).toMatchObject({
      host: '10.0.0.9',
      port: 5309,
      user: 'deploy',
      credentials: 'deploy',
      tags: ['webservers'],
    });
    expect(r.hosts['db-a.example.com']).toMatchObject({ port: 2222, user: 'dba', tags: ['southeast', 'dbservers'] });
  });

  it('merges vars as Ansible does: deeper groups over their parents, the host over its groups', () => {
    const r = importInventory({ 'hosts.ini': INI }, 'hosts.ini');
    // web01 is in webservers and atlanta, and so in southeast: atlanta (depth 2) overrides its
    // parent southeast's port; webservers, at southeast's depth, comes after it by name.
    expect(r.hosts['web01.example.com']).toMatchObject({ user: 'deploy', port: 2201, tags: ['southeast', 'webservers', 'atlanta'] });
    expect(r.hosts['web02.example.com']).toMatchObject({ user: 'deploy', port: 22, tags: ['webservers'] });
    // The host's own vars over every group's.
    expect(r.hosts['db-b.example.com']).toMatchObject({ user: 'dba', port: 2222 });
  });

  it('reports become and secrets as not mapped, and never shows a secret', () => {
    const r = importInventory({ 'hosts.ini': INI }, 'hosts.ini');
    expect(r.unmapped).toContain(
      "ansible_become (web01.example.com, db-a.example.com, db-b.example.com): sshgate's elevation is a property of a policy rule",
    );
    expect(r.unmapped).toContain('ansible_become_password (web01.example.com, db-a.example.com, db-b.example.com): a secret: never copied');
    expect(r.ignored).toContain('1 other variable (ntp_server): not connection settings');
    expect(r.all).not.toContain(SECRET);
    expect(JSON.stringify(r.built)).not.toContain(SECRET);
  });

  it('reads group_vars/ and host_vars/ beside the inventory, over the inventory file', () => {
    const r = importInventory(
      {
        'inv/hosts': '[web]\nweb1 ansible_host=10.0.0.1\nweb2 ansible_host=10.0.0.2\n[web:vars]\nansible_user=from-ini\n',
        'inv/group_vars/all.yml': 'ansible_user: from-all\nansible_port: 2200\n',
        'inv/group_vars/web/main.yml': 'ansible_user: from-group-file\n',
        'inv/host_vars/web2.yaml': 'ansible_port: 2202\nansible_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n',
        'inv/group_vars/nogroup.yml': 'x: 1\n',
      },
      'inv/hosts',
    );
    expect(r.hosts.web1).toMatchObject({ user: 'from-group-file', port: 2200 });
    expect(r.hosts.web2).toMatchObject({ user: 'from-group-file', port: 2202 });
    expect(r.unmapped).toContain('ansible_password (web2): a secret');
    expect(r.notes).toContain('no group "nogroup" in the inventory; not read');
  });

  it('maps -J and -o ProxyJump in ansible_ssh_common_args to a jump host of the inventory', () => {
    const r = importInventory(
      {
        'hosts.ini': `[bastions]
bastion ansible_host=10.0.0.2 ansible_user=jump ansible_ssh_private_key_file=keys/bastion
[private]
app1 ansible_host=10.1.0.1 ansible_ssh_common_args='-o ProxyJump=bastion'
app2 ansible_host=10.1.0.2 ansible_ssh_common_args="-J admin@10.0.0.2:2222 -o StrictHostKeyChecking=no"
app3 ansible_host=10.1.0.3 ansible_ssh_common_args='-J elsewhere'
[private:vars]
ansible_user=app
ansible_ssh_private_key_file=keys/deploy
`,
      },
      'hosts.ini',
    );
    expect(r.hosts.app1).toMatchObject({ jump: 'bastion', user: 'app' });
    expect(r.hosts.app2?.jump).toBe('bastion-2');
    expect(r.hosts['bastion-2']).toMatchObject({ host: '10.0.0.2', port: 2222, user: 'admin', credentials: 'bastion' });
    expect(r.notes).toContain('jump host "10.0.0.2": read as inventory host "bastion", whose ansible_host it is');
    expect(r.unmapped).toContain('"-o StrictHostKeyChecking=no" not mapped');
    expect(r.hosts.app3).toBeUndefined();
    expect(r.unmapped).toContain('its jump host "elsewhere" is not a host of this inventory');
  });

  it('skips hosts that are not SSH, templated addresses and vaulted values, saying why', () => {
    const r = importInventory(
      {
        'hosts.yml': `all:
  hosts:
    localhost: { ansible_connection: local }
    templated: { ansible_host: "{{ lookup('env', 'X') }}" }
    vaulted:
      ansible_user: !vault |
        $ANSIBLE_VAULT;1.1;AES256
        3031
    plain: { ansible_host: 10.0.0.5 }
`,
      },
      'hosts.yml',
    );
    expect(Object.keys(r.hosts)).toEqual(['plain']);
    expect(r.unmapped).toContain('ansible_connection="local" is not SSH');
    expect(r.unmapped).toContain('is a Jinja template');
    expect(r.unmapped).toContain('ansible_user is vault-encrypted: not decrypted');
  });

  it('reports odd lines with their place and goes on', () => {
    const r = importInventory(
      {
        'hosts.ini':
          '[web\nweb1 ansible_host=10.0.0.1\n[web:weird]\nx\n[ok]\nbad[1:2\nhuge[0:99999999]\nquote "open\nnovalue ansible_port\nfine ansible_host=10.0.0.3\r\n[ok:vars]\nno equals sign\n',
      },
      'hosts.ini',
    );
    expect(r.unmapped).toMatch(/hosts\.ini:1: "\[web" is not a section header/);
    expect(r.unmapped).toMatch(/hosts\.ini:3: section \[web:weird\] has an unknown type/);
    expect(r.unmapped).toMatch(/hosts\.ini:6: "bad\[1:2": an unclosed "\["/);
    expect(r.unmapped).toMatch(/hosts\.ini:7: .*names more than 10000 hosts/);
    expect(r.unmapped).toMatch(/hosts\.ini:8: an unterminated quote/);
    expect(r.unmapped).toMatch(/hosts\.ini:9: expected key=value after the host/);
    expect(r.unmapped).toMatch(/hosts\.ini:12: expected key=value in \[ok:vars\]/);
    expect(Object.keys(r.hosts)).toEqual(['fine']);
    expect(r.hosts.fine).toMatchObject({ host: '10.0.0.3', tags: ['ok'] });
  });
});

describe('ansible YAML inventories', () => {
  it('reads all.children…hosts with vars and nested groups', () => {
    const r = importInventory(
      {
        'inv.yaml': `all:
  vars:
    ansible_user: ops
    ansible_ssh_private_key_file: keys/deploy
  children:
    web:
      hosts:
        web[1:2]:
          ansible_port: 2201
      children:
        canary:
          hosts:
            web1:
              ansible_host: 10.0.0.11
    db:
      vars: { ansible_user: dba }
      hosts:
        db1: { ansible_host: 10.0.0.21 }
        "[fd00::5]:2222": {}
`,
      },
      'inv.yaml',
    );
    expect(r.hosts.web1).toMatchObject({ host: '10.0.0.11', port: 2201, user: 'ops', tags: ['web', 'canary'] });
    expect(r.hosts.web2).toMatchObject({ host: 'web2', port: 2201, tags: ['web'] });
    expect(r.hosts.db1).toMatchObject({ host: '10.0.0.21', user: 'dba', tags: ['db'] });
    expect(r.hosts['fd00-5']).toMatchObject({ host: 'fd00::5', port: 2222 });
    expect(r.notes).toContain('host "fd00::5" is written as alias "fd00-5"');
  });

  it('refuses a vault-encrypted inventory and a YAML syntax error, with the place', () => {
    expect(importInventory({ 'v.yml': '$ANSIBLE_VAULT;1.1;AES256\n6162\n' }, 'v.yml').unmapped).toContain('encrypted with ansible-vault');
    expect(importInventory({ 'v.yml': 'all:\n  hosts:\n    a: [\n' }, 'v.yml').unmapped).toMatch(/v\.yml:\d+: YAML syntax/);
  });
});

describe('ansible parsing pieces', () => {
  it('expands host patterns as Ansible does', () => {
    expect(expandHostPattern('web[01:03]')).toEqual({ names: ['web01', 'web02', 'web03'] });
    expect(expandHostPattern('web[1:5:2].x:2222')).toEqual({ names: ['web1.x', 'web3.x', 'web5.x'], port: 2222 });
    expect(expandHostPattern('r[a:b]c[1:2]')).toEqual({ names: ['rac1', 'rac2', 'rbc1', 'rbc2'] });
    expect(expandHostPattern('fd00::1')).toEqual({ names: ['fd00::1'] });
    expect(expandHostPattern('[fd00::1]:22')).toEqual({ names: ['fd00::1'], port: 22 });
    expect(expandHostPattern('h:99999')).toMatch(/not from 1 to 65535/);
    expect(expandHostPattern('h[3:1]')).toMatch(/ends before it starts/);
  });

  it('splits words as shlex does', () => {
    expect(shellWords(`a b='c d' e="f \\"g\\"" h\\ i # j`)).toEqual(['a', 'b=c d', 'e=f "g"', 'h i']);
    expect(shellWords('x "open')).toBeUndefined();
  });
});

describe('ansible: a loaded result', () => {
  it('writes nothing secret: a key is referenced by path and never read', () => {
    const dir = writeTree({ 'keys/deploy': `-----BEGIN OPENSSH PRIVATE KEY-----\n${SECRET}\n` });
    writeFileSync(join(dir, 'hosts'), `web1 ansible_ssh_private_key_file=${join(dir, 'keys/deploy')}\n`);
    const findings = new Findings();
    const built = buildInventory(
      draftsFromAnsible(join(dir, 'hosts'), { home: dir, cwd: dir }, findings),
      {
        keysDir: join(dir, 'keys'),
        tags: [],
        tagRules: [],
        localUser: 'me',
      },
      findings,
    );
    expect(built.credentials.map((c) => c.entry)).toEqual([{ name: 'deploy', key_path: 'deploy' }]);
    expect(JSON.stringify([built, findings.list])).not.toContain(SECRET);
  });
});
