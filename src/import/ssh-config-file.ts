/**
 * Reads an OpenSSH client configuration as ssh reads it (ssh_config(5), readconf.c): lines split
 * into a keyword and arguments with ssh's own quoting, `Host` and `Match` opening blocks, and
 * `Include` read in place, globbed, relative to ~/.ssh, recursively up to ssh's depth of 16.
 *
 * The result is flat: every setting carries the chain of conditions (the `Host` lines of the files
 * that included it, then its own) under which ssh would apply it. ssh applies a setting when every
 * condition of its chain holds: an Include inside a `Host` block applies only to that block's hosts,
 * and a `Host` line of the included file narrows it further.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { Findings, quoted } from './findings.js';

/** ssh's READCONF_MAX_DEPTH: more nested Includes and ssh refuses the configuration. */
export const MAX_INCLUDE_DEPTH = 16;
/** A file larger than this is not read: no configuration a person keeps comes near it. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** Files read in all, each Include of a file counted: a fan-out of Includes cannot multiply without bound. */
export const MAX_INCLUDED_FILES = 1000;

export interface Where {
  /** The file as shown to the user (the path given, or the path an Include names). */
  file: string;
  line: number;
}

export function whereOf(w: Where): string {
  return `${w.file}:${w.line}`;
}

/**
 * A condition a setting applies under. `host`: ssh's `Host` line; `match`: a `Match` line, which the
 * import does not evaluate (`all` excepted: it holds for every host).
 */
export type Condition =
  { kind: 'host'; patterns: string[]; where: Where } | { kind: 'match'; all: boolean; criteria: string; where: Where };

export interface Setting {
  /** Lower case, as ssh compares keywords. */
  keyword: string;
  /** The keyword as the file writes it, for messages. */
  spelled: string;
  args: string[];
  where: Where;
  /** Outermost first; empty: at the top of the main file, for every host. */
  conditions: readonly Condition[];
}

export interface SshConfig {
  settings: Setting[];
  /** Every `Host` line, with the conditions it is nested in (the Includes' enclosing blocks). */
  hostLines: { condition: Condition & { kind: 'host' }; outer: readonly Condition[] }[];
  /** Every `Match` line. */
  matchLines: (Condition & { kind: 'match' })[];
}

export interface ReadOptions {
  /** The home directory: `~` and Includes without an absolute path are relative to `<home>/.ssh`. */
  home: string;
}

/** What one read of a config and its Includes fills in and counts, passed down the Includes. */
interface Reading {
  config: SshConfig;
  options: ReadOptions;
  findings: Findings;
  state: { files: number; capped: boolean };
}

/** Reads `path` and everything it includes; every problem goes to `findings`, nothing throws. */
export function readSshConfig(path: string, display: string, options: ReadOptions, findings: Findings): SshConfig | undefined {
  const config: SshConfig = { settings: [], hostLines: [], matchLines: [] };
  const state = { files: 0, capped: false };
  const text = readConfigText(path, display, findings);
  if (text === undefined) return undefined;
  readLines(text, display, [], 0, [realOr(path)], { config, options, findings, state });
  return config;
}

