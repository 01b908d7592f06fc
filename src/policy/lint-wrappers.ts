/**
 * Allow and ask patterns that let a wrapper run anything: a wildcard where the command a wrapper
 * runs is named (`timeout *`, `sudo -u postgres *`), or where the code a program runs is given
 * (`python3 -c *`). The engine makes a rule name a wrapper literally, but the words after it are
 * the rule's to name: a `*` there allows every command no deny rule names, run by the wrapper.
 */
import type { PolicyRule } from '../config/load-policy.js';
import { hasWildcard } from '../glob.js';
import { CODE_FLAGS, WRAPPER_COMMANDS } from './builtin.js';
import type { LintFinding } from './lint-finding.js';
import { commandName, isFlag } from './programs.js';

/**
 * Options of common wrappers that take the next word as their value (`sudo -u postgres`,
 * `timeout -s KILL`): that word is not the command the wrapper runs. A wrapper not listed here is
 * read as if its options took no value, so its first plain word is taken for the command.
 */
const VALUE_OPTIONS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  [
    'sudo',
    ['-u', '-g', '-U', '-C', '-D', '-h', '-p', '-r', '-t', '-T', '--user', '--group', '--other-user', '--chdir', '--host', '--prompt'],
  ],
  ['doas', ['-u', '-C']],
  ['su', ['-s', '-g', '-G', '-w', '--shell', '--group', '--supp-group']],
  ['runuser', ['-u', '-g', '-G', '-s', '-w', '--user', '--group', '--supp-group', '--shell']],
  ['timeout', ['-s', '-k', '--signal', '--kill-after']],
  ['nice', ['-n', '--adjustment']],
  ['ionice', ['-c', '-n', '-p', '--class', '--classdata', '--pid']],
  ['watch', ['-n', '--interval']],
  ['env', ['-u', '-C', '--unset', '--chdir']],
  ['xargs', ['-a', '-d', '-E', '-I', '-L', '-n', '-P', '-s', '--arg-file', '--delimiter', '--max-args', '--max-procs', '--replace']],
  ['flock', ['-w', '-E', '--timeout', '--conflict-exit-code']],
  ['stdbuf', ['-i', '-o', '-e', '--input', '--output', '--error']],
  ['time', ['-f', '-o', '--format', '--output']],
  ['strace', ['-e', '-o', '-p', '-s', '-u', '-E']],
  ['prlimit', ['-p', '--pid']],
  ['chrt', ['-p', '--pid']],
]);
/** Wrappers whose first plain words are not the command: a root (chroot), a lock (flock), a user (su). */
const OPERANDS_FIRST: ReadonlyMap<string, number> = new Map([
  ['chroot', 1],
  ['flock', 1],
  ['su', 1],
  ['runuser', 1],
  ['chrt', 1],
  ['taskset', 1],
  ['sg', 1],
  ['nsenter', 0],
]);
/** A duration or a number (`5`, `2.5s`, `0x3`): a wrapper's argument, never a command. */
const NUMBER = /^(\d+(\.\d+)?[smhd]?|0x[0-9a-f]+)$/i;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

interface Walk {
  /** Indices of the words that name a command: the first, and each command a wrapper runs. */
  commands: number[];
  /** A wildcard word where a wrapper's command is named: the wrapper's index and the word's. */
  wild?: { wrapper: number; at: number };
}

/**
 * The command words of a pattern, following wrappers (`nice timeout 5 ls *`: nice, timeout, ls),
 * and the first wildcard that stands before the command of a wrapper is named.
 */
export function walkWrappers(words: readonly string[]): Walk {
  const commands: number[] = [];
  let at = 0;
  for (;;) {
    const word = words[at];
    if (word === undefined || hasWildcard(word)) return { commands };
    commands.push(at);
    const name = commandName(word);
    if (!WRAPPER_COMMANDS.has(name)) return { commands };
    const valued = VALUE_OPTIONS.get(name) ?? [];
    let operands = OPERANDS_FIRST.get(name) ?? 0;
    let value = false;
    let k = at + 1;
    for (; k < words.length; k++) {
      const w = words[k] as string;
      // `*` crosses words: anywhere before the command is named, it may stand for the command.
      if (hasWildcard(w)) return { commands, wild: { wrapper: at, at: k } };
      if (value) value = false;
      else if (w.startsWith('-') && w.length > 1) value = valued.includes(w);
      else if (!NUMBER.test(w) && !ASSIGNMENT.test(w)) {
        if (operands === 0) break;
        operands--;
      }
    }
    if (k >= words.length) return { commands };
    at = k;
  }
}

/** The finding for one allow or ask pattern, if it lets a wrapper run anything. */
export function wrapperFinding(rule: PolicyRule, pattern: string): LintFinding | undefined {
  const words = pattern.split(' ');
  const walk = walkWrappers(words);
  const kind = `${rule.action} pattern "${pattern}" of rule "${rule.name}"`;
  // Code first: `sudo -s *` is code given to sudo more than a command it runs.
  for (const c of walk.commands) {
    const name = commandName(words[c] as string);
    const flags = CODE_FLAGS.get(name) ?? [];
    const end = walk.commands.find((n) => n > c) ?? words.length;
    for (let j = c + 1; j < end; j++) {
      const flag = words[j] as string;
      const code = words[j + 1];
      if (hasWildcard(flag) || code === undefined || !hasWildcard(code)) continue;
      const which = flags.find((f) => isFlag(flag, f));
      if (which === undefined) continue;
      return {
        code: 'code-wildcard',
        source: rule.source,
        message: `${kind}: the code ${name} runs with ${flag} is "${code}", so it allows any ${name} code`,
        hint: `name the code literally (${name} ${flag} '…'), or run a reviewed script by its path instead of code on the command line`,
      };
    }
  }
  if (walk.wild) {
    const wrapper = words[walk.wild.wrapper] as string;
    const word = words[walk.wild.at] as string;
    const before = words.slice(0, walk.wild.at).join(' ');
    return {
      code: 'wrapper-wildcard',
      source: rule.source,
      message: `${kind}: "${word}" stands where the command ${wrapper} runs is named, so it allows ${wrapper} to run any command no deny rule names`,
      hint: `name the command after ${wrapper} literally ("${before} systemctl status *"), or allow that command without ${wrapper}`,
    };
  }
  return undefined;
}
