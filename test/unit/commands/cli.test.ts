import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/commands/dispatch.js';
import { captureIo, tempDir, writeTree } from '../../support/policy.js';

async function cli(...argv: string[]) {
  const io = captureIo();
  const code = await runCli(argv, {}, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('sshgate check', () => {
  it('prints the summary of the examples and exits 0', async () => {
    const r = await cli('check');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/5 hosts: bastion, web1, web2, db1, stg-app-1/);
    expect(r.out).toMatch(/13 rules: 6 allow, 7 deny/);
    expect(r.out).toMatch(/any matching deny rule wins/);
    expect(r.out).toMatch(/\nOK\n$/);
  });

  it('warns of each host whose key or secret serve could not read, as serve would, and only of those', async () => {
    const r = await cli('check');
    expect(r.code).toBe(0);
    expect(r.out).toContain('hosts "bastion", "web1", "web2": the key of credential "deploy-key" cannot be read');
    expect(r.out).toContain('host "stg-app-1": secret "legacy_pw" is not set');
    const io = captureIo();
    expect(await runCli(['check'], { SSHGATE_SECRET_LEGACY_PW: 'hunter2hunter2' }, io)).toBe(0);
    expect(io.stdout()).not.toContain('host "stg-app-1": secret');
    expect(io.stdout()).not.toContain('hunter2');
  });

  it('takes an empty SSHGATE_* variable as not set, not as the current directory', async () => {
    const io = captureIo();
    const code = await runCli(['check'], { SSHGATE_CONFIG_DIR: '', SSHGATE_POLICY: '', SSHGATE_KEYS_DIR: '', SSHGATE_SECRETS_DIR: '' }, io);
    expect(code).toBe(0);
    expect(io.stdout()).toMatch(/^config: \.\/config\n/);
    const set = captureIo();
    expect(await runCli(['check'], { SSHGATE_CONFIG_DIR: 'nowhere' }, set)).toBe(1);
  });

  it('names every known_hosts line it ignores, and warns when strict has no file at all', async () => {
    const config = tempDir();
    cpSync('config', config, { recursive: true });
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
    writeFileSync(join(config, 'known_hosts'), `web1 ${key}\ngarbage line\nweb2 ssh-ed25519 AAAA!!\n@cert-authority *.lab ${key}\n`);
    const r = await cli('check', '--config', config);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${config}/known_hosts:2: ignored — expected: hosts key-type base64-key`);
    expect(r.out).toContain(`${config}/known_hosts:3: ignored — the key is not valid base64`);
    // A CA line is understood (docs/certificates.md), not ignored.
    expect(r.out).not.toContain('known_hosts:4:');
    expect(r.out).not.toContain('known_hosts:1:');
    expect(r.out).not.toContain('does not exist');
    const bare = tempDir();
    cpSync('config', bare, { recursive: true });
    expect((await cli('check', '--config', bare)).out).toContain(
      `${bare}/known_hosts does not exist: under host_key_policy strict every host is refused`,
    );
  });

  it('lists every error of every broken file with file:line:column and exits 1', async () => {
    const config = writeTree({
      'servers.yml':
        'hosts:\n  - alias: web1\n    host: 10.0.0.1\n    credentials: missing\n    colour: blue\n  - { alias: web2, host: 10.0.0.2, credentials: missing }\n',
      'credentials.yml': 'entries:\n  - name: k\n    username: u\n    agent: yes-please\n',
    });
    const policy = writeTree({ 'p.yml': 'rules:\n  - action: allow\n    commands: "uptime"\n' });
    const r = await cli('check', '--config', config, '--policy', policy);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${config}/servers.yml:5:5: unknown key "colour"`);
    expect(r.err).toContain(`${config}/servers.yml:6:49: credential "missing" is not defined`);
    // One problem per host: web1's unknown key, not also its credential.
    expect(r.err).not.toContain(`${config}/servers.yml:4:18:`);
    expect(r.err).toContain(`${config}/credentials.yml:4:12: entries[0].agent:`);
    expect(r.err).toContain(`${policy}/p.yml:3:15: rules[0].commands:`);
    expect(r.out).toBe('');
  });
});

