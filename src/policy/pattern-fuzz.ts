/**
 * Commands around a policy pattern, for `policy diff` to judge beyond the pattern's own samples:
 * random texts the pattern matches, many of them also matched by another pattern of either policy
 * version (so they sit where two rules meet: an allow pattern and the deny pattern that was meant
 * to carve into it), their wildcards filled with the words of the policies' own patterns and with
 * the hostile vocabulary the differential fuzzer uses (shell-vocabulary.ts). Deterministic: the
 * same pattern, partners, seed and count give the same commands on every machine.
 */
import { Rng } from './rng.js';
import { EXPANSIONS, REDIR_OPS, SEPARATORS, SHELL_C, spell, WRAPPERS, type Weighted } from './shell-vocabulary.js';

/** Arguments that change what a command does: the options deny rules are usually written against. */
const OPTIONS: readonly string[] = [
  '-r',
  '-R',
  '-rf',
  '--recursive',
  '-c',
  '-e',
  '-x',
  '-o',
  '-f',
  '-H',
  '-M',
  '-D',
  '-p',
  '-exec',
  '-delete',
  '--output=x',
  '--host=x',
  '--file=x',
  '--exec=x',
  '--',
];
/** Paths a policy usually means to keep unread or unwritten, and ways to walk to them. */
const PATHS: readonly string[] = [
  '/etc/shadow',
  '/etc/passwd',
  '/etc/sudoers',
  '/root/.ssh/id_ed25519',
  '~/.bash_history',
  '../../etc/shadow',
  '/var/log/../../etc/shadow',
  '/etc//./shadow',
  '/tmp/x',
  '/',
  '.',
];
const GLOBS: readonly string[] = ['*', '?', '[a]', '/etc/sha*', '/e?c/*'];
const NUMBERS: readonly string[] = ['0', '1', '5', '60', '-1'];
/** What a `?` becomes: one character, sometimes one that means something to an option or a path. */
const CHARS: readonly string[] = ['x', 'a', '1', '-', '/', '.'];
/** The longest command generated; a longer one is dropped (a pattern that long is rare). */
const MAX_LENGTH = 512;

/**
 * The words a filled wildcard is made of: every word of `patterns` and every run of a word
 * between wildcards (`--vacuum*` gives `--vacuum`), in a stable order.
 */
export function patternWords(patterns: Iterable<string>): string[] {
  const words = new Set<string>();
  for (const p of patterns) {
    for (const word of p.split(' ')) {
      for (const run of word.split(/[*?]/)) if (run.length >= 2) words.add(run);
    }
  }
  return [...words].sort();
}

/** One filling of a wildcard: a fragment of a command, usually led by a space. */
function filler(r: Rng, words: readonly string[]): string {
  const word = () => (words.length > 0 ? r.pick(words) : 'x');
  const kinds: Weighted<() => string> = [
    [8, word],
    [3, () => `${word()} ${word()}`],
    [3, () => r.pick(OPTIONS)],
    [2, () => r.pick(PATHS)],
    [1, () => `${r.pick(OPTIONS)} ${r.pick(PATHS)}`],
    [1, () => `${r.weighted(SEPARATORS)}${word()}`],
    [1, () => r.pick(EXPANSIONS)],
    [1, () => `${r.pick(REDIR_OPS)} /tmp/x`],
    [1, () => `${r.pick(WRAPPERS)} ${word()}`],
    [0.5, () => `${r.pick(SHELL_C)} ${spell(r, word())}`],
    [1, () => spell(r, word())],
    // Rare: a shell wildcard is checked against every deny pattern it could expand to, at a cost.
    [0.25, () => r.pick(GLOBS)],
    [1, () => r.pick(NUMBERS)],
    [1, () => ''],
  ];
  const text = r.weighted(kinds)();
  return text === '' || r.chance(0.3) ? text : ` ${text}`;
}

/** A step through both patterns: where it leads, and the character of each it consumes. */
type Move = [i: number, j: number, a: string | undefined, b: string | undefined];

