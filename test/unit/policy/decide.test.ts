import { beforeAll, describe, expect, it } from 'vitest';
import type { PolicyEngine } from '../../../src/policy/decide.js';
import { db1, engineFromYaml, web1 } from '../../support/policy.js';

const POLICY = `
limits: { max_seconds: 60 }
rules:
  - name: diagnostics
    action: allow
    commands: ["uptime", "hostname", "date", "df -h*", "ls *", "echo *", "grep *", "cat /var/log/*", "systemctl status *"]
  - name: reload on web
    action: allow
    tags: [web]
    commands: ["sudo systemctl reload nginx"]
  - name: explicit redirect
    action: allow
    commands: ["journalctl -u * > /tmp/journal.txt", "echo $(date)", "env FOO=1 printenv FOO"]
  - name: db only
    action: allow
    aliases: ["db*"]
    commands: ["pg_isready"]
  - name: no reboot
    action: deny
    commands: ["reboot*", "rm *"]
  - name: everything, for wrapper tests
    action: allow
    aliases: ["lab*"]
    commands: ["*"]
overrides:
  tags: { prod: { max_seconds: 30 }, web: { max_seconds: 20, max_output_bytes: 4096 } }
  aliases: { db1: { max_seconds: 90 } }
deny_substrings: ["secret-token"]
`;

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await engineFromYaml(POLICY);
});
const allowed = (cmd: string, host = web1) => engine.decide(host, cmd).allowed;

describe('hostile commands are denied even when every visible part is allowed', () => {
  const hostile: [string, string][] = [
    ['a semicolon chain', 'uptime; reboot'],
    ['an and-chain', 'uptime && rm -rf /'],
    ['an or-chain', 'uptime || reboot'],
    ['a pipe into a shell', 'uptime | sh'],
    ['a background operator', 'uptime & reboot'],
    ['a newline', 'uptime\nreboot'],
    ['a carriage return', 'uptime\rreboot'],
    ['backticks', 'uptime `reboot`'],
    ['dollar substitution', 'uptime $(reboot)'],
    ['substitution inside double quotes', 'echo "$(reboot)"'],
    ['parameter expansion', 'uptime ${IFS}reboot'],
    ['a bare variable', 'echo $HOME'],
    ['arithmetic expansion', 'echo $((1+1))'],
    ['output redirection', 'uptime > /etc/passwd'],
    ['append redirection', 'uptime >> /etc/passwd'],
    ['clobber redirection', 'uptime >| /etc/passwd'],
    ['input redirection', 'grep root < /etc/shadow'],
    ['read-write redirection', 'uptime <> /etc/passwd'],
    ['process substitution', 'cat <(reboot)'],
    ['output process substitution', 'ls > >(reboot)'],
    ['a comment followed by a newline', 'uptime #\nreboot'],
    ['a NUL byte', 'uptime\u0000reboot'],
    ['an escape character', 'uptime\u001b[2J'],
    ['unbalanced single quote', "echo 'oops"],
    ['unbalanced double quote', 'echo "oops'],
    ['unbalanced parenthesis', 'echo $(uptime'],
    ['a subshell', '(uptime; reboot)'],
    ['a command group', '{ uptime; reboot; }'],
    ['an if statement', 'if uptime; then reboot; fi'],
    ['a for loop', 'for i in 1; do reboot; done'],
    ['a function definition', 'f() { reboot; }; f'],
    ['eval', 'eval uptime'],
    ['a heredoc', 'cat <<EOF\nreboot\nEOF'],
    ['a here-string', 'grep x <<< "y"'],
    ['brace expansion', 'echo {a,b}'],
    ['ANSI-C quoting', "echo $'\\x41'"],
    ['a wildcard command name', 'upti* now'],
    ['an environment prefix', 'LD_PRELOAD=/tmp/x.so uptime'],
    ['a bare assignment', 'PATH=/tmp'],
    ['a quoted reboot', "re''boot"],
    ['a backslash reboot', '\\reboot'],
    ['a path to reboot', '/sbin/reboot -f'],
    ['a negation', '! uptime'],
    ['a backslash-newline that a shell would join into one word', 'rebo\\\not'],
    ['a backslash-newline between words', 'uptime \\\nreboot'],
    ['a test expression', '[ -f /etc/passwd ]'],
  ];
  it.each(hostile)('denies %s', (_label, command) => {
    expect(allowed(command)).toBe(false);
  });

  it('denies 100 kB of input without parsing it', () => {
    const d = engine.decide(web1, `echo ${'a'.repeat(100_000)}`);
    expect(d.allowed).toBe(false);
    expect(d.reason).toMatch(/the limit is 16384/);
    expect(d.command.length).toBeLessThan(1100);
  });

  it('denies an empty command', () => {
    expect(engine.decide(web1, '   ').reason).toMatch(/empty/);
  });
});

describe('nesting', () => {
  it('denies, with a reason, a command nested too deeply to walk, instead of failing', () => {
    // 12.5 KB, under the size limit: thousands of substitutions deep.
    const deep = `${'$('.repeat(2500)}uptime${')'.repeat(2500)}`;
    const d = engine.decide(web1, `echo ${deep}`);
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain('nests too deeply');
  });
});