describe('sshgate plan', () => {
  it('exits 0 for an allowed command and prints why', async () => {
    const r = await cli('plan', 'web1', '--', 'uptime');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^web1: ALLOW/);
    expect(r.out).toMatch(/allow {2}uptime\n.*matches allow rule "read-only diagnostics".*\[policies\/default\.yml:\d+:\d+\]/);
  });

  it('exits 1 for a denied command and names the deciding rule, segment by segment', async () => {
    const r = await cli('plan', 'web1', '--', 'uptime; reboot');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/deny {3}reboot\n.*deny rule "never reboot or power off"/);
  });

  it('joins the words after -- into one command', async () => {
    expect((await cli('plan', 'db1', '--', 'df', '-h', '/var')).code).toBe(0);
  });

  it('prints the decision object with --json', async () => {
    const r = await cli('plan', '--json', 'web1', '--', 'uptime && hostname');
    const d = JSON.parse(r.out);
    expect(d).toMatchObject({ alias: 'web1', allowed: true, limits: { max_seconds: 30 } });
    expect(d.segments.map((s: { text: string }) => s.text)).toEqual(['uptime', 'hostname']);
  });

  it('shows whether the command may run with a terminal, per segment and as a whole', async () => {
    const alone = JSON.parse((await cli('plan', '--json', 'web1', '--', 'top -n 1')).out);
    expect(alone).toMatchObject({ allowed: true, tty_allowed: true, segments: [{ text: 'top -n 1', tty: true, rule: 'terminal views' }] });
    const piped = JSON.parse((await cli('plan', '--json', 'web1', '--', 'top -n 1 | head -n 3')).out);
    expect(piped).toMatchObject({ allowed: true, tty_allowed: false });
    expect(piped.segments.map((s: { tty: boolean }) => s.tty)).toEqual([true, false]);
    expect((await cli('plan', 'web1', '--', 'top -n 1')).out).toMatch(/^web1: ALLOW \(tty too\) — .*\n {2}allow {2}top -n 1 {2}\(tty\)\n/);
    expect(JSON.parse((await cli('plan', '--json', '@prod', '--', 'top -n 1')).out)).toMatchObject({ tty_allowed: true });
  });

  it('decides for every host of a @tag', async () => {
    const r = await cli('plan', '--json', '@prod', '--', 'sudo systemctl reload nginx');
    const body = JSON.parse(r.out);
    expect(body.targets).toEqual(['web1', 'web2', 'db1']);
    expect(body.decisions.map((d: { allowed: boolean }) => d.allowed)).toEqual([true, true, false]);
    expect(r.code).toBe(1);
  });

  it('exits 2 for bad usage, an unknown host and a bad config', async () => {
    expect((await cli('plan', 'web1')).code).toBe(2);
    const noHost = await cli('plan', 'nohost', '--', 'uptime');
    expect(noHost.code).toBe(2);
    expect(noHost.err).toMatch(/no host "nohost" in the inventory\n {2}hint: .*sshgate check/);
    const noTag = await cli('plan', '@nosuchtag', '--', 'uptime');
    expect(noTag.code).toBe(2);
    expect(noTag.err).toMatch(/no host has the tag "nosuchtag"/);
    expect((await cli('plan', '--config', tempDir(), 'web1', '--', 'uptime')).code).toBe(2);
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('plan', 'web1', 'uptime')).err).toContain(
      'plan needs "--" between the target and the command: sshgate plan web1 -- uptime',
    );
    const io = captureIo();
    expect(await runCli(['demo'], { SSHGATE_DEMO_HOST: 'bogus' }, io)).toBe(2);
    expect(io.stderr()).toContain('SSHGATE_DEMO_HOST must be auto or embedded');
    expect((await cli('check', '--bogus')).err).toMatch(/Unknown option '--bogus'/);
    expect((await cli('check', '--json')).err).toContain('--json is an option of plan, approvals list and check --connect only');
    expect((await cli('plan', '--connect')).err).toContain('--connect is an option of check only');
  });
});

