import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadPolicy, type PolicySet } from '../../../src/config/load-policy.js';
import { ConfigError, formatIssue } from '../../../src/errors.js';
import { decideFile, filePathProblem } from '../../../src/policy/file-decision.js';
import { FileDecision } from '../../../src/policy/decision.js';
import type { Principal } from '../../../src/principal.js';
import { web1, writeTree } from '../../support/policy.js';

function policyOf(yaml: string): PolicySet {
  return loadPolicy(join(writeTree({ 'p.yml': yaml }), 'p.yml'));
}

function problemsOf(files: Record<string, string>): string[] {
  const dir = writeTree(files);
  try {
    loadPolicy(dir);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => formatIssue(i).replace(`${dir}/`, ''));
    throw err;
  }
  return [];
}

const who = (name: string, ...roles: string[]): Principal => ({ name, roles, via: 'command-line' });

const NGINX = policyOf(`limits: { max_file_bytes: 1048576 }
files:
  - name: nginx config
    action: allow
    read: ["/etc/nginx", "/etc/nginx/*", "/var/log/nginx/*"]
    write: ["/etc/nginx/conf.d/*.conf"]
  - name: secrets
    action: deny
    read: ["/etc/nginx/ssl/*"]
    write: ["/etc/nginx/ssl/*"]
`);

describe('file paths given by a caller', () => {
  it.each([
    ['/etc/nginx/../shadow', 'has a ".." component', '"/etc/shadow"'],
    ['/etc//passwd', 'has an empty component ("//")', '"/etc/passwd"'],
    ['/etc/./passwd', 'has a "." component', '"/etc/passwd"'],
    ['/etc/nginx/', 'ends in "/"', '"/etc/nginx" for the directory itself ("/etc/nginx/*" for what is under it)'],
    ['etc/passwd', 'is not absolute', '"/etc/passwd"'],
    ['', 'is empty', 'absolute path'],
    ['/etc/pass\u0000wd', 'contains a NUL byte', 'remove it'],
    ['/etc/pass\nwd', 'contains a control or format character (U+000A) at offset 9', 'remove it'],
    ['/etc/pass\twd', 'contains a control or format character (U+0009)', 'remove it'],
    ['/etc/\u009bx', 'contains a control or format character (U+009B)', 'remove it'],
    ['/..', 'has a ".." component', '"/"'],
  ])('refuses %j, never normalising it: it %s', (path, problem, fix) => {
    const p = filePathProblem(path);
    expect(p?.reason).toContain(problem);
    expect(p?.hint).toContain(fix);
    const d = decideFile(NGINX, web1, { access: 'read', path });
    expect(d).toMatchObject({ verdict: 'deny', allowed: false, rule: null });
    expect(d.reason).toContain(problem);
  });

  it('refuses a path over 4096 bytes, counted in UTF-8, and takes one of exactly 4096', () => {
    const at = (n: number) => `/etc/nginx/${'a'.repeat(n - '/etc/nginx/'.length)}`;
    expect(filePathProblem(at(4096))).toBeUndefined();
    expect(decideFile(NGINX, web1, { access: 'read', path: at(4096) }).allowed).toBe(true);
    expect(filePathProblem(at(4097))?.reason).toMatch(/is 4097 bytes long; the limit is 4096/);
    // 2,000 two-byte letters: 4,011 bytes, over the limit in bytes though not in characters.
    expect(filePathProblem(`/etc/nginx/${'é'.repeat(2100)}`)?.reason).toMatch(/bytes long; the limit is 4096/);
    // A reason never carries the whole of a long path.
    expect(decideFile(NGINX, web1, { access: 'read', path: at(5000) }).reason.length).toBeLessThan(400);
  });

  it('takes "/" and names with dots, spaces and wildcard characters as the literal names they are', () => {
    for (const path of ['/', '/etc/nginx/.hidden', '/etc/nginx/..x', '/etc/nginx/a b', '/etc/nginx/*', '/etc/nginx/x?']) {
      expect(filePathProblem(path)).toBeUndefined();
    }
    expect(decideFile(NGINX, web1, { access: 'read', path: '/etc/nginx/...' }).allowed).toBe(true);
  });

  it('keeps look-alike letters literal: a Cyrillic а is another file, and shown escaped', () => {
    // A division slash is no "/": one name beside /etc/nginx, not under it.
    const d = decideFile(NGINX, web1, { access: 'read', path: '/etc/nginx\u2215ssl/key' });
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe('no file rule allows reading "/etc/nginx\\u{2215}ssl/key" on web1');
    const cyrillic = decideFile(NGINX, web1, { access: 'read', path: '/\u0435tc/nginx/nginx.conf' });
    expect(cyrillic.allowed).toBe(false);
    expect(cyrillic.reason).toBe('no file rule allows reading "/\\u{435}tc/nginx/nginx.conf" on web1');
  });
});

