/**
 * The second reading of a command: where the pinned shell puts the boundaries of words,
 * operators, comments and heredocs, written from POSIX's "Token Recognition" (XCU 2.3) and bash's
 * additions, independently of tree-sitter. parse.ts reads the command with the grammar for its
 * structure and compares both readings token by token; where they differ, or where this lexer
 * meets something it does not model, the command is denied. The lexer never guesses: anything
 * outside the small language it knows is an error with the offset where it stopped.
 */

/** The interpreter a host pins: bash, or the POSIX sh of `/bin/sh` (dash on Debian). */
export type Dialect = 'bash' | 'sh';

/**
 * One token with its place in the command. `word` is an argument, a command name or an
 * assignment; `target` the word after a redirection operator (a heredoc's delimiter too); `fd` the
 * digits before a redirection operator; `redirect` and `control` operators carry their text.
 */
export interface Token {
  kind: 'word' | 'target' | 'fd' | 'redirect' | 'control' | 'comment' | 'heredoc_end';
  start: number;
  end: number;
  op?: string;
}

export type Lexed =
  /** `commands`: the tokens of each simple command, nested ones included; `others`: the rest. */
  { ok: true; commands: Token[][]; others: Token[]; parts: number } | { ok: false; at: number; reason: string };

class Unmodeled extends Error {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const CONTROL_OPS: Record<Dialect, string[]> = {
  // Longest first: the lexer takes the longest operator that matches (XCU 2.3 rule 2).
  bash: [';;&', ';;', ';&', '&&', '||', '|&', ';', '&', '|', '(', ')'],
  sh: [';;', '&&', '||', ';', '&', '|', '(', ')'],
};
const REDIRECT_OPS: Record<Dialect, string[]> = {
  bash: ['&>>', '<<<', '<<-', '&>', '<<', '<&', '<>', '>>', '>&', '>|', '<', '>'],
  sh: ['<<-', '<<', '<&', '<>', '>>', '>&', '>|', '<', '>'],
};
const OPERATOR_START = new Set([';', '&', '|', '<', '>', '(', ')']);
const BLANK = new Set([' ', '\t']);
const SPECIAL_PARAMETERS = new Set(['@', '*', '#', '?', '-', '$', '!']);
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
/** `${…}` forms the engine models: a name, optionally its length, or one operator and plain text. */
const BRACED_PARAMETER = /^#?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(?:(?::?[-=?+]|##?|%%?)[^'"\\$`{}<>()|;&]*)?$/;

/** Words that open or close compound commands when they come first: never allowed, so not modelled. */
const RESERVED_WORDS = new Set([
  '!',
  '{',
  '}',
  '[[',
  ']]',
  'case',
  'do',
  'done',
  'elif',
  'else',
  'esac',
  'fi',
  'for',
  'function',
  'if',
  'in',
  'select',
  'then',
  'until',
  'while',
]);

interface PendingHeredoc {
  delimiter: string;
  stripTabs: boolean;
}

export function lex(source: string, dialect: Dialect): Lexed {
  const lexer = new Lexer(source, dialect);
  try {
    lexer.list(0, source.length, false);
    if (lexer.pending.length > 0) throw new Unmodeled(source.length, 'a heredoc without its end line');
    return { ok: true, commands: lexer.commands, others: lexer.others, parts: lexer.parts };
  } catch (err) {
    if (err instanceof Unmodeled) return { ok: false, at: err.at, reason: err.reason };
    if (err instanceof RangeError) return { ok: false, at: 0, reason: 'the command nests too deeply' };
    throw err;
  }
}

class Lexer {
  readonly commands: Token[][] = [];
  readonly others: Token[] = [];
  pending: PendingHeredoc[] = [];
  /** Quoted strings and expansions inside words: the grammar makes a node of each. */
  parts = 0;

  constructor(
    private readonly text: string,
    private readonly dialect: Dialect,
  ) {}