describe('sshgate plan --as', () => {
  const policy = () =>
    join(
      writeTree({
        'p.yml': `rules:
  - { name: diagnostics, action: allow, commands: ["uptime", "df -h*"] }
  - { name: restarts for ops, action: allow, callers: [role:ops, alice], commands: ["sudo systemctl restart *"] }
  - { name: no df for interns, action: deny, callers: [role:intern], commands: ["df *"] }
`,
      }),
      'p.yml',
    );

  it('decides for the principal of --as and its --role, and names it', async () => {
    const p = policy();
    const r = await cli(
      'plan',
      '--policy',
      p,
      '--as',
      'olga',
      '--role',
      'ops',
      '--role',
      'dev',
      'web1',
      '--',
      'sudo systemctl restart nginx',
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^web1: ALLOW — .*rule "restarts for ops"/);
    expect(r.out).toContain('\n  caller: olga (role:ops, role:dev)\n  limits: ');
    const json = JSON.parse(
      (await cli('plan', '--json', '--policy', p, '--as', 'alice', 'web1', '--', 'sudo systemctl restart nginx')).out,
    );
    expect(json).toMatchObject({ allowed: true, caller: { name: 'alice', roles: [] } });
    const tag = JSON.parse((await cli('plan', '--json', '--policy', p, '--as', 'ivan', '--role', 'intern', '@prod', '--', 'df -h')).out);
    expect(tag.allowed).toBe(false);
    expect(tag.decisions.map((d: { caller: unknown }) => d.caller)).toEqual([...Array(3)].map(() => ({ name: 'ivan', roles: ['intern'] })));
  });

  it('decides for no principal without --as: allow rules with callers: do not apply, deny rules with callers: do', async () => {
    const p = policy();
    const restart = await cli('plan', '--policy', p, 'web1', '--', 'sudo systemctl restart nginx');
    expect(restart.code).toBe(1);
    expect(restart.out).toContain(
      'allow rule "restarts for ops" matches it but applies only to callers role:ops, alice, and no caller was given',
    );
    expect(restart.out).toContain('\n  caller: none given (allow rules with callers: do not apply to it, deny rules with callers: do)\n');
    expect((await cli('plan', '--policy', p, 'web1', '--', 'df -h')).code).toBe(1);
    expect((await cli('plan', '--policy', p, '--as', 'olga', 'web1', '--', 'df -h')).code).toBe(0);
    expect(JSON.parse((await cli('plan', '--json', '--policy', p, 'web1', '--', 'uptime')).out).caller).toBeNull();
    // A policy without callers: prints no caller line unless one is given.
    const plain = join(writeTree({ 'p.yml': 'rules:\n  - { action: allow, commands: ["uptime"] }\n' }), 'p.yml');
    expect((await cli('plan', '--policy', plain, 'web1', '--', 'uptime')).out).not.toContain('caller:');
    expect((await cli('plan', '--policy', plain, '--as', 'alice', 'web1', '--', 'uptime')).out).toContain('\n  caller: alice\n');
  });

  it('refuses --role without --as, a name or role a rule could not name, and --as outside plan and serve', async () => {
    const noName = await cli('plan', '--role', 'ops', 'web1', '--', 'uptime');
    expect(noName.code).toBe(2);
    expect(noName.err).toContain('--role needs --as NAME');
    const lookalike = await cli('plan', '--as', '\u0430lice', 'web1', '--', 'uptime');
    expect(lookalike.code).toBe(2);
    expect(lookalike.err).toContain('--as/--role: "\\u{430}lice" is not a name');
    expect((await cli('plan', '--as', 'alice', '--role', 'role:ops', 'web1', '--', 'uptime')).err).toContain(
      `"role:ops": give the role's name alone (ops, not role:ops)`,
    );
    expect((await cli('plan', '--as', '', 'web1', '--', 'uptime')).code).toBe(2);
    expect((await cli('check', '--as', 'alice')).err).toContain('--as and --role are options of plan, serve, approve and deny only');
  });
});