describe('file decisions', () => {
  it('allow what an allow rule names for that access, naming the rule and its place', () => {
    const d = decideFile(NGINX, web1, { access: 'read', path: '/etc/nginx/nginx.conf' });
    expect(FileDecision.parse(d)).toEqual(d);
    expect(d).toMatchObject({
      alias: 'web1',
      access: 'read',
      path: '/etc/nginx/nginx.conf',
      verdict: 'allow',
      allowed: true,
      rule: { name: 'nginx config' },
      caller: null,
      become: null,
      max_file_bytes: 1_048_576,
    });
    expect(d.reason).toMatch(
      /^allowed by rule "nginx config" \(.*p\.yml:3:5\): pattern "\/etc\/nginx\/\*" allows reading \/etc\/nginx\/nginx\.conf$/,
    );
  });

  it('let * cross "/": /etc/nginx/* covers the whole tree, but not the directory itself', () => {
    expect(decideFile(NGINX, web1, { access: 'read', path: '/etc/nginx/sites/a/b.conf' }).allowed).toBe(true);
    const bare = policyOf('files:\n  - { action: allow, read: ["/srv/*"] }\n');
    expect(decideFile(bare, web1, { access: 'read', path: '/srv/app/x' }).allowed).toBe(true);
    // Listing /srv is a read of /srv itself.
    expect(decideFile(bare, web1, { access: 'read', path: '/srv' }).allowed).toBe(false);
    expect(decideFile(bare, web1, { access: 'read', path: '/srvx' }).allowed).toBe(false);
  });

  it('deny a path matched by a deny rule, whatever allows it and in whatever order', () => {
    for (const yaml of [
      'files:\n  - { name: all, action: allow, read: ["/*"] }\n  - { name: secrets, action: deny, read: ["/etc/shadow"] }\n',
      'files:\n  - { name: secrets, action: deny, read: ["/etc/shadow"] }\n  - { name: all, action: allow, read: ["/*"] }\n',
    ]) {
      const d = decideFile(policyOf(yaml), web1, { access: 'read', path: '/etc/shadow' });
      expect(d).toMatchObject({ verdict: 'deny', rule: { name: 'secrets' } });
      expect(d.reason).toMatch(
        /^denied by rule "secrets" \(.*p\.yml:\d:5\): pattern "\/etc\/shadow" forbids reading \/etc\/shadow on web1$/,
      );
      expect(d.matched_rules.map((r) => r.name).sort()).toEqual(['all', 'secrets']);
    }
    expect(decideFile(NGINX, web1, { access: 'write', path: '/etc/nginx/ssl/x.conf' }).rule?.name).toBe('secrets');
  });

  it('deny what no rule allows, saying so', () => {
    const d = decideFile(NGINX, web1, { access: 'write', path: '/etc/passwd' });
    expect(d).toMatchObject({ verdict: 'deny', rule: null, matched_rules: [] });
    expect(d.reason).toBe('no file rule allows writing /etc/passwd on web1');
    expect(decideFile(policyOf('rules: []\n'), web1, { access: 'read', path: '/' }).allowed).toBe(false);
  });

  it('keep write and read apart: writing does not imply reading, nor reading writing', () => {
    const p = policyOf('files:\n  - { name: drop, action: allow, write: ["/srv/in/*"] }\n');
    expect(decideFile(p, web1, { access: 'write', path: '/srv/in/a' }).allowed).toBe(true);
    const read = decideFile(p, web1, { access: 'read', path: '/srv/in/a' });
    expect(read.allowed).toBe(false);
    expect(read.reason).toBe('no file rule allows reading /srv/in/a on web1; rule "drop" allows writing it, not reading');
    expect(decideFile(NGINX, web1, { access: 'write', path: '/etc/nginx/nginx.conf' }).allowed).toBe(false);
    // A deny rule for writing leaves reading alone.
    const q = policyOf('files:\n  - { action: allow, read: ["/x/*"], write: ["/x/*"] }\n  - { action: deny, write: ["/x/ro/*"] }\n');
    expect(decideFile(q, web1, { access: 'read', path: '/x/ro/a' }).allowed).toBe(true);
    expect(decideFile(q, web1, { access: 'write', path: '/x/ro/a' }).allowed).toBe(false);
  });

  it('consider rules for their aliases and tags only', () => {
    const p = policyOf(`files:
  - { name: web, action: allow, tags: [web], read: ["/srv/*"] }
  - { name: db, action: allow, aliases: ["db*"], read: ["/var/lib/*"] }
  - { name: no prod logs, action: deny, tags: [prod], read: ["/srv/log/*"] }
`);
    expect(decideFile(p, web1, { access: 'read', path: '/srv/a' }).allowed).toBe(true);
    expect(decideFile(p, web1, { access: 'read', path: '/var/lib/a' }).allowed).toBe(false);
    expect(decideFile(p, { alias: 'db1', tags: [] }, { access: 'read', path: '/var/lib/a' }).allowed).toBe(true);
    expect(decideFile(p, web1, { access: 'read', path: '/srv/log/a' }).rule?.name).toBe('no prod logs');
    expect(decideFile(p, { alias: 'web9', tags: ['web'] }, { access: 'read', path: '/srv/log/a' }).allowed).toBe(true);
  });

  it('consider callers: as command rules do, failing closed without a principal', () => {
    const p = policyOf(`files:
  - { name: ops, action: allow, callers: [role:ops], write: ["/etc/app/*"] }
  - { name: interns, action: deny, callers: [role:intern], write: ["/etc/app/prod.conf"] }
`);
    const write = (principal?: Principal) =>
      decideFile(p, web1, { access: 'write', path: '/etc/app/prod.conf', ...(principal ? { principal } : {}) });
    expect(write(who('olga', 'ops'))).toMatchObject({ allowed: true, caller: { name: 'olga', roles: ['ops'] } });
    expect(write(who('ivan', 'ops', 'intern'))).toMatchObject({ allowed: false, rule: { name: 'interns' } });
    expect(write(who('bob')).reason).toBe(
      'no file rule allows writing /etc/app/prod.conf on web1; rule "ops" allows it but only for callers role:ops',
    );
    expect(write()).toMatchObject({ allowed: false, rule: { name: 'interns' } });
    expect(decideFile(p, web1, { access: 'write', path: '/etc/app/x' }).reason).toMatch(
      /only for callers role:ops, and no caller was given$/,
    );
  });

  it('consider become: as command rules do: only a rule for the elevation allows it, every deny without become: holds', () => {
    const p = policyOf(`files:
  - { name: as root, action: allow, become: root, write: ["/etc/*"] }
  - { name: plain, action: allow, write: ["/home/app/*"] }
  - { name: never, action: deny, write: ["/etc/shadow"] }
`);
    const write = (path: string, become?: string) => decideFile(p, web1, { access: 'write', path, ...(become ? { become } : {}) });
    expect(write('/etc/hosts', 'root')).toMatchObject({ allowed: true, become: 'root' });
    expect(write('/etc/hosts').reason).toBe(
      'no file rule allows writing /etc/hosts on web1; rule "as root" allows it only for calls that elevate to root (become)',
    );
    expect(write('/etc/hosts', 'postgres').allowed).toBe(false);
    expect(write('/etc/shadow', 'root')).toMatchObject({ allowed: false, rule: { name: 'never' } });
    expect(write('/home/app/x').allowed).toBe(true);
    expect(write('/home/app/x', 'root').reason).toMatch(/rule "plain" allows it only without become, and this call elevates to root$/);
  });

  it("cap max_file_bytes at the host's limit and at the smallest cap of the allow rules that matched", () => {
    const p = policyOf(`limits: { max_file_bytes: 1000 }
overrides: { aliases: { db1: { max_file_bytes: 50 } } }
files:
  - { name: wide, action: allow, read: ["/srv/*"] }
  - { name: small, action: allow, read: ["/srv/small/*"], max_file_bytes: 100 }
  - { name: huge, action: allow, read: ["/srv/huge/*"], max_file_bytes: 5000 }
`);
    const cap = (path: string, host = web1) => decideFile(p, host, { access: 'read', path }).max_file_bytes;
    expect(cap('/srv/a')).toBe(1000);
    expect(cap('/srv/small/a')).toBe(100);
    expect(decideFile(p, web1, { access: 'read', path: '/srv/small/a' }).reason).toMatch(
      /; at most 100 bytes \(max_file_bytes of rule "small"\)$/,
    );
    // A rule's cap never raises the host's.
    expect(cap('/srv/huge/a')).toBe(1000);
    expect(cap('/srv/small/a', { alias: 'db1', tags: [] })).toBe(50);
    expect(cap('/nowhere')).toBe(1000);
  });
});