  /**
   * Reads a list of commands from `i` up to `end`, or, when `nested`, up to the `)` that closes a
   * `$(`; returns the index after the list (after that `)`).
   */
  list(i: number, end: number, nested: boolean): number {
    let command: Token[] = [];
    /** Set after a redirection operator: the next word is its target. */
    let wantTarget: { heredoc?: boolean; stripTabs?: boolean } | undefined;
    const flush = () => {
      if (wantTarget) throw new Unmodeled(i, 'a redirection without a target');
      if (command.length > 0) this.commands.push(command);
      command = [];
    };
    while (i < end) {
      const ch = this.text[i] as string;
      if (BLANK.has(ch)) {
        i++;
      } else if (ch === '\n') {
        flush();
        i = this.heredocBodies(i + 1, end);
      } else if (ch === '#') {
        // At the start of a token, `#` begins a comment that runs to the end of the line.
        const nl = this.text.indexOf('\n', i);
        const stop = nl === -1 || nl > end ? end : nl;
        this.others.push({ kind: 'comment', start: i, end: stop });
        i = stop;
      } else if (OPERATOR_START.has(ch) && !this.startsProcessSubstitution(i)) {
        const redirect = REDIRECT_OPS[this.dialect].find((op) => this.text.startsWith(op, i));
        const control = CONTROL_OPS[this.dialect].find((op) => this.text.startsWith(op, i));
        const op = redirect && (!control || redirect.length >= control.length) ? redirect : (control as string);
        if (op === redirect) {
          if (wantTarget) throw new Unmodeled(i, `a redirection operator "${op}" where its target should be`);
          command.push({ kind: 'redirect', op, start: i, end: i + op.length });
          wantTarget = op === '<<' || op === '<<-' ? { heredoc: true, stripTabs: op === '<<-' } : {};
          i += op.length;
          continue;
        }
        if (op === ')' && nested) {
          flush();
          return i + 1;
        }
        // Subshells and case statements are never allowed; the grammar's error recovery on
        // long runs of them is slow, so they are refused here, before it reads them.
        if (op === '(' || op === ')')
          throw new Unmodeled(i, op === '(' ? 'a subshell or a "(" inside a command' : 'a ")" that closes nothing the engine models');
        if (op.startsWith(';;') || op === ';&') throw new Unmodeled(i, `the case terminator "${op}"`);
        flush();
        this.others.push({ kind: 'control', op, start: i, end: i + op.length });
        i += op.length;
      } else {
        const start = i;
        i = this.word(i, end);
        const next = this.text[i];
        if (!wantTarget && (next === '<' || next === '>') && /^[0-9]+$/.test(this.text.slice(start, i))) {
          // Digits right before a redirection operator name the file descriptor (IO_NUMBER).
          command.push({ kind: 'fd', start, end: i });
        } else if (!wantTarget && (next === '<' || next === '>') && /^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(this.text.slice(start, i))) {
          throw new Unmodeled(start, 'a redirection to a named file descriptor ({var}>)');
        } else if (wantTarget) {
          command.push({ kind: 'target', start, end: i });
          if (wantTarget.heredoc)
            this.pending.push({ delimiter: this.heredocDelimiter(start, i), stripTabs: wantTarget.stripTabs === true });
          wantTarget = undefined;
        } else {
          const text = this.text.slice(start, i);
          if (command.length === 0 && RESERVED_WORDS.has(text))
            throw new Unmodeled(start, `the reserved word "${text}" (control flow, groups and tests are never allowed)`);
          command.push({ kind: 'word', start, end: i });
        }
      }
    }
    if (nested) throw new Unmodeled(i, 'a command substitution without its closing ")"');
    flush();
    return i;
  }

  /** bash reads `<(` and `>(` as the start of a process substitution, also inside a word. */
  private startsProcessSubstitution(i: number): boolean {
    return this.dialect === 'bash' && (this.text[i] === '<' || this.text[i] === '>') && this.text[i + 1] === '(';
  }

  /** Reads one word from `i`; returns the index after it. */
  private word(i: number, end: number): number {
    while (i < end) {
      const ch = this.text[i] as string;
      if (BLANK.has(ch) || ch === '\n') return i;
      if (OPERATOR_START.has(ch) && !this.startsProcessSubstitution(i)) return i;
      if (ch === '\\') {
        if (i + 1 >= end) throw new Unmodeled(i, 'a backslash at the end of the command');
        i += 2;
      } else if (ch === "'") {
        this.parts++;
        const close = this.text.indexOf("'", i + 1);
        if (close === -1 || close >= end) throw new Unmodeled(i, 'an unbalanced single quote');
        i = close + 1;
      } else if (ch === '"') {
        this.parts++;
        i = this.doubleQuoted(i + 1, end);
      } else if (ch === '$') {
        this.parts++;
        i = this.dollar(i, end, false);
      } else if (ch === '`') {
        i = this.backquoted(i, end);
      } else if (ch === '<' || ch === '>') {
        // A process substitution: its inside is a list of commands, up to the matching ")".
        i = this.list(i + 2, end, true);
      } else {
        i++;
      }
    }
    return i;
  }

