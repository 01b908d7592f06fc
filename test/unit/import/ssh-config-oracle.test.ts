/**
 * The import against OpenSSH itself: for every host it imports, `ssh -G -F FILE NAME` (which reads
 * the configuration and connects nowhere) must agree on HostName, Port, User and ProxyJump.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Findings } from '../../../src/import/findings.js';
import { readSshConfig } from '../../../src/import/ssh-config-file.js';
import type { Hop } from '../../../src/import/draft.js';
import { draftsFromSshConfig, parseHop } from '../../../src/import/ssh-config-import.js';
import { tempDir } from '../../support/policy.js';

const hasSsh = spawnSync('ssh', ['-V']).status === 0;

/** What ssh -G says of `name`: the keywords the import maps. */
function sshG(file: string, name: string): Record<string, string> {
  const out = execFileSync('ssh', ['-G', '-F', file, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const seen: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const [k, ...rest] = line.split(' ');
    if (k && ['hostname', 'port', 'user', 'proxyjump', 'proxycommand'].includes(k) && !(k in seen)) seen[k] = rest.join(' ');
  }
  return seen;
}

const CONFIGS: Record<string, (dir: string) => string> = {
  'defaults, first value wins, negation': () => `
Host web1 web2
  HostName 10.0.0.1
Host web2
  HostName 10.0.0.2
  Port 2202
Host * !web2
  User notweb2
Host *
  User everyone
  Port 2200
`,
  'quoting, = and odd spacing': () => 'Host=q1\n\tUser = "a b"\n  HostName\t"10.0.0.3"  # comment\nHost "q2"\n  Port=2222\n',
  'CRLF line ends': () => 'Host c1\r\n  HostName 10.0.0.4\r\n  User crlf\r\n',
  'Include inside a Host block, absolute paths': (dir) => {
    writeFileSync(join(dir, 'inc.conf'), 'User included\nHost inner\n  HostName 10.9.9.9\n');
    return `Host i1\n  Include ${join(dir, 'inc.conf')}\nHost i2\n  HostName 10.0.0.5\n`;
  },
  'ProxyJump chains and ProxyCommand order': () => `
Host bastion
  HostName 10.0.0.2
  User jump
Host p1
  ProxyJump bastion
Host p2
  ProxyJump admin@bastion:2222,p1
Host p3
  ProxyCommand ssh -W %h:%p bastion
  ProxyJump p1
Host p4
  ProxyJump none
Host * !bastion
  ProxyJump bastion
`,
  'Match all applies, Match host does not reach the import': () => 'Host m1\n  HostName 10.0.0.6\nMatch all\n  Port 2999\n',
  'HostName with %h': () => 'Host h1\n  HostName %h.example.com\n',
};

describe.skipIf(!hasSsh)('ssh_config import agrees with ssh -G', () => {
  it.each(Object.keys(CONFIGS))('%s', (title) => {
    const dir = tempDir('sshgate-oracle-');
    mkdirSync(join(dir, '.ssh'));
    const file = join(dir, 'config');
    writeFileSync(file, (CONFIGS[title] as (d: string) => string)(dir));
    const findings = new Findings();
    const config = readSshConfig(file, file, { home: dir }, findings);
    const me = userInfo().username;
    const drafts = draftsFromSshConfig(config!, { localUser: me, uid: '0', home: dir, cwd: dir, env: {} }, findings);
    expect(drafts.length).toBeGreaterThan(0);
    for (const d of drafts) {
      const ssh = sshG(file, d.name);
      expect({ name: d.name, hostname: d.address, port: String(d.port), user: d.user ?? me }).toEqual({
        name: d.name,
        hostname: ssh.hostname,
        port: ssh.port,
        user: ssh.user,
      });
      // The jump: the last hop of ssh's ProxyJump, or the host of the one ProxyCommand here (ssh -W … bastion).
      if (ssh.proxyjump !== undefined) expect(d.jump?.name).toBe((parseHop(ssh.proxyjump.split(',').at(-1) as string) as Hop).name);
      else if (ssh.proxycommand !== undefined) expect(d.jump?.name).toBe('bastion');
      else expect(d.jump).toBeUndefined();
    }
  });
});
