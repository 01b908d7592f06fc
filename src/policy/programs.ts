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
  const dialect = SHELL_DIALECTS.get(name);
  if (dialect) {
    const call = shellCall(argv, at);
    if (call.c && call.operand !== undefined) out.push({ index: call.operand, shell: { index: call.operand, dialect } });
    else if (call.c) out.push({ index: at });
  }
  const flags = CODE_FLAGS.get(name) ?? [];
  for (let i = at + 1; i < argv.length; i++) {
    const a = argv[i] as string;
    // tar's first word may be a bundle without its dash (tar cIf …).
    const spelled = name === 'tar' && i === at + 1 && !a.startsWith('-') ? `-${a}` : a;
    if (flags.some((f) => isFlag(spelled, f))) out.push({ index: i });
  }
  const program = PROGRAM_OPERAND.get(name);
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

/** Options with which a program runs in, or reads relative paths from, another directory. */
const DIRECTORY_OPTIONS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['env', ['-C', '--chdir']],
  ['tar', ['-C', '--directory']],
  ['sudo', ['-D', '--chdir']],
  ['git', ['-C']],
  ['make', ['-C', '--directory']],
  ['unshare', ['--wd']],
  ['nsenter', ['-w', '--wd']],
  ['systemd-run', ['--working-directory']],
  ['bwrap', ['--chdir']],
]);

/** Whether the command at `at` changes the directory for what follows (cd) or for itself (env -C). */
export function changesDirectory(argv: readonly string[], at: number): boolean {
  const name = commandName(argv[at] as string);
  if (name === 'cd' || name === 'pushd' || name === 'popd') return true;
  const options = DIRECTORY_OPTIONS.get(name) ?? [];
  return argv.slice(at + 1).some((a) => options.some((o) => isFlag(a, o)));
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
    // bash and dash take an option given with + as with -: +c is -c, +s is -s.
    if (/^[-+][A-Za-z]*c/.test(a)) c = true;
    if (/^[-+][A-Za-z]*[si]/.test(a)) s = true;
    // Each o or O of a bundle (-o, -oc, -eOc) takes the next word: an option name.
    if (/^[-+][A-Za-z]+$/.test(a)) i += (a.match(/[oO]/g) ?? []).length;
    else if (a === '--rcfile' || a === '--init-file') i++;
  }
  return { c, s, operand: i < argv.length ? i : undefined };
}

/**
 * A path that may name standard input or a terminal (`-`, /dev/stdin, /dev/fd/0, /proc/self/fd/0,
 * /dev/tty…), however it is spelled: `//dev/stdin`, `/dev/./stdin`, `/proc/self/root/dev/stdin`,
 * and a relative `stdin` or `fd/0` (after a cd) count too.
 */
export function isStdinPath(word: string): boolean {
  if (word === '-') return true;
  let path = posix.normalize(word);
  while (/^\/proc\/[^/]+\/root\//.test(path)) path = path.replace(/^\/proc\/[^/]+\/root/, '');
  return /(^|\/)(stdin|tty[^/]*|fd\/\d+)$/.test(path) || /^\/dev\/(fd|pts)(\/|$)/.test(path);
}

/** Whether `arg` gives `flag`: `--eval` or `--eval=…`, or a short flag alone or in a bundle (`-lne`). */
export function isFlag(arg: string, flag: string): boolean {
  if (flag.startsWith('--')) {
    // getopt_long takes any abbreviation: --split and --sp are --split-string.
    const name = arg.split('=')[0] as string;
    return name.length > 2 && name.startsWith('--') && flag.startsWith(name);
  }
  if (arg.startsWith('--') || !arg.startsWith('-')) return false;
  return arg.slice(1).includes(flag.slice(1));
}

/** Interpreters that read their program from standard input when given no operand and no code flag. */
const INTERPRETERS = new Set([
  'python',
  'python2',
  'python3',
  'python3.11',
  'python3.12',
  'python3.13',
  'pypy',
  'pypy3',
  'perl',
  'perl5',
  'ruby',
  'node',
  'nodejs',
  'php',
  'lua',
  'tclsh',
  'Rscript',
  'julia',
  'bun',
  'deno',
  'guile',
  'sbcl',
  'expect',
  'gdb',
  'sqlite3',
  'dc',
]);
/** Options of interpreters that take the next word as their value (python3 -W ignore). */
const VALUED_OPTIONS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ...['python', 'python2', 'python3', 'python3.11', 'python3.12', 'python3.13', 'pypy', 'pypy3'].map((p): [string, readonly string[]] => [
    p,
    ['-W', '-X', '-Q', '--check-hash-based-pycs'],
  ]),
  ['perl', ['-I', '-m', '-M', '-x', '-C', '-D', '-V']],
  ['perl5', ['-I', '-m', '-M', '-x', '-C', '-D', '-V']],
  ['ruby', ['-I', '-r', '-C', '-E', '-K', '-W', '-x', '--encoding', '--external-encoding', '--internal-encoding']],
  ['node', ['-r', '--require', '--import', '--loader', '--input-type', '--conditions', '-C', '--env-file', '--title']],
  ['nodejs', ['-r', '--require', '--import', '--loader', '--input-type', '--conditions', '-C', '--env-file', '--title']],
  ['php', ['-c', '-d', '-z', '-t']],
  ['lua', ['-l', '-W']],
]);

/**
 * Whether the interpreter is given a program file: a word that is not an option and not the value
 * of one. For an interpreter whose options the engine does not list, every option may take the
 * next word, so only a word after a non-option counts.
 */