describe('allow rules', () => {
  it('allows each allowed simple command of a pipeline and a chain', () => {
    expect(allowed('df -h | grep sda && hostname; date')).toBe(true);
  });

  it('matches the words after quote removal, so quoting cannot hide or change a command', () => {
    expect(allowed("'uptime'")).toBe(true);
    expect(allowed('"ls" -l /tmp')).toBe(true);
    expect(engine.decide(web1, "grep -c 'out of memory' /var/log/syslog").segments[0]?.text).toBe(
      "grep -c 'out of memory' /var/log/syslog",
    );
  });

  it('ignores stderr to /dev/null and fd duplication, which write nothing', () => {
    expect(allowed('df -h 2>/dev/null')).toBe(true);
    expect(allowed('df -h 2>&1 | grep x')).toBe(true);
    expect(allowed('ls >/dev/null 2>&1 /etc')).toBe(true);
  });

  it('keeps arguments that follow a redirection in the matched text', () => {
    const d = engine.decide(web1, 'hostname 2>/dev/null --all');
    expect(d.segments[0]?.text).toBe('hostname --all');
    expect(d.allowed).toBe(false);
  });

  it('allows a redirection, a substitution or an env prefix only through a rule that names it', () => {
    expect(allowed('journalctl -u nginx > /tmp/journal.txt')).toBe(true);
    expect(allowed('journalctl -u nginx > /tmp/other.txt')).toBe(false);
    expect(allowed('echo $(date)')).toBe(true);
    expect(allowed('echo $(reboot)')).toBe(false);
    const d = engine.decide(web1, 'ls > /tmp/x');
    expect(d.segments[0]?.reason).toMatch(/redirection, which rule "diagnostics" does not name literally/);
  });

  it('checks the commands inside an explicitly allowed substitution on their own', () => {
    const d = engine.decide(web1, 'echo $(date)');
    expect(d.segments.map((s) => [s.text, s.nested])).toEqual([
      ['echo $(date)', false],
      ['date', true],
    ]);
  });

  it('applies a rule only to the aliases and tags it names', () => {
    expect(allowed('sudo systemctl reload nginx', web1)).toBe(true);
    expect(allowed('sudo systemctl reload nginx', db1)).toBe(false);
    expect(allowed('pg_isready', db1)).toBe(true);
    expect(allowed('pg_isready', web1)).toBe(false);
  });

  it('lets a wrapper such as sudo or sh through only a rule that names it, never through "*"', () => {
    const lab = { alias: 'lab1', tags: [] };
    expect(allowed('uptime', lab)).toBe(true);
    expect(allowed('sudo uptime', lab)).toBe(false);
    expect(allowed('sh -c uptime', lab)).toBe(false);
    expect(allowed('xargs uptime', lab)).toBe(false);
    expect(allowed('env FOO=1 printenv FOO', web1)).toBe(true);
  });
});

describe('deny rules', () => {
  it('win over any allow rule, whatever the order', () => {
    const lab = { alias: 'lab1', tags: [] };
    const d = engine.decide(lab, 'reboot now');
    expect(d.allowed).toBe(false);
    expect(d.segments[0]?.rule).toBe('no reboot');
    expect(d.matched_rules.map((r) => r.name).sort()).toEqual(['everything, for wrapper tests', 'no reboot']);
  });

  it('also catch a command by its base name and behind wrappers', () => {
    const lab = { alias: 'lab1', tags: [] };
    expect(engine.decide(lab, '/usr/sbin/reboot').segments[0]?.rule).toBe('no reboot');
    expect(engine.decide(web1, 'sudo -n reboot').segments[0]?.rule).toBe('no reboot');
  });

  it('deny a command containing a deny substring, raw or normalised', () => {
    expect(engine.decide(web1, 'echo secret-token').reason).toMatch(/denied substring "secret-token"/);
    expect(engine.decide(web1, "echo secret'-'token").reason).toMatch(/denied substring/);
    expect(engine.decide(web1, 'rm  -rf   /').reason).toMatch(/denied substring "rm -rf \/"/);
  });
});

describe('limits', () => {
  it('take the smallest value among the host tags, then the alias override', () => {
    expect(engine.decide(web1, 'uptime').limits).toMatchObject({ max_seconds: 20, max_output_bytes: 4096 });
    expect(engine.decide(db1, 'uptime').limits).toMatchObject({ max_seconds: 90, max_output_bytes: 1048576 });
    expect(engine.decide({ alias: 'x', tags: [] }, 'uptime').limits.max_seconds).toBe(60);
  });
});