describe('the files: section', () => {
  it('reports each mistake at its file:line:column, with what to write instead', () => {
    const problems = problemsOf({
      'p.yml': `files:
  - name: one
    action: ask
    read: ["/x"]
  - action: allow
    read: ["etc/x", "/etc/nginx/../shadow", "/etc//x", "/etc/./x", "/etc/nginx/", "/a\\tb"]
  - { action: allow }
  - { action: deny, write: ["/x"] }
  - { action: allow, read: ["/x"], commands: ["uptime"] }
  - { action: allow, read: ["/x"], max_file_bytes: 0 }
rules:
  - { action: allow, commands: [x], read: ["/x"] }
limits: { max_file_bytes: 1099511627777 }
`,
    });
    expect(problems.sort()).toEqual([
      'p.yml:10:52: files[5].max_file_bytes: max_file_bytes is a whole number of bytes from 1 to 1 TiB (1099511627776)',
      'p.yml:12:37: unknown key "read"; read belongs to file rules: list the rule under files:, not rules: (docs/policy.md)',
      'p.yml:13:27: limits.max_file_bytes: max_file_bytes is a whole number of bytes from 1 to 1 TiB (1099511627776)',
      'p.yml:3:13: files[0].action: file operations cannot be approved yet: a file rule is allow or deny (make it deny, or allow it for some callers: with callers:)',
      'p.yml:6:12: files[1].read[0]: the path pattern "etc/x" is not absolute: write it from the root ("/etc/x")',
      'p.yml:6:21: files[1].read[1]: the path pattern "/etc/nginx/../shadow" has a ".." component: paths are judged as written, never resolved: write the path it leads to ("/etc/shadow")',
      'p.yml:6:45: files[1].read[2]: the path pattern "/etc//x" has an empty component ("//"): write one "/" ("/etc/x")',
      'p.yml:6:56: files[1].read[3]: the path pattern "/etc/./x" has a "." component: write it without ("/etc/x")',
      'p.yml:6:68: files[1].read[4]: the path pattern "/etc/nginx/" ends in "/": write "/etc/nginx" for the directory itself ("/etc/nginx/*" for what is under it)',
      'p.yml:6:83: files[1].read[5]: the path pattern "/a\\tb" contains a control or format character (U+0009) at offset 2: remove it; sshgate takes no file name with control, format (bidi) or line-separator characters',
      'p.yml:7:5: files[2]: a file rule needs at least one path pattern in read: or write:',
      'p.yml:9:36: unknown key "commands"; commands belong to command rules: list the rule under rules:, not files:',
    ]);
    // Checked once the file has its shape: a cap on a deny rule.
    expect(problemsOf({ 'p.yml': 'files:\n  - { action: deny, write: ["/x"], max_file_bytes: 10 }\n' })).toEqual([
      'p.yml:2:52: files[0].max_file_bytes: max_file_bytes belongs on allow rules; a deny rule allows no bytes at all (remove it)',
    ]);
  });

  it('merges the file rules of several files in order, names them by default, and keeps names unique with command rules', () => {
    const dir = writeTree({
      'a.yml': 'files:\n  - { action: allow, read: ["/a/*"] }\n',
      'b.yml': 'files:\n  - { action: deny, read: ["/a/secret"] }\n  - { name: b2, action: allow, write: ["/b/*"] }\n',
    });
    const p = loadPolicy(dir);
    expect(p.fileRules.map((r) => [r.name, r.action, r.source.replace(`${dir}/`, '')])).toEqual([
      ['a.yml#files1', 'allow', 'a.yml:2:5'],
      ['b.yml#files1', 'deny', 'b.yml:2:5'],
      ['b2', 'allow', 'b.yml:3:5'],
    ]);
    expect(decideFile(p, web1, { access: 'read', path: '/a/secret' }).rule?.name).toBe('b.yml#files1');
    expect(
      problemsOf({
        'a.yml': 'rules:\n  - { name: nginx, action: allow, commands: [x] }\n',
        'b.yml': 'files:\n  - { name: nginx, action: allow, read: ["/x"] }\n  - { name: nginx, action: allow, read: ["/y"] }\n',
      }),
    ).toEqual([
      expect.stringMatching(/^b\.yml:2:5: duplicate rule name "nginx" \(also at .*a\.yml:2:5\); .*among rules: and files: together$/),
      expect.stringMatching(/^b\.yml:3:5: duplicate rule name "nginx"/),
    ]);
  });
});

describe('file decisions, for any path', () => {
  const segment = fc.constantFrom('.', '..', '', 'etc', 'nginx', 'a', '*', 'x.conf', ' ', '\u0430', '\n');
  const path = fc.array(segment, { maxLength: 8 }).map((s) => `/${s.join('/')}`);
  const relative = fc.array(segment, { minLength: 1, maxLength: 8 }).map((s) => s.join('/'));
  const p = policyOf(`files:
  - { action: allow, read: ["/*"], write: ["/etc/nginx/*"] }
  - { action: allow, write: ["/a/*"] }
`);

  it('allow no path with a ".", ".." or empty component, and only paths under P/ by a pattern P/*', () => {
    fc.assert(
      fc.property(fc.oneof(path, relative), fc.constantFrom('read' as const, 'write' as const), (path, access) => {
        const d = decideFile(p, web1, { access, path });
        if (!d.allowed) return;
        expect(path.startsWith('/')).toBe(true);
        if (path !== '/')
          expect(
            path
              .slice(1)
              .split('/')
              .every((c) => c !== '' && c !== '.' && c !== '..'),
          ).toBe(true);
        if (access === 'write') expect(path.startsWith('/etc/nginx/') || path.startsWith('/a/')).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
