/**
 * Names the class of trouble a hit belongs to, so a run's hits can be counted by what the engine
 * must learn. Each class recognises its signature in the line; the classes that read the line
 * differently from the shell also know a repair: the line rewritten so that the engine reads it
 * as the shell does (`\<tab>#` → `\<tab>\#`, `&>` → `& >` for dash, a bracket class → `?`).
 *
 * When a line shows several signatures, the cause is the first class whose repair alone makes the
 * engine deny the line: in `echo ==⏎cat SEC[[:upper:]]ET` the == joins the lines, but the secret
 * is read because of the bracket class. Without a way to ask the engine, or when no single repair
 * does it, the first matching class wins, in the order below: grammar misreadings first (they hide
 * what follows), then builtins that run their arguments, then wrappers. A hit that matches no
 * class is `other`, to be looked at by hand.
 */
import type { Shell } from './engine.js';

export interface HitClass {
  name: string;
  /** What the engine misses, in one sentence. */
  what: string;
  test: (line: string, shell: Shell) => boolean;
  /** The line as the engine would have to read it to see what the shell runs. */
  repair?: (line: string, shell: Shell) => string;
}

const WRAPPER = '(?:timeout|env|nice|nohup|sudo|xargs|command|builtin)';
/** A wrapper, its options, numbers, assignments and further wrappers, then a word with a wildcard. */
const WRAPPED_GLOB = new RegExp(`(?:^|[\\s;&|])${WRAPPER}\\s+(?:(?:-\\S*|\\d\\S*|[A-Z]+|\\w+=\\S*|${WRAPPER})\\s+)*[^\\s-]\\S*[?*[]`);
/** An unescaped backslash (after an even number of backslashes), then a blank, then #. */
const ESCAPED_BLANK_HASH = /((?:^|[^\\])(?:\\\\)*\\[ \t])#/g;
const FD_OP_HASH = /([<>]&[-0-9]*)#/g;
const TEST_WORD = /(^|[\s;&|])(==|=~|!=)(?=$|[\s;&|\\])/g;
const SPECIAL_BRACKET = /\[(?:\[[:=.]|!?\]|\^\])/;

/** Every bracket expression `[…]` (classes, equivalence classes, collating symbols, a leading `]`) as `?`. */
function bracketsAsQuestionMarks(line: string): string {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const end = line[i] === '[' ? bracketEnd(line, i) : -1;
    if (end === -1) out += line[i];
    else {
      out += '?';
      i = end;
    }
  }
  return out;
}

/** The index of the `]` that closes the bracket expression opened at `start`, or -1. */
function bracketEnd(s: string, start: number): number {
  let i = start + 1;
  if (s[i] === '!' || s[i] === '^') i++;
  if (s[i] === ']') i++;
  while (i < s.length) {
    const c = s[i];
    if (c === ']') return i;
    if (c === '/' || c === '\n' || c === ' ') return -1;
    if (c === '[' && (s[i + 1] === ':' || s[i + 1] === '=' || s[i + 1] === '.')) {
      const close = s.indexOf(`${s[i + 1]}]`, i + 2);
      if (close === -1) return -1;
      i = close + 2;
    } else i++;
  }
  return -1;
}