describe('commands found to slip past the policy in review', () => {
  const BYPASS_POLICY = `
rules:
  - { name: heredocs, action: allow, commands: ["cat <<*", "grep * <<*", "wc -l <<< *"] }
  - { name: blank lines, action: allow, commands: ["grep -c '^$' *"] }
  - { name: logs, action: allow, commands: ["head -n *", "tail -n * /var/log/*"] }
  - { name: secrets, action: deny, commands: ["*/etc/shadow*", "*/../*"] }
`;
  let bypass: PolicyEngine;
  beforeAll(async () => {
    bypass = await engineFromYaml(BYPASS_POLICY);
  });
  const denied: [string, string][] = [
    ['a heredoc delimiter that is an expansion', 'cat <<$x\n$(reboot)\n$x'],
    ['a heredoc the grammar ends at an indented delimiter', 'cat <<EOF\n EOF\ncat <<Z\nEOF\nreboot\nZ'],
    ['a heredoc the grammar ends at a quoted spelling', 'cat <<E"O"F\nx\nEOF\nreboot\nE"O"F'],
    ['an unquoted heredoc body with a substitution', 'cat <<EOF\n`reboot`\nEOF'],
    ['a file redirection passed off as a heredoc', 'grep "" >~/.bashrc <<EOF\nreboot\nEOF'],
    ['a file redirection passed off as a here-string', 'wc -l <<< x >/etc/cron.d/x'],
    ['arithmetic that evaluates a variable holding a substitution', "grep -c '^$' ${x:='a[$(reboot)]'} $((x))"],
    ['a substring offset, evaluated as arithmetic', "grep -c '^$' ${y:x}"],
    ['a wildcard spelling a denied path', 'head -n 100 /etc/shado?'],
    ['a wildcard spelling a path traversal', 'tail -n 5 /var/log/.?/.?/etc/shado?'],
  ];
  for (const [what, command] of denied) {
    it(`denies ${what}`, () => {
      expect(bypass.decide(web1, command).allowed).toBe(false);
    });
  }

  it('still allows a plain heredoc with a quoted or a plain delimiter', () => {
    expect(bypass.decide(web1, "cat <<'EOF'\nhello $x\nEOF").allowed).toBe(true);
    expect(bypass.decide(web1, 'cat <<EOF\nhello\nEOF').allowed).toBe(true);
  });
});

describe('a terminal (tty: true)', () => {
  const TTY_POLICY = `
rules:
  - { name: diagnostics, action: allow, commands: ["uptime", "top -b -n *", "ls *", "grep *", "echo $(*)", "sh -c *"] }
  - { name: terminal programs, action: allow, tty: true, commands: ["top", "htop -C", "uptime", "tput cols"] }
  - { name: no htop on db, action: deny, aliases: ["db*"], commands: ["htop*"] }
deny_substrings: ["secret-token"]
`;
  let tty: PolicyEngine;
  beforeAll(async () => {
    tty = await engineFromYaml(TTY_POLICY);
  });

  it('allows a command with a terminal when a rule with tty: true allows it', () => {
    const d = tty.decide(web1, 'htop -C');
    expect(d).toMatchObject({ allowed: true, tty_allowed: true });
    expect(d.segments).toMatchObject([{ text: 'htop -C', tty: true, rule: 'terminal programs' }]);
  });

  it('allows a command without one when its rule does not say tty: true', () => {
    const d = tty.decide(web1, 'ls /tmp');
    expect(d).toMatchObject({ allowed: true, tty_allowed: false, segments: [{ tty: false }] });
  });

  it('takes any matching allow rule with tty: true, not only the first that matched, and names it', () => {
    const d = tty.decide(web1, 'uptime');
    expect(d).toMatchObject({ allowed: true, tty_allowed: true, segments: [{ rule: 'diagnostics', tty: true }] });
    expect(d.segments[0]?.reason).toContain('with a terminal by allow rule "terminal programs" (pattern "uptime")');
  });

  it('needs every simple command to be allowed with a terminal, nested ones included', () => {
    expect(tty.decide(web1, 'top | grep x')).toMatchObject({ allowed: true, tty_allowed: false });
    expect(tty.decide(web1, 'uptime; top')).toMatchObject({ allowed: true, tty_allowed: true });
    expect(tty.decide(web1, 'echo $(ls /)')).toMatchObject({ allowed: true, tty_allowed: false });
    expect(tty.decide(web1, "sh -c 'top; ls /'")).toMatchObject({ allowed: true, tty_allowed: false });
    expect(tty.decide(web1, "sh -c 'top; uptime'")).toMatchObject({ allowed: true, tty_allowed: false });
  });

  it('keeps a deny a deny: a deny rule, a denied substring and a part no rule allows', () => {
    expect(tty.decide(db1, 'htop -C')).toMatchObject({ allowed: false, tty_allowed: false, segments: [{ tty: false }] });
    expect(tty.decide(web1, 'top secret-token')).toMatchObject({ allowed: false, tty_allowed: false });
    expect(tty.decide(web1, 'top; reboot')).toMatchObject({ allowed: false, tty_allowed: false });
    expect(tty.decide(web1, "top '")).toMatchObject({ allowed: false, tty_allowed: false });
  });

  it('gives no command a terminal under a policy without tty: true', () => {
    for (const command of ['uptime', 'ls /', 'echo $(date)', 'journalctl -u * > /tmp/journal.txt']) {
      expect(engine.decide(web1, command).tty_allowed).toBe(false);
    }
  });
});