function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The file's text, or undefined with the reason in `findings`: missing, too large, binary, not UTF-8. */
export function readConfigText(path: string, display: string, findings: Findings): string | undefined {
  let bytes: Buffer;
  try {
    // Non-blocking: a FIFO would otherwise wait for a writer, forever.
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) {
        findings.unmapped(display, 'not a regular file; not read');
        return undefined;
      }
      if (st.size > MAX_CONFIG_BYTES) {
        findings.unmapped(display, `${st.size} bytes, over the ${MAX_CONFIG_BYTES} bytes the import reads; not read`);
        return undefined;
      }
      const buf = Buffer.alloc(st.size + 1);
      let n = 0;
      for (let r = -1; r !== 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
      if (n > MAX_CONFIG_BYTES) {
        findings.unmapped(display, `over the ${MAX_CONFIG_BYTES} bytes the import reads; not read`);
        return undefined;
      }
      bytes = buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    findings.unmapped(display, code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? 'unknown error'})`);
    return undefined;
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    findings.unmapped(display, `binary file (NUL byte at offset ${nul}); not read`);
    return undefined;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    findings.unmapped(display, 'not valid UTF-8 text; not read');
    return undefined;
  }
}

function readLines(text: string, display: string, outer: readonly Condition[], depth: number, stack: string[], reading: Reading): void {
  const { config, findings } = reading;
  let conditions: readonly Condition[] = outer;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const where = { file: display, line: i + 1 };
    const parsed = splitLine(lines[i] as string);
    if (parsed === undefined) continue;
    if ('error' in parsed) {
      findings.unmapped(whereOf(where), `${parsed.error}; ssh refuses this line (and the whole file), the import skipped it`);
      continue;
    }
    const { keyword, spelled, args } = parsed;
    if (keyword === 'host') {
      const condition = { kind: 'host' as const, patterns: args, where };
      config.hostLines.push({ condition, outer });
      conditions = [...outer, condition];
    } else if (keyword === 'match') {
      const condition = {
        kind: 'match' as const,
        all: args.length === 1 && args[0]?.toLowerCase() === 'all',
        criteria: args.join(' '),
        where,
      };
      config.matchLines.push(condition);
      conditions = [...outer, condition];
    } else if (keyword === 'include') {
      for (const arg of args) includeOne(arg, where, conditions, depth, stack, reading);
    } else {
      config.settings.push({ keyword, spelled, args, where, conditions });
    }
  }
}

function includeOne(
  pattern: string,
  where: Where,
  conditions: readonly Condition[],
  depth: number,
  stack: string[],
  reading: Reading,
): void {
  const { options, findings, state } = reading;
  const at = whereOf(where);
  if (/%|\$\{/.test(pattern)) {
    findings.unmapped(at, `Include ${quoted(pattern)}: tokens and environment variables in an Include are not expanded; not read`);
    return;
  }
  let full: string;
  if (pattern === '~' || pattern.startsWith('~/')) full = join(options.home, pattern.slice(1));
  else if (pattern.startsWith('~')) {
    findings.unmapped(at, `Include ${quoted(pattern)}: another user's home (~user) is not looked up; not read`);
    return;
  } else full = isAbsolute(pattern) ? pattern : join(options.home, '.ssh', pattern);
  if (depth + 1 > MAX_INCLUDE_DEPTH) {
    findings.unmapped(
      at,
      `Include ${quoted(pattern)}: more than ${MAX_INCLUDE_DEPTH} nested Includes (ssh refuses the configuration); not read`,
    );
    return;
  }
  const files = expandGlob(full);
  if (files.length === 0) {
    findings.note(at, `Include ${quoted(pattern)} names no file (ssh skips it too)`);
    return;
  }
  for (const file of files) {
    const real = realOr(file);
    if (stack.includes(real)) {
      findings.unmapped(at, `Include loop: ${[...stack, real].join(' → ')}; the repeated file was not read again`);
      continue;
    }
    if (state.files >= MAX_INCLUDED_FILES) {
      if (!state.capped) findings.unmapped(at, `more than ${MAX_INCLUDED_FILES} files included in all; the rest were not read`);
      state.capped = true;
      return;
    }
    state.files++;
    const text = readConfigText(file, file, findings);
    if (text === undefined) continue;
    readLines(text, file, conditions, depth + 1, [...stack, real], reading);
  }
}

/**
 * One configuration line as ssh's process_config_line splits it: the keyword (lower-cased, ended by
 * whitespace or one `=`), then the arguments as argv_split reads them. undefined: a blank line or a
 * comment.
 */
export function splitLine(raw: string): { keyword: string; spelled: string; args: string[] } | { error: string } | undefined {
  // Trailing whitespace goes, \r of a CRLF file and a form feed included; leading whitespace too.
  const line = raw.replace(/[ \t\r\n\f]+$/, '').replace(/^[ \t\r\n]+/, '');
  if (line === '' || line.startsWith('#')) return undefined;
  const m = /^([^ \t\r\n=]*)[ \t\r\n]*(=?)[ \t\r\n]*/.exec(line) as RegExpExecArray;
  const spelled = m[1] as string;
  if (spelled === '') return { error: 'a line with no keyword' };
  const rest = line.slice(m[0].length);
  if (rest === '') return { error: `no argument after keyword ${quoted(spelled)}` };
  const args = argvSplit(rest);
  if (args === undefined) return { error: 'an unterminated quote' };
  if (args.length === 0) return { error: `no argument after keyword ${quoted(spelled)}` };
  return { keyword: spelled.toLowerCase(), spelled, args };
}

