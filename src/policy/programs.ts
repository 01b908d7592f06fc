/**
 * What the engine knows of programs that run other code: which words of a command may be run as
 * commands (behind a wrapper), which arguments are code (a shell's `-c` string, an interpreter's
 * `-e`, an awk program), and which bash builtins evaluate their arguments. decide.ts asks; the
 * tables themselves are in builtin.ts, where a reviewer reads them.
 */
import { posix } from 'node:path';
import { CODE_FLAGS, EVALUATING_BUILTINS, PROGRAM_OPERAND, SHELL_DIALECTS, WRAPPER_COMMANDS } from './builtin.js';
import type { Dialect } from './lexer.js';

export function commandName(word: string): string {
  return posix.basename(word);
}

/** A word that runs other commands or evaluates its arguments: an allow rule must name it literally. */
export function mustBeNamed(word: string): boolean {
  const name = commandName(word);
  return WRAPPER_COMMANDS.has(name) || EVALUATING_BUILTINS.has(name);
}

/**
 * Where a command may start in `argv`: the first word, and when that word is a wrapper, every
 * later word (sudo, timeout, find -exec … each parse their own options; the engine does not
 * guess which word they run, so it treats each as a possible command).
 */
export function commandPositions(argv: readonly string[]): number[] {
  if (argv.length === 0) return [];
  if (!WRAPPER_COMMANDS.has(commandName(argv[0] as string))) return [0];
  return argv.map((_, i) => i);
}

export interface CodeArgument {
  /** The index in argv of the word a rule must name literally: the code flag, or the program. */
  index: number;
  /** For sh and bash: the index of the `-c` string and the dialect it is read in, to be judged as a command. */
  shell?: { index: number; dialect: Dialect };
}

/**
 * The code arguments of the command that starts at `argv[at]`. Every later word is looked at,
 * not only the options before the first operand: an interpreter's options may take values
 * (`python3 -W ignore -c …`), and reading too much only means a rule must name more.
 */
export function codeArguments(argv: readonly string[], at: number): CodeArgument[] {
  const name = commandName(argv[at] as string);
  const out: CodeArgument[] = [];
  const dialect = SHELL_DIALECTS[name];
  if (dialect) {
    const call = shellCall(argv, at);
    if (call.c && call.operand !== undefined) out.push({ index: call.operand, shell: { index: call.operand, dialect } });
    else if (call.c) out.push({ index: at });
  }
  const flags = CODE_FLAGS[name] ?? [];
  for (let i = at + 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (flags.some((f) => isFlag(a, f))) out.push({ index: i });
  }
  const program = PROGRAM_OPERAND[name];
  if (program && !argv.slice(at + 1).some((a) => program.inline.some((f) => isFlag(a, f)))) {
    let i = at + 1;
    while (i < argv.length && (argv[i] as string).startsWith('-') && argv[i] !== '-') {
      if (argv[i] === '--') {
        i++;
        break;
      }
      i += program.valued.includes(argv[i] as string) ? 2 : 1;
    }
    if (i < argv.length) out.push({ index: i });
  }
  return out;
}

/**
 * How a shell is called: sh [-abefhmnuvx] [-o opt]… [-c] [more options] [operand…]. The options
 * end at the first word that is not one (long ones, --norc, included) or at `--` or `-`;
 * -o/+o/-O/+O and bash's --rcfile and --init-file take the next word. With -c the first operand
 * is code; without, it is a script file, and with none (or with -s) the shell reads its commands
 * from standard input.
 */
export function shellCall(argv: readonly string[], at: number): { c: boolean; s: boolean; operand?: number } {
  let i = at + 1;
  let c = false;
  let s = false;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--' || a === '-') {
      i++;
      break;
    }
    if (!/^[-+]./.test(a)) break;
    if (/^-[A-Za-z]*c/.test(a)) c = true;
    if (/^-[A-Za-z]*[si]/.test(a)) s = true;
    if (/^[-+][A-Za-z]*[oO]$/.test(a) || a === '--rcfile' || a === '--init-file') i++;
  }
  return { c, s, operand: i < argv.length ? i : undefined };
}

/** Whether `arg` gives `flag`: `--eval` or `--eval=…`, or a short flag alone or in a bundle (`-lne`). */
function isFlag(arg: string, flag: string): boolean {
  if (flag.startsWith('--')) return arg === flag || arg.startsWith(`${flag}=`);
  if (arg.startsWith('--') || !arg.startsWith('-')) return false;
  return arg.slice(1).includes(flag.slice(1));
}

const SUBSCRIPT_BUILTINS = new Set(['read', 'mapfile', 'readarray', 'getopts', 'wait', 'unset', 'declare', 'typeset', 'local', 'export', 'readonly']);

/**
 * A builtin call that evaluates an argument as arithmetic: bash evaluates an array subscript in a
 * variable name (`printf -v 'a[$(reboot)]'`, `read 'a[…]'`, `test -v 'a[…]'`), and `let` always.
 * Never allowed, like every other arithmetic evaluation. Returns why, or undefined.
 */
export function evaluationProblem(argv: readonly string[], at: number): string | undefined {
  const name = commandName(argv[at] as string);
  const args = argv.slice(at + 1);
  const subscript = (a: string) => a.includes('[');
  if (name === 'let') return 'let, which evaluates arithmetic';
  if (name === 'fc') return 'fc, which runs commands from the history or an editor';
  if (SHELL_DIALECTS[name] || CODE_FLAGS[name]?.includes('-c') === true && /sh$/.test(name)) {
    const call = shellCall(argv, at);
    if (!call.c && (call.s || call.operand === undefined)) return `${name} reading its commands from standard input, which the engine cannot see`;
  }
  // dash (and bash with expand_aliases) expands aliases while reading later lines: the engine
  // would judge `ls x` where the shell runs what the alias says.
  if (name === 'alias' && args.some((a) => a.includes('='))) return 'an alias definition, which changes how later commands are read';
  if (SUBSCRIPT_BUILTINS.has(name) && args.some(subscript)) return `${name} with an array subscript, which bash evaluates as arithmetic`;
  if (name === 'printf') {
    const v = args.findIndex((a) => a.startsWith('-v'));
    const target = v === -1 ? undefined : args[v] === '-v' ? args[v + 1] : args[v]?.slice(2);
    if (target !== undefined && subscript(target)) return 'printf -v with an array subscript, which bash evaluates as arithmetic';
  }
  if ((name === 'test' || name === '[') && args.some((a) => a === '-v' || a === '-R') && args.slice(0, name === '[' ? -1 : undefined).some(subscript)) {
    return `${name} -v with an array subscript, which bash evaluates as arithmetic`;
  }
  return undefined;
}
