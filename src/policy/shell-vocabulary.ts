/**
 * The shell vocabulary that command generators share: a seeded way to spell a word in every
 * quoting style, and the separators, redirection operators, expansions, shells given code and
 * wrappers a hostile command is made of. The differential fuzzer (test/fuzz/generate.ts) builds
 * its lines from them, and `policy diff` its commands around a changed pattern (pattern-fuzz.ts):
 * one vocabulary, so a review sees the spellings the fuzzer proved the engine against.
 */
import type { Rng } from './rng.js';

/** Items with their weights, for Rng.weighted. */
export type Weighted<T> = readonly (readonly [number, T])[];

const BACKSLASHED = new Set([...' \t\'"\\$`;&|<>()[]*?#~{}!=']);

/** A spelling of `value` as one shell word (in bash; dash reads some of them otherwise). */
export function spell(r: Rng, value: string): string {
  const styles: Weighted<() => string> = [
    [3, () => (/^[A-Za-z0-9_./%+,:@=-]+$/.test(value) ? value : single(value))],
    [3, () => single(value)],
    [2, () => double(value)],
    [2, () => backslashed(value)],
    [2, () => mixed(r, value)],
    [1, () => `$'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`],
    [0.5, () => `$"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`],
  ];
  return r.weighted(styles)();
}

function single(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function double(value: string): string {
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

function backslashed(value: string): string {
  return [...value].map((c) => (c === '\n' ? `'\n'` : BACKSLASHED.has(c) ? `\\${c}` : c)).join('');
}

function mixed(r: Rng, value: string): string {
  if (value.length < 2) return single(value);
  const cut = 1 + r.int(value.length - 1);
  const parts = [value.slice(0, cut), value.slice(cut)];
  return parts.map((p) => r.pick([single, double, backslashed])(p)).join('');
}

/** Separators between commands, and things that look like them. */
export const SEPARATORS: Weighted<string> = [
  [6, ';'],
  [2, '; '],
  [5, '\n'],
  [2, ' && '],
  [1, '&&'],
  [2, ' || '],
  [2, ' | '],
  [1, '|'],
  [1, ' |& '],
  [2, ' & '],
  [1, '&'],
  [1, ';;'],
  [1, ';&'],
  [1, ';;&'],
  [1, '\n\n'],
  [1, ' '],
  [1, ''],
  [1, '\t'],
];

/** Every redirection operator (test/fuzz/generate.ts adds fd numbers and targets). */
export const REDIR_OPS: readonly string[] = ['<', '>', '>>', '>|', '<>', '<&', '>&', '&>', '&>>', '<<<', '<<', '<<-', '<&-', '>&-'];

/** Parameter expansions, arithmetic and special parameters, quoted and not. */
export const EXPANSIONS: readonly string[] = [
  '$x',
  '${x}',
  '${x:-a}',
  '${x-a}',
  '${x:=a}',
  '${x:+a}',
  '${#x}',
  '${x#a}',
  '${x%a}',
  '${x/a/b}',
  '${x@Q}',
  '${x@P}',
  '$1',
  '$@',
  '$*',
  '$#',
  '$?',
  '$$',
  '$!',
  '$-',
  '$0',
  '$_',
  '${!x}',
  '${x:1}',
  '${x[0]}',
  '$((1+1))',
  '$[1+1]',
  '$((a[1]))',
  '"$x"',
  "'$x'",
  '\\$x',
  '$IFS',
  '${IFS}',
];

/** A shell given code with -c, its options before and after the -c (bash --norc -c, sh -c -e, bash -c -). */
export const SHELL_C: readonly string[] = [
  'sh -c',
  'bash -c',
  'dash -c',
  '/bin/sh -c',
  '/bin/bash -c',
  'sh -e -c',
  'bash --norc -c',
  'bash -o posix -c',
  'bash --rcfile /dev/null -c',
  'bash -O extglob -c',
  'sh -c -e',
  'bash -c -',
  'sh -c --',
  'sh -ec',
  'bash -xc',
  'bash -lc',
  'sh -- -c',
  'bash - -c',
];

/** Wrappers as a command usually starts with them, options and all, each running the command after it. */
export const WRAPPERS: readonly string[] = [
  'timeout 5',
  'timeout -s KILL 5',
  'timeout 5s',
  'env',
  'env -i',
  'env X=1',
  'env --',
  'nice',
  'nice -n 5',
  'nohup',
  'sudo',
  'sudo -n',
  'sudo --',
  'command',
  'builtin',
  'command -p',
  'exec',
  'nice timeout 5',
  'timeout 5 env',
];
