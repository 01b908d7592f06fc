/**
 * A deny pattern as the texts it must catch. Reviewers write deny rules the way a command is
 * usually spelled; programs accept other spellings of the same thing, so each deny pattern is
 * widened once, when the policy loads:
 * - a long option also denies every GNU abbreviation of it: `--host*` denies `--h`, `--ho`,
 *   `--hos` (alone, with `=…`, or followed by a value), since getopt_long accepts any unambiguous
 *   prefix (all prefixes are denied: an ambiguous one is refused by the program anyway);
 * - ` * ` between two words also matches a single space, so `systemctl * -H*` denies
 *   `systemctl -H host status`, where nothing stands between the two, and a trailing ` *`
 *   also matches nothing, so `touch *` denies `xargs touch`.
 * Short-option bundles (`-qH`) are handled on the command's side (decide.ts).
 */
const LONG_OPTION = /^--([A-Za-z0-9][A-Za-z0-9-]*)(.*)$/;
/** More variants than this from one pattern means a pattern nobody wrote by hand. */
const MAX_VARIANTS = 4096;

export function denyPatternVariants(pattern: string): string[] {
  const out = new Set<string>([pattern]);
  for (const p of [...out]) for (const v of abbreviations(p)) out.add(v);
  for (const p of [...out]) for (const v of emptyStars(p)) out.add(v);
  if (out.size <= MAX_VARIANTS) return [...out];
  // Too many spellings to list: deny more instead, with every long option as any long option.
  const coarse = pattern
    .split(' ')
    .map((w) => (LONG_OPTION.test(w) ? '--*' : w))
    .join(' ');
  return [pattern, coarse, ...emptyStars(coarse)];
}

/**
 * Every long option word of the pattern in every spelling getopt_long accepts: each prefix of its
 * name (the full name included), alone, with `=value`, or followed by a value word. `--host=*`
 * thus also denies `--host evil`, and `--directory *` also `--directory=/x`.
 */
function abbreviations(pattern: string): string[] {
  const words = pattern.split(' ');
  const out: string[] = [];
  words.forEach((word, i) => {
    const m = LONG_OPTION.exec(word);
    if (!m) return;
    const name = m[1] as string;
    const rest = words.slice(i + 1);
    const before = words.slice(0, i);
    for (let k = 1; k <= name.length; k++) {
      const prefix = `--${name.slice(0, k)}`;
      out.push([...before, prefix, ...rest].join(' '));
      out.push([...before, `${prefix}=*`, ...rest].join(' '));
      out.push([...before, prefix, '*', ...rest].join(' '));
    }
  });
  return out;
}

/** The pattern with one or more of its ` * ` reduced to ` `, in every combination (up to six gaps). */
function emptyStars(pattern: string): string[] {
  // A trailing ` *` also matches nothing: `touch *` denies a bare `touch` (xargs touch).
  if (pattern.endsWith(' *')) return [pattern.slice(0, -2), ...emptyStars(pattern.slice(0, -2)), ...emptyStarsInside(pattern)];
  return emptyStarsInside(pattern);
}

function emptyStarsInside(pattern: string): string[] {
  const parts = pattern.split(' * ');
  const gaps = parts.length - 1;
  if (gaps === 0) return [];
  // Past six gaps, ` *` standing for ` * ` covers every combination at once (and a little more).
  if (gaps > 6) return [parts.join(' *')];
  const out: string[] = [];
  for (let mask = 1; mask < 1 << gaps; mask++) {
    let s = parts[0] as string;
    for (let g = 0; g < gaps; g++) s += (mask & (1 << g) ? ' ' : ' * ') + parts[g + 1];
    out.push(s);
  }
  return out;
}

/** One widened spelling of a deny pattern, with the literal text every match starts with. */
export interface DenyVariant<T> {
  owner: T;
  text: string;
  head: string;
  /** The longest literal run of the pattern: a text that lacks it cannot match (a fast first test). */
  needle: string;
}

/**
 * Deny variants by the first word they can match, so a command is tried against the patterns
 * that name its program (and those that start with a wildcard), not against every pattern.
 */
export class DenyIndex<T> {
  private readonly byWord = new Map<string, DenyVariant<T>[]>();
  /** Variants whose literal head ends inside the first word (`reboot*`) or is empty (a leading wildcard). */
  private readonly loose: DenyVariant<T>[] = [];
  private readonly all: DenyVariant<T>[] = [];

  add(owner: T, pattern: string): void {
    for (const text of denyPatternVariants(pattern)) {
      const head = literalHead(text);
      const needle = text.split(/[*?]/).reduce((a, b) => (b.length > a.length ? b : a), '');
      const v = { owner, text, head, needle };
      this.all.push(v);
      const space = head.indexOf(' ');
      if (space === -1) this.loose.push(v);
      else {
        const word = head.slice(0, space);
        const list = this.byWord.get(word);
        if (list) list.push(v);
        else this.byWord.set(word, [v]);
      }
    }
  }

  get size(): number {
    return this.all.length;
  }

  /** The variants a text starting with `firstWord` may match; every variant when that word is unknown (wildcards). */
  *for(firstWord: string | undefined): Iterable<DenyVariant<T>> {
    if (firstWord === undefined) return yield* this.all;
    yield* this.byWord.get(firstWord) ?? [];
    yield* this.loose;
  }
}

/** The literal text before a pattern's first wildcard: a text can match only if it starts so. */
export function literalHead(pattern: string): string {
  const i = pattern.search(/[*?]/);
  return i === -1 ? pattern : pattern.slice(0, i);
}