function hasProgramOperand(name: string, args: readonly string[]): boolean {
  const valued = VALUED_OPTIONS.get(name);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return i + 1 < args.length;
    if (!a.startsWith('-')) return true;
    if (valued === undefined ? !a.includes('=') && a.length === 2 : valued.includes(a)) i++;
  }
  return false;
}

/** Options that print and exit, for which an interpreter reads nothing. */
const INFO_OPTIONS = new Set(['--version', '-V', '--help', '-h']);
/**
 * Builtins that assign the variables their arguments name. bash evaluates an array subscript in
 * such a name as arithmetic; and assigning an upper-case name (PATH, HOME, IFS, PS4, LC_ALL,
 * OPTIND, RANDOM…) changes how later commands are found, read or evaluated (a value given to an
 * integer variable is evaluated as arithmetic too). Both are never allowed.
 */
const NAME_TAKING = new Set([
  'read',
  'mapfile',
  'readarray',
  'getopts',
  'wait',
  'export',
  'declare',
  'typeset',
  'local',
  'readonly',
  'unset',
]);
const RESERVED_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** The names printf -v assigns: the value of each -v among the options before the format. */
function printfTargets(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--' || !a.startsWith('-')) break;
    if (a === '-v') out.push(args[++i] ?? '');
    else if (a.startsWith('-v')) out.push(a.slice(2));
  }
  return out;
}

/**
 * Why the command that starts at `argv[at]` can never be allowed, whatever a rule says, or
 * undefined: arithmetic evaluation (`let`, a subscript in a name a builtin assigns: `printf -v
 * 'a[$(reboot)]'`, `read 'a[…]'`, `test -v 'a[…]'`), code the engine cannot see (a shell or an
 * interpreter reading stdin, xargs handing its input to a wrapper, find -exec {}), and builtins
 * that change how later commands are read or found (alias definitions, shopt/set options,
 * enable, upper-case variables).
 */
export function evaluationProblem(argv: readonly string[], at: number): string | undefined {
  const name = commandName(argv[at] as string);
  const args = argv.slice(at + 1);
  const subscript = (a: string) => a.includes('[');
  if (name === 'let') return 'let, which evaluates arithmetic';
  if (name === 'fc') return 'fc, which runs commands from the history or an editor';
  const stdin = `${name} reading its code from standard input, which the engine cannot see`;
  if (SHELL_DIALECTS.get(name) || (CODE_FLAGS.get(name)?.includes('-c') === true && /sh$/.test(name))) {
    const call = shellCall(argv, at);
    if (call.c && call.operand === undefined) return `${name} -c without its code (it would come from elsewhere)`;
    if (call.s || call.operand === undefined || (!call.c && isStdinPath(argv[call.operand] as string))) return stdin;
  }
  if (INTERPRETERS.has(name) || PROGRAM_OPERAND.get(name)) {
    if (args.some(isStdinPath)) return stdin;
    const code = (CODE_FLAGS.get(name) ?? []).some((f) => args.some((a) => isFlag(a, f)));
    if (INTERPRETERS.has(name) && !code && !(args.length > 0 && args.every((a) => INFO_OPTIONS.has(a))) && !hasProgramOperand(name, args))
      return stdin;
  }
  if ((name === 'xargs' || name === 'parallel') && args.some((a) => WRAPPER_COMMANDS.has(commandName(a)))) {
    return `${name} running a command that runs others: its input would become that command`;
  }
  if (name === 'find') {
    const slot = args.findIndex((a, i) => i > 0 && /^-(exec|execdir|ok|okdir)$/.test(args[i - 1] as string) && a.includes('{}'));
    if (slot !== -1) return 'find -exec running a found file as the command';
  }
  if (name === 'shopt' && args.some((a) => /^-[A-Za-z]*[suo]/.test(a)))
    return 'shopt changing an option, which changes how later commands are read';
  if (name === 'set' && args.some((a) => /^[-+][^-]/.test(a))) return 'set changing an option, which changes how later commands are read';
  if (name === 'enable' && args.length > 0) return 'enable loading or switching builtins';
  if (NAME_TAKING.has(name)) {
    const reserved = args.find((a) => RESERVED_NAME.test(a.split('=')[0] as string));
    if (reserved !== undefined)
      return `${name} assigning ${reserved.split('=')[0]}, a variable of the shell or the environment (upper case), which changes how later commands run`;
  }
  // dash (and bash with expand_aliases) expands aliases while reading later lines: the engine
  // would judge `ls x` where the shell runs what the alias says.
  if (name === 'alias' && args.some((a) => a.includes('='))) return 'an alias definition, which changes how later commands are read';
  if (NAME_TAKING.has(name) && args.some(subscript)) return `${name} with an array subscript, which bash evaluates as arithmetic`;
  if (name === 'printf') {
    // bash takes the last -v of several; every one is checked.
    for (const target of printfTargets(args)) {
      if (subscript(target)) return 'printf -v with an array subscript, which bash evaluates as arithmetic';
      if (RESERVED_NAME.test(target))
        return `printf -v assigning ${target}, a variable of the shell or the environment (upper case), which changes how later commands run`;
    }
  }
  if (
    (name === 'test' || name === '[') &&
    args.some((a) => a === '-v' || a === '-R') &&
    args.slice(0, name === '[' ? -1 : undefined).some(subscript)
  ) {
    return `${name} -v with an array subscript, which bash evaluates as arithmetic`;
  }
  return undefined;
}