  /** From just after an opening `"`; returns the index after the closing one. */
  private doubleQuoted(i: number, end: number): number {
    while (i < end) {
      const ch = this.text[i] as string;
      if (ch === '"') return i + 1;
      if (ch === '\\') i += 2;
      else if (ch === '$') i = this.dollar(i, end, true);
      else if (ch === '`') i = this.backquoted(i, end);
      else i++;
    }
    throw new Unmodeled(i, 'an unbalanced double quote');
  }

  /** A `$` in a word; returns the index after the expansion (or after a literal `$`). */
  private dollar(i: number, end: number, quoted: boolean): number {
    const next = this.text[i + 1];
    if (next === '(') {
      if (this.text[i + 2] === '(') throw new Unmodeled(i, 'arithmetic expansion $((…))');
      return this.list(i + 2, end, true);
    }
    if (next === '{') {
      const close = this.text.indexOf('}', i + 2);
      if (close === -1 || close >= end) throw new Unmodeled(i, 'an unbalanced ${');
      if (!BRACED_PARAMETER.test(this.text.slice(i + 2, close)))
        throw new Unmodeled(i, 'a parameter expansion ${…} of a form the engine does not model');
      return close + 1;
    }
    if (next === '[') throw new Unmodeled(i, 'arithmetic expansion $[…]');
    if (!quoted && (next === "'" || next === '"'))
      throw new Unmodeled(i, next === "'" ? "ANSI-C quoting $'…'" : 'a translated string $"…"');
    if (next !== undefined && NAME_START.test(next)) {
      let j = i + 2;
      while (j < end && NAME_CHAR.test(this.text[j] as string)) j++;
      return j;
    }
    if (next !== undefined && (/[0-9]/.test(next) || SPECIAL_PARAMETERS.has(next))) return i + 2;
    return i + 1;
  }

  /** A backquoted substitution from its opening backquote; returns the index after the closing one. */
  private backquoted(i: number, end: number): number {
    const close = this.text.indexOf('`', i + 1);
    if (close === -1 || close >= end) throw new Unmodeled(i, 'an unbalanced backquote');
    // Inside backquotes a backslash changes what the inner shell reads; the engine does not model it.
    const backslash = this.text.indexOf('\\', i + 1);
    if (backslash !== -1 && backslash < close) throw new Unmodeled(backslash, 'a backslash inside backquotes (write $(…) instead)');
    const waiting = this.pending.length;
    this.list(i + 1, close, false);
    if (this.pending.length !== waiting) throw new Unmodeled(i, 'a heredoc inside backquotes');
    return close + 1;
  }

  /** The delimiter of a heredoc as the shell compares lines with it: the word after quote removal. */
  private heredocDelimiter(start: number, end: number): string {
    const raw = this.text.slice(start, end);
    if (/[$`]/.test(raw)) throw new Unmodeled(start, 'a heredoc delimiter with $ or `');
    let out = '';
    for (let i = 0; i < raw.length; i++) {
      const ch = raw[i] as string;
      if (ch === '\\') out += raw[++i] ?? '';
      else if (ch !== "'" && ch !== '"') out += ch;
    }
    return out;
  }

  /** After a newline: the bodies of the heredocs begun on the line before; returns where the next line starts. */
  private heredocBodies(i: number, end: number): number {
    for (const doc of this.pending) {
      for (;;) {
        if (i >= end) throw new Unmodeled(i, `a heredoc that ends before its line "${doc.delimiter}"`);
        const nl = this.text.indexOf('\n', i);
        const lineEnd = nl === -1 || nl > end ? end : nl;
        let lineStart = i;
        if (doc.stripTabs) while (this.text[lineStart] === '\t' && lineStart < lineEnd) lineStart++;
        i = lineEnd === end ? end : lineEnd + 1;
        if (this.text.slice(lineStart, lineEnd) === doc.delimiter) {
          this.others.push({ kind: 'heredoc_end', start: lineStart, end: lineEnd });
          break;
        }
      }
    }
    this.pending = [];
    return i;
  }
}

/** One line per token, in source order: two readings agree when these are equal. */
export function signature(commands: readonly Token[][], others: readonly Token[]): string {
  const key = (t: Token) => `${t.kind}${t.op === undefined ? '' : ` ${t.op}`} ${t.start}-${t.end}`;
  const lines = commands.map((c) =>
    [...c]
      .sort((a, b) => a.start - b.start)
      .map(key)
      .join(', '),
  );
  lines.sort();
  const rest = [...others].sort((a, b) => a.start - b.start || a.end - b.end).map(key);
  return [...lines.map((l) => `command: ${l}`), ...rest].join('\n');
}