/**
 * How to make random texts both `p` and `q` match (`q` = ['*']: any text `p` matches), or
 * undefined when none exists. Where both stand at a `*`, a filler goes in; elsewhere the
 * patterns' own characters, a `?` as a random one. Whether the rest of both can still meet is
 * worked out backwards first, so the walk forward never takes a step that leads nowhere.
 */
function meeting(p: readonly string[], q: readonly string[]): ((r: Rng, fill: () => string) => string) | undefined {
  const n = p.length;
  const m = q.length;
  const w = m + 1;
  const moves = (i: number, j: number): Move[] => {
    const out: Move[] = [];
    const a = p[i];
    const b = q[j];
    if (a === '*') out.push([i + 1, j, undefined, undefined]);
    if (b === '*') out.push([i, j + 1, undefined, undefined]);
    if (a === '*' && b !== undefined && b !== '*') out.push([i, j + 1, undefined, b]);
    if (b === '*' && a !== undefined && a !== '*') out.push([i + 1, j, a, undefined]);
    if (a !== undefined && b !== undefined && a !== '*' && b !== '*' && (a === b || a === '?' || b === '?')) out.push([i + 1, j + 1, a, b]);
    return out;
  };
  // The same steps as moves(), without building them: this runs for every pair of patterns.
  const can = new Uint8Array((n + 2) * w + 1);
  can[n * w + m] = 1;
  for (let i = n; i >= 0; i--) {
    for (let j = m; j >= 0; j--) {
      const a = p[i];
      const b = q[j];
      const at = i * w + j;
      if (
        (a === '*' && (can[at + w] === 1 || (b !== undefined && can[at + 1] === 1))) ||
        (b === '*' && (can[at + 1] === 1 || (a !== undefined && can[at + w] === 1))) ||
        (a !== undefined && b !== undefined && a !== '*' && b !== '*' && (a === b || a === '?' || b === '?') && can[at + w + 1] === 1)
      )
        can[at] = 1;
    }
  }
  if (!can[0]) return undefined;
  return (r, fill) => {
    let out = '';
    let i = 0;
    let j = 0;
    let filled = -1;
    while (i < n || j < m) {
      if (p[i] === '*' && q[j] === '*' && filled !== i * w + j && r.chance(0.85)) {
        out += fill();
        filled = i * w + j;
        continue;
      }
      const [x, y, a, b] = r.pick(moves(i, j).filter(([x, y]) => can[x * w + y]));
      // A `?` is one character: the other pattern's, when it names one there.
      if (a !== undefined || b !== undefined) out += a !== undefined && a !== '?' ? a : b !== undefined && b !== '?' ? b : r.pick(CHARS);
      i = x;
      j = y;
    }
    return out;
  };
}

/** FNV-1a: a pattern's own stream of random numbers, whatever else is generated beside it. */
function hashOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * `count` commands around `pattern` (fewer when it has few texts, such as a pattern without
 * wildcards): half of them any text it matches, the others texts that one of `partners` (the
 * other patterns of both versions) also matches, each partner it meets in turn.
 */
export function commandsAround(
  pattern: string,
  partners: readonly string[],
  words: readonly string[],
  count: number,
  seed: number,
): string[] {
  const p = Array.from(pattern);
  const alone = meeting(p, ['*']);
  if (!alone || count <= 0) return [];
  const meets = partners.flatMap((q) => {
    const m = q === pattern ? undefined : meeting(p, Array.from(q));
    return m ? [m] : [];
  });
  const out = new Set<string>();
  const base = (Math.imul(seed, 0x9e3779b1) ^ hashOf(pattern)) | 0;
  // A pattern with few texts runs out of new ones: stop after a few tries that find none.
  for (let k = 0, misses = 0; out.size < count && misses < 4 * count; k++) {
    const r = new Rng(base, k);
    const make = meets.length > 0 && k % 2 === 1 ? (meets[((k - 1) / 2) % meets.length] as typeof alone) : alone;
    const command = make(r, () => filler(r, words))
      .replace(/ +/g, ' ')
      .trim();
    if (command === '' || command.length > MAX_LENGTH || out.has(command)) misses++;
    else out.add(command);
  }
  return [...out];
}
