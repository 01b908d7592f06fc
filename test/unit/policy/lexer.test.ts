import { describe, expect, it } from 'vitest';
import { lex, type Dialect } from '../../../src/policy/lexer.js';
import { shellParser } from '../../../src/commands/context.js';

/** The tokens of each simple command as text, nested commands included, in source order. */
function words(command: string, dialect: Dialect = 'bash'): string[][] {
  const lexed = lex(command, dialect);
  if (!lexed.ok) throw new Error(lexed.reason);
  return lexed.commands.map((c) => c.map((t) => command.slice(t.start, t.end)));
}

describe('the strict lexer', () => {
  it('reads words, quotes and escapes as the shell does', () => {
    expect(words(`echo 'a b' "c d" e\\ f g#h`)).toEqual([['echo', "'a b'", '"c d"', 'e\\ f', 'g#h']]);
  });

  it('starts a comment only at the start of a token', () => {
    const lexed = lex('echo a\\ #b; touch x # c', 'bash');
    expect(lexed.ok && lexed.commands.length).toBe(2);
    expect(lexed.ok && lexed.others.filter((t) => t.kind === 'comment').map((t) => [t.start, t.end])).toEqual([[20, 23]]);
  });

  it('reads a redirection glued to # as an operator and a word, not a comment', () => {
    expect(words('uptime <&-#;touch x')).toEqual([
      ['uptime', '<&', '-#'],
      ['touch', 'x'],
    ]);
  });

  it('reads &> and |& as bash operators, and as & followed by > or | in sh', () => {
    expect(words('ls &>/dev/null', 'bash')).toEqual([['ls', '&>', '/dev/null']]);
    expect(words('ls &>/dev/null', 'sh')).toEqual([['ls'], ['>', '/dev/null']]);
    expect(words('ls |& cat', 'sh')).toEqual([['ls'], ['cat']]);
  });

  it('reads substitutions inside words as commands of their own', () => {
    expect(words('echo a$(uptime)b "$(date)" `id`')).toEqual([['uptime'], ['date'], ['id'], ['echo', 'a$(uptime)b', '"$(date)"', '`id`']]);
    expect(words('cat a<(ls)')).toEqual([['ls'], ['cat', 'a<(ls)']]);
  });

  it('reads heredoc bodies as data up to the exact end line', () => {
    expect(words("cat <<'EOF' | grep a\nreboot\n EOF\nEOF\nls")).toEqual([['cat', '<<', "'EOF'"], ['grep', 'a'], ['ls']]);
  });

  it.each([
    ['echo $((1+1))', 'arithmetic expansion'],
    ["echo $'\\x41'", 'ANSI-C quoting'],
    ['echo ${x/a/b}', 'parameter expansion'],
    ['echo `echo \\`id\\``', 'backslash inside backquotes'],
    ['cat <<EOF', 'heredoc'],
    ["echo 'oops", 'unbalanced single quote'],
    ['ls {fd}>/dev/null', 'named file descriptor'],
  ])('refuses what it does not model: %s', (command, reason) => {
    const lexed = lex(command, 'bash');
    expect(lexed.ok).toBe(false);
    expect(!lexed.ok && lexed.reason).toContain(reason);
  });
});

describe('the grammar and the shell must agree', () => {
  const parse = async (command: string, dialect: Dialect = 'bash') => (await shellParser()).parse(command, dialect);

  it.each(['echo a\\\t#b; touch x', 'uptime <&-#;touch x', 'uptime >&-#;touch x'])(
    'denies a line the grammar and bash split differently: %j',
    async (command) => {
      const r = await parse(command);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.reason).toMatch(/would split|cannot be judged/);
    },
  );

  it.each(['ls &>/dev/null', 'ls |& cat', 'cat <<< x', 'cat <(ls)'])(
    'denies bash-only operators for a host pinned to sh: %j',
    async (command) => {
      expect((await parse(command, 'bash')).ok).toBe(true);
      expect((await parse(command, 'sh')).ok).toBe(false);
    },
  );

  it('keeps every word of a command, == and =~ included', async () => {
    const r = await parse('echo x == y =~ z');
    expect(r.ok && r.segments[0]?.argv).toEqual(['echo', 'x', '==', 'y', '=~', 'z']);
  });

  it.each([
    'uptime',
    "grep -c 'upstream timed out' /var/log/nginx/error.log",
    'journalctl -u nginx -n 500 | grep error | wc -l',
    'df -h 2>/dev/null',
    'ls 2>&1 >&2 <&- 2>&-',
    "cat <<'EOF' | grep a\nbody\nEOF",
    'echo $(date) `id` "$(hostname)"',
    'FOO=1 env',
    'echo ${HOME} $HOME ${x:-default} $1 $@',
    'uptime # a comment',
    'a && b || c & d; e\nf',
  ])('agrees on an ordinary command: %j', async (command) => {
    const r = await parse(command);
    expect(r.ok ? r.segments.filter((s) => s.unsupported) : r.reason).toEqual([]);
  });
});
