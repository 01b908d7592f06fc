/**
 * Names the class of trouble a hit belongs to, from the text of the line, so a run's hits can be
 * counted by what the engine must learn. The first class that matches wins, in the order below:
 * the ways the grammar misreads the line come first (they hide everything after them), then the
 * builtins that run their arguments, then the wrappers. A hit that matches none is `other`, to be
 * looked at by hand.
 */
import type { Shell } from './engine.js';

export interface HitClass {
  name: string;
  /** What the engine misses, in one sentence. */
  what: string;
  test: (line: string, shell: Shell) => boolean;
}

const WRAPPER = '(?:timeout|env|nice|nohup|sudo|xargs|command|builtin)';
/** A wrapper, its options, numbers, assignments and further wrappers, then a word with a wildcard. */
const WRAPPED_GLOB = new RegExp(`(?:^|[\\s;&|])${WRAPPER}\\s+(?:(?:-\\S*|\\d\\S*|[A-Z]+|\\w+=\\S*|${WRAPPER})\\s+)*[^\\s-]\\S*[?*[]`);

/** An unescaped backslash (one preceded by an even number of backslashes), then `tail`. */
const escaped = (tail: string) => new RegExp(`(?:^|[^\\\\])(?:\\\\\\\\)*\\\\${tail}`);

export const CLASSES: readonly HitClass[] = [
  {
    name: 'escaped-blank-comment',
    what: 'after a backslash-escaped blank (\\<space>, \\<tab>) a # is part of the word to the shell; the grammar starts a comment there',
    test: (l) => escaped('[ \\t]#').test(l),
  },
  {
    name: 'fd-op-comment',
    what: 'in <&-# / >&-# / 2>&1# the # is part of the redirection word to the shell (dash: always); the grammar starts a comment',
    test: (l) => /[<>]&[-0-9]*#/.test(l),
  },
  {
    name: 'dash-ampersand-redirect',
    what: 'dash reads &> as & (background) then >: the words after the target are a second command',
    test: (l, shell) => shell === 'sh' && /&>/.test(l),
  },
  {
    name: 'test-operator-words',
    what: 'a == / =~ / != word outside [[ ]] is an argument to the shell; the grammar reads a test expression that swallows the newline and what follows',
    test: (l) => /(?:^|[\s;&|])(?:==|=~|!=)(?:$|[\s;&|\\])/.test(l),
  },
  {
    name: 'nested-backquote',
    what: 'an escaped backquote inside backquotes opens a nested command substitution; the grammar reads a literal',
    test: (l) => /`[^`]*\\`/.test(l),
  },
  {
    name: 'backquote-in-expansion',
    what: 'backquotes in the word of ${x-…} / ${x:-…} / ${x=…} run when the expansion is taken; the grammar sees no substitution there',
    test: (l) => /\$\{[^}]*`/.test(l),
  },
  {
    name: 'multi-digit-fd',
    what: 'dash takes only one digit as a redirection fd: 12>x is the word 12 then >x',
    test: (l, shell) => shell === 'sh' && /(?:^|[\s;&|])\d{2,}[<>]/.test(l),
  },
  {
    name: 'wrapped-glob',
    what: 'a wildcard in the name of a command run by a wrapper (timeout 5 /usr/bin/tou?h, find -exec /bin/tou[c]h) is not matched against deny rules',
    test: (l) => WRAPPED_GLOB.test(l) || /-(?:exec|execdir|ok)\s+\S*[?*[]/.test(l),
  },
  {
    name: 'bracket-glob',
    what: 'a bracket expression with a class, equivalence class or collating symbol ([[:alpha:]], [[=c=]], [[.c.]]) or a leading ] is one character to the shell; the engine ends it at its first ], so deny rules miss the names it matches',
    test: (l) => /\[(?:\[[:=.]|!?\]|\^\])/.test(l),
  },
  {
    name: 'dropped-word',
    what: 'a word the grammar gives no argument node (the word after a closed fd: <&- x; a lone $) is dropped from argv, so deny rules never see it; the shell passes it',
    test: (l) => /[<>]&-(?:[ \t]*[^\s#;&|<>])/.test(l) || /(?:^|[\s;&|])\$(?=$|[\s;&|])/.test(l),
  },
  {
    name: 'alias',
    what: 'an alias defined on one line changes what a later line runs (dash always expands aliases; bash with expand_aliases)',
    test: (l) => /(?:^|[\s;&|])alias\s/.test(l),
  },
  {
    name: 'hash-p',
    what: 'hash -p binds a command name to any file: a later allowed name runs it',
    test: (l) => /(?:^|[\s;&|])hash\s[^\n;|&]*-p/.test(l),
  },
  {
    name: 'callback-option',
    what: 'mapfile/readarray -C, compgen/complete -C and -F run their argument as a command',
    test: (l) => /(?:^|[\s;&|])(?:mapfile|readarray|compgen|complete)\s[^\n;|&]*-[A-Za-z]*[CF]/.test(l),
  },
  {
    name: 'compgen-wordlist',
    what: 'compgen -W (and -X, -P, -S) expands its argument: a quoted $(…) runs',
    test: (l) => /(?:^|[\s;&|])compgen\s[^\n;|&]*-[WXPS]/.test(l),
  },
  {
    name: 'subscript-evaluation',
    what: "a name argument with an array subscript (printf -v, test -v, read, let, unset, getopts, wait -p…) is evaluated as arithmetic: a quoted 'a[$(…)]' runs",
    test: (l) => /[A-Za-z_]\w*['"\\]*\[[^\]\n]*(?:\$['"\\]*\(|`)/.test(l),
  },
  {
    name: 'nested-runner',
    what: 'a command runner (sh -c, bash -c, perl -e, python3 -c, awk, eval, find -exec …) behind a named wrapper need not be named itself',
    test: (l) =>
      /(?:^|[\s;&|])(?:timeout|env|nice|nohup|sudo|xargs|find|command|builtin)\s(?:[^\n;|&]*[\s'"\\])?(?:\/bin\/)?(?:sh|bash|dash|python3|perl|awk|eval|source|exec|trap|\.)(?=[\s'"\\]|$)/.test(l),
  },
  {
    name: 'heredoc',
    what: 'a heredoc or here-string read otherwise by the shell',
    test: (l) => /<</.test(l),
  },
];

export function classify(line: string, shell: Shell): string {
  return CLASSES.find((c) => c.test(line, shell))?.name ?? 'other';
}