describe('sshgate policy test', () => {
  it('passes on the examples', async () => {
    const r = await cli('policy', 'test');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/policy cases: (\d+) passed, 0 failed/);
    expect(Number(/(\d+) passed/.exec(r.out)?.[1])).toBeGreaterThanOrEqual(30);
  });

  it('prints each failure with the rule and file:line that decided it, and exits 1', async () => {
    const cases = writeTree({
      'c.yml':
        '- { name: "reboot is allowed", alias: web1, command: "reboot", expect: allow }\n- { alias: ghost, command: uptime, expect: allow }\n',
    });
    const r = await cli('policy', 'test', join(cases, 'c.yml'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL {2}reboot is allowed {2}\(.*c\.yml:1:3\)\n {6}expected allow, got deny/);
    expect(r.out).toMatch(/"reboot" decided by rule "never reboot or power off" at policies\/default\.yml:\d+:\d+/);
    expect(r.out).toMatch(/alias "ghost" is not in the inventory/);
    expect(r.out).toMatch(/policy cases: 0 passed, 2 failed/);
  });

  it('judges a case with tty: true by whether the command may run with a terminal', async () => {
    const cases = writeTree({ 'c.yml': '- { name: "ps with a terminal", alias: web1, command: "ps aux", tty: true, expect: allow }\n' });
    const r = await cli('policy', 'test', join(cases, 'c.yml'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /expected allow with a terminal, got deny: "ps aux" is allowed by rule "read-only diagnostics", which does not say tty: true, not allowed with a terminal/,
    );
  });
});

describe('sshgate policy test with as:', () => {
  it('runs each case for its principal and names it on a failure', async () => {
    const dir = writeTree({
      'p.yml': `rules:
  - { name: diagnostics, action: allow, commands: ["uptime"] }
  - { name: restarts for ops, action: allow, callers: [role:ops], commands: ["sudo systemctl restart *"] }
`,
      'tests/c.yml': `- { name: "ops may restart", alias: web1, command: "sudo systemctl restart api", as: olga, roles: [ops], expect: allow }
- { name: "no caller may not", alias: web1, command: "sudo systemctl restart api", expect: deny }
- { alias: web1, command: "sudo systemctl restart api", as: alice, expect: allow }
`,
    });
    const r = await cli('policy', 'test', '--policy', join(dir, 'p.yml'));
    expect(r.code).toBe(1);
    expect(r.out).toContain('PASS  ops may restart\nPASS  no caller may not\n');
    expect(r.out).toMatch(
      /FAIL {2}web1 as alice: sudo systemctl restart api {2}\(.*c\.yml:3:3\)\n {6}expected allow as alice, got deny: .*applies only to callers role:ops\n/,
    );
    expect(r.out).toContain('policy cases: 2 passed, 1 failed');
  });
});

describe('sshgate policy diff', () => {
  it('says "no change" for identical policies and exits 0', async () => {
    const r = await cli('policy', 'diff', 'policies', 'policies');
    expect(r).toMatchObject({ code: 0, out: 'no change\n' });
  });

  it('shows the decisions a widened rule turns from deny to allow', async () => {
    const copy = tempDir();
    cpSync('policies', copy, { recursive: true });
    const file = join(copy, 'default.yml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace('"systemctl status *"', '"systemctl *"')
        .replace('prod: { max_seconds: 30 }', 'prod: { max_seconds: 45 }'),
    );
    const r = await cli('policy', 'diff', 'policies', copy);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^deny→allow {2}web1 {2}"systemctl x" {2}\(pattern "systemctl \*"/m);
    expect(r.out).toMatch(/^limit {2}web1 {2}max_seconds 30→45$/m);
    expect(r.out).not.toMatch(/allow→deny/);
  });

  it('compares the decisions per caller and names the callers a change is for', async () => {
    const old = writeTree({
      'p.yml': `rules:
  - { name: diagnostics, action: allow, commands: ["uptime", "df -h"] }
  - { name: restarts, action: allow, callers: [role:ops], commands: ["sudo systemctl restart nginx"] }
`,
    });
    const now = writeTree({
      'p.yml': `rules:
  - { name: diagnostics, action: allow, commands: ["uptime", "df -h", "hostname"] }
  - { name: restarts, action: allow, callers: [role:ops, alice], commands: ["sudo systemctl restart nginx"] }
  - { name: no df for interns, action: deny, callers: [role:intern], commands: ["df *"] }
`,
    });
    const r = await cli('policy', 'diff', old, now);
    expect(r.code).toBe(1);
    const web1 = r.out.split('\n').filter((l) => l.includes('  web1  '));
    expect(web1).toEqual([
      'as (no principal), role:intern: allow→deny  web1  "df -h"  (pattern "df -h" of rule "diagnostics"; now: "df -h" is denied: matches deny rule "no df for interns" (pattern "df *"))',
      'as alice: deny→allow  web1  "sudo systemctl restart nginx"  (pattern "sudo systemctl restart nginx" of rule "restarts"; now: restarts)',
      'deny→allow  web1  "hostname"  (pattern "hostname" of rule "diagnostics"; now: diagnostics)',
    ]);
    expect(r.out).toMatch(/^15 decision changes, 0 limit changes(, .*)?$/m);
  });

  it('shows the changes of a policy without callers: as before, for every caller alike', async () => {
    const old = writeTree({ 'p.yml': 'rules:\n  - { name: d, action: allow, commands: ["uptime"] }\n' });
    const now = writeTree({ 'p.yml': 'rules:\n  - { name: d, action: allow, commands: ["uptime", "hostname"] }\n' });
    const r = await cli('policy', 'diff', old, now);
    expect(r.out).toMatch(/^deny→allow {2}web1 {2}"hostname" {2}\(pattern "hostname" of rule "d"; now: d\)$/m);
    expect(r.out).not.toContain('as ');
  });

  it('shows a command whose terminal a rule gives or takes away, allowed either way', async () => {
    const copy = tempDir();
    cpSync('policies', copy, { recursive: true });
    const file = join(copy, 'default.yml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace('    tty: true\n', '')
        .replace(
          '  - name: read-only diagnostics\n    action: allow\n',
          '  - name: read-only diagnostics\n    action: allow\n    tty: true\n',
        ),
    );
    const r = await cli('policy', 'diff', 'policies', copy);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^allow→deny with a terminal {2}web1 {2}"top -n 1" {2}\(case "top with a terminal is allowed"; now: "top -n 1" is allowed by rule "terminal views", which does not say tty: true/m,
    );
    expect(r.out).toMatch(
      /^deny→allow with a terminal {2}web1 {2}"uptime" {2}\(case "uptime is allowed everywhere"; now: allowed with a terminal\)$/m,
    );
    expect(r.out).not.toMatch(/^(allow→deny|deny→allow) {2}/m);
  });
});

describe('sshgate approvals, approve, deny', () => {
  it('refuse bad usage with exit 2 and say what is missing', async () => {
    expect(await cli('approve')).toMatchObject({ code: 2, err: expect.stringContaining('approve needs one approval id') as unknown });
    expect(await cli('deny', 'apr-0123456789abcdef')).toMatchObject({
      code: 2,
      err: expect.stringContaining('deny needs --reason') as unknown,
    });
    expect(await cli('approvals')).toMatchObject({ code: 2, err: expect.stringContaining('expected list') as unknown });
    expect(await cli('check', '--all')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--all is an option of approvals list only') as unknown,
    });
    expect(await cli('check', '--reason', 'x')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--reason is an option of approve and deny') as unknown,
    });
    expect(await cli('approve', 'apr-1', '--as', '-x')).toMatchObject({ code: 2 });
    expect(await cli('approve', 'apr-1', '--role', 'ops', '--as', 'bob')).toMatchObject({ code: 2 });
  });
});
