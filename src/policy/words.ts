/**
 * Quote removal for one shell word, done strictly: the word must be plain literal text, single
 * quotes, double quotes without expansions, or backslash escapes. Anything else is refused, so a
 * word the grammar misread can never pass as a harmless literal.
 */
export type DecodedWord =
  /** `globs`: the positions in `value` of wildcard characters the shell would expand. */
  { ok: true; value: string; unquotedGlob: boolean; globs: number[] } | { ok: false; reason: string };

const UNQUOTED_FORBIDDEN = new Set(['$', '`', '(', ')', ';', '&', '|', '<', '>', ' ', '\t', '\n', '\r', '{', '}']);
const GLOB_CHARS = new Set(['*', '?', '[']);
const DQ_ESCAPABLE = new Set(['$', '`', '"', '\\', '\n']);

export function decodeWord(source: string): DecodedWord {
  // `{}` is literal in every shell (find -exec uses it); any other brace may be brace expansion.
  if (source === '{}') return { ok: true, value: '{}', unquotedGlob: false, globs: [] };
  let value = '';
  let unquotedGlob = false;
  const globs: number[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (ch === '\\') {
      const next = source[i + 1];
      if (next === undefined) return { ok: false, reason: 'a trailing backslash' };
      if (next !== '\n') value += next;
      i += 2;
    } else if (ch === "'") {
      const end = source.indexOf("'", i + 1);
      if (end === -1) return { ok: false, reason: 'an unbalanced single quote' };
      value += source.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      i++;
      for (;;) {
        const c = source[i];
        if (c === undefined) return { ok: false, reason: 'an unbalanced double quote' };
        if (c === '"') break;
        if (c === '$' || c === '`') return { ok: false, reason: `"${c}" inside double quotes` };
        if (c === '\\' && source[i + 1] !== undefined && DQ_ESCAPABLE.has(source[i + 1] as string)) {
          if (source[i + 1] !== '\n') value += source[i + 1];
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++;
    } else if (UNQUOTED_FORBIDDEN.has(ch)) {
      return { ok: false, reason: `an unquoted "${ch === '\n' ? '\\n' : ch}"` };
    } else {
      if (GLOB_CHARS.has(ch)) {
        unquotedGlob = true;
        globs.push(value.length);
      }
      value += ch;
      i++;
    }
  }
  return { ok: true, value, unquotedGlob, globs };
}

/** Stand-ins for the shell's wildcards in a word's wild form: any run of characters, and one. */
export const WILD_ANY = '\uE000';
export const WILD_ONE = '\uE001';
/** The value of an expansion or substitution: any text at all, "/" and spaces included. */
export const WILD_ALL = '\uE002';
/** Any of the three stand-ins: a text holding one may stand for names no rule sees literally. */
export const WILD_MARK = /[\uE000-\uE002]/;

/**
 * The word as the set of names the shell may expand it to: its unquoted `*` becomes WILD_ANY, and
 * its unquoted `?` and `[…]` become WILD_ONE; everything else stands for itself.
 */
export function wildForm(value: string, globs: readonly number[]): string {
  const at = new Set(globs);
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (!at.has(i)) out += ch;
    else if (ch === '*') out += WILD_ANY;
    else if (ch === '?') out += WILD_ONE;
    else {
      // A bracket expression is one character; without its closing bracket it is a literal "[".
      const close = bracketEnd(value, i);
      if (close === -1) out += ch;
      else {
        out += WILD_ONE;
        i = close;
      }
    }
  }
  return out;
}

/**
 * The index of the "]" that closes the POSIX bracket expression opened at `open`, or -1: a
 * leading "!" or "^" negates, a "]" right after the opening (or the negation) is a member, and
 * "[:class:]", "[=c=]" and "[.c.]" are members whose own "]" does not close the expression.
 */
export function bracketEnd(value: string, open: number): number {
  let j = open + 1;
  if (value[j] === '!' || value[j] === '^') j++;
  if (value[j] === ']') j++;
  while (j < value.length) {
    const ch = value[j];
    if (ch === ']') return j;
    if (ch === '[' && (value[j + 1] === ':' || value[j + 1] === '=' || value[j + 1] === '.')) {
      const end = value.indexOf(`${value[j + 1]}]`, j + 2);
      if (end !== -1) {
        j = end + 2;
        continue;
      }
    }
    j++;
  }
  return -1;
}

const SAFE_UNQUOTED = /^[A-Za-z0-9_@%+=:,./~^*?[\]#!-]+$/;

/**
 * The one way sshgate writes a word back: bare when it needs no quoting, else in single quotes.
 * `re''boot`, `\reboot` and `"reboot"` all read as `reboot`, so a rule sees what will run.
 */
export function quoteWord(value: string): string {
  if (value === '') return "''";
  if (SAFE_UNQUOTED.test(value) && !value.startsWith('#')) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
