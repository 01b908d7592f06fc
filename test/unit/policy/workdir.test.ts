/**
 * A command given a workdir is judged exactly as after a cd: deny rules see its relative paths as
 * under any directory. Cases from the review of the first version, which relocated only plain
 * words under the named directory.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/config/load-policy.js';
import { ConfigError } from '../../../src/errors.js';
import { engineFromYaml, web1, writeTree } from '../../support/policy.js';

const POLICY = `
rules:
  - { name: secrets, action: deny, commands: ["cat /var/secret/*", "rm -rf /", "*/etc/shadow*", "dd if=/etc/*", "/etc/init.d/* stop", "cat .ssh/*", "head -n * /etc/shadow"] }
  - { name: tools, action: allow, commands: ["cat *", "rm -rf *", "grep *", "dd *", "init.d/networking stop", "head *", "uptime"] }
`;

describe('decide with a workdir', () => {
  it.each([
    ['cat key', '/var/secret'],
    ['cat ../secret/key', '/var/www'],
    ['cat ./key', '/var/secret'],
    ['rm -rf .', '/'],
    ['cat key', '/var/my secret'],
    ['grep --file=shadow x', '/etc'],
    ['grep -fshadow x', '/etc'],
    ['dd if=shadow', '/etc'],
    ['init.d/networking stop', '/etc'],
    ['cat id_rsa', '/home/u/.ssh'],
    ['head -n5 shadow', '/etc'],
  ])('denies %s in %s, as after a cd there', async (command, workdir) => {
    const engine = await engineFromYaml(POLICY);
    expect(engine.decide(web1, command, { workdir }).allowed).toBe(false);
    expect(engine.decide(web1, `cd '${workdir}' && ${command}`).allowed).toBe(false);
  });

  it('allows what touches no denied path', async () => {
    const engine = await engineFromYaml(POLICY);
    expect(engine.decide(web1, 'cat /etc/hosts', { workdir: '/var/secret' }).allowed).toBe(true);
    expect(engine.decide(web1, 'uptime', { workdir: '/etc' }).allowed).toBe(true);
  });

  it('judges the same command without a workdir as in the login directory', async () => {
    const engine = await engineFromYaml(POLICY);
    expect(engine.decide(web1, 'cat key').allowed).toBe(true);
  });
});

describe('stdin and interpreters', () => {
  const STDIN = `
rules:
  - { name: filters, action: allow, stdin: true, commands: ["wc -c", "cat", "grep *"] }
  - { name: plain, action: allow, commands: ["python3", "python3 --version", "xargs grep *", "echo *"] }
`;
  it('lets a command read the stdin of a call only where every part is allowed by a rule with stdin: true', async () => {
    const engine = await engineFromYaml(STDIN);
    expect(engine.decide(web1, 'wc -c').stdin_allowed).toBe(true);
    expect(engine.decide(web1, 'cat | grep x').stdin_allowed).toBe(true);
    expect(engine.decide(web1, 'xargs grep -h x').allowed).toBe(true);
    expect(engine.decide(web1, 'xargs grep -h x').stdin_allowed).toBe(false);
    expect(engine.decide(web1, 'cat | xargs grep x').stdin_allowed).toBe(false);
  });

  it('never allows an interpreter with no arguments: it reads its code from stdin', async () => {
    const engine = await engineFromYaml(STDIN);
    expect(engine.decide(web1, 'python3').allowed).toBe(false);
    expect(engine.decide(web1, "echo 'import os' | python3").allowed).toBe(false);
    expect(engine.decide(web1, 'python3 --version').allowed).toBe(true);
  });

  it('refuses stdin: true on a deny rule', () => {
    const root = writeTree({ 'p.yml': 'rules:\n  - { action: deny, stdin: true, commands: ["x"] }\n' });
    expect(() => loadPolicy(join(root, 'p.yml'))).toThrow(/stdin: true belongs on allow rules/);
  });
});

describe('workdirs and env in a policy file', () => {
  const load = (yaml: string) => loadPolicy(join(writeTree({ 'p.yml': yaml }), 'p.yml'));

  it('keeps where each entry was given', () => {
    const p = load('workdirs: ["/srv/*"]\nenv: [GREETING]\nrules: []\n');
    expect(p.workdirs).toEqual([{ pattern: '/srv/*', source: expect.stringMatching(/p\.yml:1:\d+$/) }]);
    expect(p.env.map((e) => e.name)).toEqual(['GREETING']);
  });

  it.each(['PATH', 'LD_PRELOAD', 'BASH_ENV', 'BASH_CMDS', 'BASH_ALIASES', 'IFS', 'GCONV_PATH', 'GLIBC_TUNABLES', 'BASH_FUNC_x%%', '1X'])(
    'refuses to list %s',
    (name) => {
      expect(() => load(`env: ["${name}"]\n`)).toThrow(ConfigError);
    },
  );

  it('refuses a relative workdir', () => {
    expect(() => load('workdirs: ["srv"]\n')).toThrow(/absolute path/);
  });
});