export const CLASSES: readonly HitClass[] = [
  {
    name: 'escaped-blank-comment',
    what: 'after a backslash-escaped blank (\\<space>, \\<tab>) a # is part of the word to the shell; the grammar starts a comment there',
    test: (l) => new RegExp(ESCAPED_BLANK_HASH.source).test(l),
    repair: (l) => l.replace(ESCAPED_BLANK_HASH, '$1\\#'),
  },
  {
    name: 'fd-op-comment',
    what: 'in <&-# / >&-# / 2>&1# the # is part of the redirection word to the shell (dash: always); the grammar starts a comment',
    test: (l) => new RegExp(FD_OP_HASH.source).test(l),
    repair: (l) => l.replace(FD_OP_HASH, '$1\\#'),
  },
  {
    name: 'dash-ampersand-redirect',
    what: 'dash reads &> as & (background) then >: the target is created, and the words after it are a second command',
    test: (l, shell) => shell === 'sh' && /&>/.test(l),
    repair: (l, shell) => (shell === 'sh' ? l.replace(/&>/g, '& >') : l),
  },
  {
    name: 'test-operator-words',
    what: 'a == / =~ / != word outside [[ ]] is an argument to the shell; the grammar reads a test expression that swallows the newline and what follows',
    test: (l) => new RegExp(TEST_WORD.source).test(l),
    repair: (l) => l.replace(TEST_WORD, "$1'$2'"),
  },
  {
    name: 'nested-backquote',
    what: 'an escaped backquote inside backquotes opens a nested command substitution; the grammar reads a literal',
    test: (l) => /`[^`]*\\`/.test(l),
    repair: (l) => l.replace(/\\`([^`\\]*)\\`/g, '$($1)'),
  },
  {
    name: 'backquote-in-expansion',
    what: 'backquotes in the word of ${x-…} / ${x:-…} / ${x=…} run when the expansion is taken; the grammar sees no substitution there',
    test: (l) => /\$\{[^}]*`/.test(l),
    repair: (l) => l.replace(/(\$\{[^}`]*)`([^`]*)`/g, '$1$($2)'),
  },
  {
    name: 'multi-digit-fd',
    what: 'dash takes only one digit as a redirection fd: 12>x is the word 12 then >x',
    test: (l, shell) => shell === 'sh' && /(?:^|[\s;&|])\d{2,}[<>]/.test(l),
    repair: (l, shell) => (shell === 'sh' ? l.replace(/((?:^|[\s;&|])\d{2,})([<>])/g, '$1 $2') : l),
  },
  {
    name: 'wrapped-glob',
    what: 'a wildcard in the name of a command run by a wrapper (timeout 5 /usr/bin/tou?h, find -exec /bin/tou[c]h) is not matched against deny rules',
    test: (l) => WRAPPED_GLOB.test(l) || /-(?:exec|execdir|ok)\s+\S*[?*[]/.test(l),
  },
  {
    name: 'bracket-glob',
    what: 'a bracket expression with a class, equivalence class or collating symbol ([[:alpha:]], [[=c=]], [[.c.]]) or a leading ] is one character to the shell; the engine ends it at its first ], so deny rules miss the names it matches',
    test: (l) => SPECIAL_BRACKET.test(l),
    repair: bracketsAsQuestionMarks,
  },
  {
    name: 'dropped-word',
    what: 'a word the grammar gives no argument node (the word after a closed fd: <&- x, <&-*; a lone $) is dropped from argv, so deny rules never see it; the shell passes it',
    test: (l) => /[<>]&-[ \t]*[^\s#;&|<>]/.test(l) || /(?:^|[\s;&|])\$(?=$|[\s;&|])/.test(l),
    repair: (l) => l.replace(/[<>]&-([ \t]*[^\s#;&|<>])/g, ' $1').replace(/(^|[\s;&|])\$(?=$|[\s;&|])/g, "$1'$'"),
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
      /(?:^|[\s;&|])(?:timeout|env|nice|nohup|sudo|xargs|find|command|builtin)\s(?:[^\n;|&]*[\s'"\\])?(?:\/bin\/)?(?:sh|bash|dash|python3|perl|awk|eval|source|exec|trap|\.)(?=[\s'"\\]|$)/.test(
        l,
      ),
  },
  {
    name: 'heredoc',
    what: 'a heredoc or here-string read otherwise by the shell',
    test: (l) => /<</.test(l),
  },
];

/**
 * The class of a hit. `allowed`, when given, asks the engine (as the policies that allowed the
 * hit did) whether it allows a rewritten line; with it, the cause among several signatures is the
 * first whose repair alone gets the line denied.
 */
export function classify(line: string, shell: Shell, allowed?: (line: string) => boolean): string {
  const matching = CLASSES.filter((c) => c.test(line, shell));
  if (matching.length > 1 && allowed) {
    const cause = matching.find((c) => c.repair && !allowed(c.repair(line, shell)));
    if (cause) return cause.name;
  }
  return matching[0]?.name ?? 'other';
}
