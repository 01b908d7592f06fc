import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/commands/dispatch.js';
import { FileDecision } from '../../../src/policy/decision.js';
import { captureIo, writeTree } from '../../support/policy.js';

async function cli(...argv: string[]) {
  const io = captureIo();
  const code = await runCli(argv, {}, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

const FILES = `limits: { max_file_bytes: 1048576 }
files:
  - name: nginx config
    action: allow
    tags: [web]
    read: ["/etc/nginx", "/etc/nginx/*"]
    write: ["/etc/nginx/conf.d/*.conf"]
    max_file_bytes: 65536
  - name: units as root
    action: allow
    callers: [role:ops]
    become: root
    write: ["/etc/systemd/system/*.service"]
  - name: keys
    action: deny
    read: ["/etc/nginx/ssl/*"]
`;

/** A policy folder holding FILES, with `cases` as its tests when given. */
function policyDir(cases?: string): string {
  return writeTree({ 'p.yml': FILES, ...(cases ? { 'tests/c.yml': cases } : {}) });
}

describe('sshgate plan --read / --write', () => {
  it('exits 0 for an allowed read and prints the rule, its place and the size cap', async () => {
    const r = await cli('plan', '--policy', policyDir(), 'web1', '--read', '/etc/nginx/nginx.conf');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^web1: ALLOW read "\/etc\/nginx\/nginx\.conf" — allowed by rule "nginx config" \(.*p\.yml:3:5\)/);
    expect(r.out).toMatch(/\n {2}allow {2}rule "nginx config" \[.*p\.yml:3:5\]\n/);
    expect(r.out).toContain("\n  max_file_bytes: 65536 (a rule's cap; the host's is 1048576 (policy))\n");
  });

  it('exits 1 for a denied write, and for a path spelled another way, with the reason', async () => {
    const p = policyDir();
    const passwd = await cli('plan', '--policy', p, 'web1', '--write', '/etc/passwd');
    expect(passwd.code).toBe(1);
    expect(passwd.out).toMatch(/^web1: DENY write "\/etc\/passwd" — no file rule allows writing \/etc\/passwd on web1\n/);
    const dotdot = await cli('plan', '--policy', p, 'web1', '--read', '/etc/nginx/../shadow');
    expect(dotdot.code).toBe(1);
    expect(dotdot.out).toContain('the path /etc/nginx/../shadow has a ".." component');
    const keys = await cli('plan', '--policy', p, 'web1', '--read', '/etc/nginx/ssl/site.key');
    expect(keys.code).toBe(1);
    expect(keys.out).toMatch(/DENY .* — denied by rule "keys" \(.*p\.yml:14:5\)/);
    // Reading is allowed there; writing is not.
    expect((await cli('plan', '--policy', p, 'web1', '--write', '/etc/nginx/nginx.conf')).code).toBe(1);
  });

  it('prints the FileDecision as JSON, and one per host for a @tag', async () => {
    const p = policyDir();
    const one = JSON.parse((await cli('plan', '--json', '--policy', p, 'web1', '--read', '/etc/nginx')).out);
    expect(FileDecision.parse(one)).toEqual(one);
    expect(one).toMatchObject({ alias: 'web1', access: 'read', path: '/etc/nginx', verdict: 'allow', max_file_bytes: 65536 });
    const tag = await cli('plan', '--json', '--policy', p, '@prod', '--read', '/etc/nginx/nginx.conf');
    expect(tag.code).toBe(1);
    const body = JSON.parse(tag.out);
    expect(body).toMatchObject({ verdict: 'deny', allowed: false, targets: ['web1', 'web2', 'db1'] });
    expect(body.decisions.map((d: { allowed: boolean }) => d.allowed)).toEqual([true, true, false]);
  });

  it('decides for --as, --role and --become as the run tools would', async () => {
    const p = policyDir();
    const unit = ['web1', '--write', '/etc/systemd/system/app.service'];
    expect((await cli('plan', '--policy', p, '--as', 'olga', '--role', 'ops', '--become', 'root', ...unit)).code).toBe(0);
    expect((await cli('plan', '--policy', p, '--as', 'olga', '--role', 'ops', ...unit)).code).toBe(1);
    const none = await cli('plan', '--policy', p, '--become', 'root', ...unit);
    expect(none.code).toBe(1);
    expect(none.out).toContain('rule "units as root" allows it but only for callers role:ops, and no caller was given');
    expect(none.out).toContain('\n  caller: none given');
  });

  it('refuses --read with --write, with a command, or outside plan', async () => {
    const both = await cli('plan', 'web1', '--read', '/a', '--write', '/a');
    expect(both.code).toBe(2);
    expect(both.err).toContain('plan takes one of --read PATH and --write PATH');
    const withCommand = await cli('plan', 'web1', '--read', '/a', '--', 'uptime');
    expect(withCommand.code).toBe(2);
    expect(withCommand.err).toContain('not both');
    expect((await cli('check', '--read', '/a')).err).toContain('--read and --write are options of plan only');
    expect((await cli('plan', '--read', '/a')).err).toContain('plan needs one target');
    expect((await cli('plan', 'web1')).err).toContain('or --read PATH or --write PATH');
  });
});

describe('sshgate policy test with read: and write:', () => {
  it('decides each file case, and names the rule of a failure', async () => {
    const p = policyDir(`- { name: "nginx.conf is readable", alias: web1, read: /etc/nginx/nginx.conf, expect: allow }
- { alias: web1, write: /etc/nginx/nginx.conf, expect: deny }
- { alias: web1, write: /etc/systemd/system/a.service, as: olga, roles: [ops], become: root, expect: allow }
- { alias: new-web, tags: [web], read: /etc/nginx/mime.types, expect: allow }
- { name: "keys are readable", alias: web1, read: /etc/nginx/ssl/site.key, expect: allow }
`);
    const r = await cli('policy', 'test', '--policy', join(p, 'p.yml'));
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      'PASS  nginx.conf is readable\nPASS  web1: write /etc/nginx/nginx.conf\nPASS  web1 as olga (role:ops) become root: write /etc/systemd/system/a.service\nPASS  new-web: read /etc/nginx/mime.types\n',
    );
    expect(r.out).toMatch(/FAIL {2}keys are readable {2}\(.*c\.yml:5:3\)\n {6}expected allow, got deny: denied by rule "keys"/);
    expect(r.out).toMatch(/\n {6}read "\/etc\/nginx\/ssl\/site\.key" decided by rule "keys" at .*p\.yml:14:5\n/);
    expect(r.out).toContain('policy cases: 4 passed, 1 failed');
  });

  it('refuses a case with two questions, a file case expecting ask, and tty: on a file case', async () => {
    const cases = writeTree({
      'c.yml': `- { alias: web1, command: uptime, read: /etc/hosts, expect: allow }
- { alias: web1, write: /etc/hosts, expect: ask }
- { alias: web1, read: /etc/hosts, tty: true, expect: allow }
- { alias: web1, expect: allow }
`,
    });
    const r = await cli('policy', 'test', join(cases, 'c.yml'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/c\.yml:1:3: .*a case gives one of command:, read: or write:/);
    expect(r.err).toMatch(/c\.yml:2:45: \[1\]\.expect: a file case expects allow or deny/);
    expect(r.err).toMatch(/c\.yml:3:41: \[2\]\.tty: only a command case asks for a terminal/);
    expect(r.err).toMatch(/c\.yml:4:3: .*a case gives one of command:, read: or write:/);
  });
});

describe('sshgate policy diff, file rules', () => {
  it('reports a widened write as deny→allow, per caller, and a changed cap', async () => {
    const old = policyDir('- { name: "conf is writable", alias: web1, write: /etc/nginx/conf.d/a.conf, expect: allow }\n');
    const now = writeTree({
      'p.yml': FILES.replace('write: ["/etc/nginx/conf.d/*.conf"]', 'write: ["/etc/nginx/*"]').replace(
        'max_file_bytes: 65536',
        'max_file_bytes: 131072',
      ),
    });
    const r = await cli('policy', 'diff', join(old, 'p.yml'), join(now, 'p.yml'));
    expect(r.code).toBe(1);
    const lines = r.out.split('\n');
    expect(lines).toContain(
      'deny→allow  web1  write "/etc/nginx/x"  (pattern "/etc/nginx/*" of rule "nginx config"; now: allowed by rule "nginx config" (' +
        `${join(now, 'p.yml')}:3:5): pattern "/etc/nginx/*" allows writing /etc/nginx/x; at most 131072 bytes (max_file_bytes of rule "nginx config"))`,
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^allow→allow \(max_file_bytes 65536→131072\) {2}web1 {2}write "\/etc\/nginx\/conf\.d\/a\.conf" {2}\(case "conf is writable"/,
      ),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^allow→allow \(max_file_bytes 65536→131072\) {2}web1 {2}read "\/etc\/nginx\/x"/));
    // The keys stay denied: no change there, whatever the wider write.
    expect(r.out).not.toMatch(/→deny/);
    expect(r.out).toMatch(/^0 decision changes, \d+ file decision changes, 0 limit changes$/m);
  });

  it('reports a narrowed read as allow→deny, and the host limit as a limit change', async () => {
    const old = policyDir();
    const now = writeTree({
      'p.yml': `${FILES.replace('limits: { max_file_bytes: 1048576 }', '')}  - { name: no mime, action: deny, read: ["/etc/nginx/mime.types"] }\n`,
    });
    const r = await cli('policy', 'diff', join(old, 'p.yml'), join(now, 'p.yml'));
    expect(r.out).toMatch(
      /^allow→deny {2}web1 {2}read "\/etc\/nginx\/mime\.types" {2}\(pattern "\/etc\/nginx\/mime\.types" of rule "no mime"; now: denied by rule "no mime"/m,
    );
    expect(r.out).toMatch(/^limit {2}web1 {2}max_file_bytes 1048576→16777216$/m);
  });
});

describe('sshgate check, file rules', () => {
  it('counts the file rules, and warns of one that applies to no host', async () => {
    const p = writeTree({ 'p.yml': `${FILES}  - { name: nowhere, action: allow, aliases: [ghost], read: ["/x"] }\n` });
    const r = await cli('check', '--policy', join(p, 'p.yml'));
    expect(r.out).toContain('\n  4 file rules: 3 allow, 1 deny\n');
    expect(r.out).toMatch(/p\.yml:17:5: file rule "nowhere" applies to no host in the inventory \[no-host\]/);
    const none = await cli('check');
    expect(none.out).toContain('\n  file rules: none (every file read and write is denied)\n');
  });
});