/**
 * OpenSSH's argv_split with terminate_on_comment: words split at unquoted spaces and tabs, single
 * and double quotes group (and are removed), a backslash escapes a quote, a backslash, or (outside
 * quotes) a space, and stays as it is before anything else; a `#` starting a word ends the line.
 * undefined: a quote left open.
 */
export function argvSplit(s: string): string[] | undefined {
  const args: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') break;
    let arg = '';
    let quote = '';
    for (; i < s.length; i++) {
      const ch = s[i] as string;
      const next = s[i + 1];
      if (ch === '\\') {
        if (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          arg += next;
          i++;
        } else arg += ch;
      } else if (quote === '' && (ch === ' ' || ch === '\t')) break;
      else if (quote === '' && (ch === '"' || ch === "'")) quote = ch;
      else if (quote !== '' && ch === quote) quote = '';
      else arg += ch;
    }
    if (quote !== '') return undefined;
    args.push(arg);
  }
  return args;
}

/**
 * The files a glob(7) pattern names, in lexical order, as ssh's Include expands them: `*`, `?` and
 * `[…]` within one path component; a wildcard does not match a leading dot.
 */
export function expandGlob(pattern: string): string[] {
  const parts = pattern.split('/');
  let found = [parts[0] === '' ? '/' : (parts[0] as string)];
  for (const part of parts.slice(1)) {
    if (part === '') continue;
    const next: string[] = [];
    for (const dir of found) {
      if (!/[*?[]/.test(part)) {
        next.push(join(dir, part));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) if (!name.startsWith('.') && componentMatch(part, name)) next.push(join(dir, name));
    }
    found = next;
  }
  return found
    .filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    })
    .sort();
}

type GlobToken = { any: true } | { one: true } | { set: (c: string) => boolean } | { char: string };

function globTokens(pattern: string): GlobToken[] {
  const tokens: GlobToken[] = [];
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '*') tokens.push({ any: true });
    else if (c === '?') tokens.push({ one: true });
    else if (c === '[') {
      const close = chars.indexOf(']', i + 2);
      if (close === -1) {
        tokens.push({ char: c });
        continue;
      }
      let body = chars.slice(i + 1, close);
      const negate = body[0] === '!' || body[0] === '^';
      if (negate) body = body.slice(1);
      const ranges: [string, string][] = [];
      for (let k = 0; k < body.length; k++) {
        const from = body[k] as string;
        if (body[k + 1] === '-' && k + 2 < body.length) {
          ranges.push([from, body[k + 2] as string]);
          k += 2;
        } else ranges.push([from, from]);
      }
      tokens.push({ set: (x) => ranges.some(([a, b]) => x >= a && x <= b) !== negate });
      i = close;
    } else if (c === '\\' && i + 1 < chars.length) tokens.push({ char: chars[++i] as string });
    else tokens.push({ char: c });
  }
  return tokens;
}

/** One path component against one glob component: the linear backtracking wildcard match. */
function componentMatch(pattern: string, name: string): boolean {
  const p = globTokens(pattern);
  const t = Array.from(name);
  let pi = 0;
  let ti = 0;
  let star = -1;
  let resume = 0;
  const fits = (tok: GlobToken | undefined, c: string) =>
    tok !== undefined && ('one' in tok || ('set' in tok && tok.set(c)) || ('char' in tok && tok.char === c));
  while (ti < t.length) {
    if (pi < p.length && fits(p[pi], t[ti] as string)) {
      pi++;
      ti++;
    } else if (pi < p.length && 'any' in (p[pi] as GlobToken)) {
      star = pi++;
      resume = ti;
    } else if (star !== -1) {
      pi = star + 1;
      ti = ++resume;
    } else return false;
  }
  while (pi < p.length && 'any' in (p[pi] as GlobToken)) pi++;
  return pi === p.length;
}
