/**
 * Every class of the attack on the engine (a policy that allowed more than it said), for a host
 * pinned to bash and one pinned to sh. Each line here once ran a command no rule allowed, or is a
 * spelling of one that did; the differential fuzzer's findings join them (regressions.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PolicyEngine } from '../../../src/policy/decide.js';
import type { Dialect } from '../../../src/policy/lexer.js';
import { engineFromYaml } from '../../support/policy.js';

const POLICY = `
rules:
  - name: reads and wrappers, named
    action: allow
    aliases: ["named"]
    commands: ["echo *", "ls *", "cat *", "grep *", "uptime", "printf *", "test *", "read *", "timeout *", "env *",
               "sudo *", "find /tmp *", "xargs *", "nice *", "mapfile *", "compgen *", "hash *", "timeout * sh -c *",
               "systemctl status *", "journalctl *", "python3 *", "awk *",
               "awk '{print $1}' *", "sh -c *", "bash -c *"]
  - name: everything
    action: allow
    aliases: ["star"]
    commands: ["*"]
  - name: the payload
    action: deny
    commands: ["touch *", "*/etc/shadow*", "*.ssh/*", "systemctl * -H*", "systemctl * --host*", "journalctl * --directory*", "grep * -r*"]
`;

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await engineFromYaml(POLICY);
});
const SHELLS: Dialect[] = ['bash', 'sh'];
const decide = (alias: string, shell: Dialect, command: string) => engine.decide({ alias, tags: [], shell }, command);

/** [class, command] pairs that must be denied on both hosts, with both pinned shells. */
const MUST_DENY: [string, string][] = [
  ['differential', 'echo a\\\t#b; touch x'],
  ['differential', 'echo \\\t#b; touch x'],
  ['differential', 'uptime <&-#;touch x'],
  ['differential', 'uptime >&-#;touch x'],
  ['differential', 'echo x == y\ntouch z'],
  ['differential', 'echo x =~ y\ntouch z'],
  ['differential', 'ls &>/dev/null & touch x'],
  ['builtin', "printf -v 'a[$(touch x)]' y"],
  ['builtin', "printf -v'a[$(touch x)]' y"],
  ['builtin', "test -v 'a[$(touch x)]'"],
  ['builtin', "read 'a[$(touch x)]'"],
  ['builtin', "mapfile -C 'touch x' -c 1 y"],
  ['builtin', "compgen -C 'touch x' y"],
  ['builtin', 'hash -p /usr/bin/touch ls'],
  ['builtin', "let 'a[$(touch x)]'"],
  ['builtin', "wait -n -p 'a[$(touch x)]'"],
  ['wrapper', "timeout 5 sh -c 'touch x'"],
  ['wrapper', "timeout 5 bash -c 'uptime; touch x'"],
  ['wrapper', "timeout 5 sh -c 'sh -c \"touch x\"'"],
  ['wrapper', "find /tmp -exec sh -c 'touch x' \\;"],
  ['wrapper', "timeout 5 python3 -c 'import os; os.system(\"touch x\")'"],
  ['wrapper', "timeout 5 perl -e 'system(\"touch x\")'"],
  ['wrapper', 'timeout 5 awk \'BEGIN{system("touch x")}\''],
  ['wrapper', "python3 -c 'import os'"],
  ['wrapper', 'awk \'BEGIN{system("touch x")}\''],
  ['wrapper', 'timeout 30 /usr/bin/tou?h x'],
  ['wrapper', 'timeout 30 /usr/bin/t[o]uch x'],
  ['wrapper', 'find /tmp -exec /usr/bin/tou?h x \\;'],
  ['wrapper', 'timeout 5 /usr/bin/py*3 x'],
  ['wrapper', "sudo -s 'touch x'"],
  ['wrapper', "env -S 'touch x'"],
  ['wrapper', 'nice -n 5 touch x'],
  ['wrapper', 'xargs touch'],
  ['wrapper', 'xargs env'],
  ['wrapper', 'timeout 5 sudo touch x'],
  ['glob', 'cat /etc/sha[[.d.]]ow'],
  ['glob', 'cat /etc/sha[[=d=]]ow'],
  ['glob', 'cat /etc/shado[[:alpha:]]'],
  ['glob', 'cat /etc/shado[!x]'],
  ['glob', 'cat /etc/shado[^x]'],
  ['glob', 'cat /etc/shad[]o]w'],
  ['path', 'cat /etc//shadow'],
  ['path', 'cat /etc/./shadow'],
  ['path', 'cat /tmp/../etc/shadow'],
  ['path', 'cat /home/x/.ssh//id_rsa'],
  ['option', 'systemctl -H host status x'],
  ['option', 'systemctl status x --hos=host'],
  ['option', 'systemctl status x --h host'],
  ['option', 'systemctl status -qH host x'],
  ['option', 'journalctl --direc=/x'],
  ['option', 'journalctl --dir /x'],
  ['option', 'grep -r x /etc'],
  ['option', 'grep -rn x /home'],
];

describe.each(SHELLS)('a host pinned to %s', (shell) => {
  it.each(MUST_DENY)('denies (%s) %j where rules name each thing allowed', (_, command) => {
    expect(decide('named', shell, command).allowed).toBe(false);
  });

  it.each(MUST_DENY)('denies (%s) %j where a rule allows "*"', (_, command) => {
    expect(decide('star', shell, command).allowed).toBe(false);
  });

  it.each([
    'uptime',
    'timeout 5 sh -c uptime',
    "timeout 5 sh -c 'uptime; echo ok'",
    'find /tmp -name x',
    'xargs echo',
    'systemctl status nginx --no-pager',
    'grep -c x /var/log/syslog',
    "awk '{print $1}' /etc/hosts",
  ])('still allows what the rules name: %j', (command) => {
    const d = decide('named', shell, command);
    expect(d.reason).toMatch(/every command is allowed/);
  });
});

it('reads a sh -c string in sh and a bash -c string in bash', () => {
  expect(decide('named', 'bash', "sh -c 'ls -l &>/dev/null'").allowed).toBe(false);
  expect(decide('named', 'bash', "bash -c 'ls -l &>/dev/null'").allowed).toBe(true);
  expect(decide('named', 'sh', "bash -c 'ls -l &>/dev/null'").allowed).toBe(true);
});

it('names the nested command that a wrapper ran and the rule that denied it', () => {
  const d = decide('named', 'bash', "timeout 5 sh -c 'uptime; touch x'");
  expect(d.segments.map((s) => [s.text, s.allowed, s.nested])).toEqual([
    ["timeout 5 sh -c 'uptime; touch x'", true, false],
    ['uptime', true, true],
    ['touch x', false, true],
  ]);
  expect(d.reason).toMatch(/"touch x" is denied: matches deny rule "the payload"/);
});
