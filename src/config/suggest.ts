/**
 * "Did you mean" for a name that is not there: a key a schema does not know, a tag or an alias no
 * host has, a credential or jump host the inventory lacks. The distance is leven's (Levenshtein).
 */
import leven from 'leven';

const MAX_WORD = 200;

/**
 * How far a likely typo may be from the name meant: one edit in a short name, two in a longer
 * one, three past ten characters. Further than that, a suggestion is more often wrong than right.
 */
function farthest(word: string): number {
  return word.length <= 3 ? 1 : word.length <= 10 ? 2 : 3;
}

/**
 * The candidate nearest to `word`, if it is near enough to be what was meant (a name differing
 * only in case is nearest of all); the first of equally near ones. Undefined when none is.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  // Names are at most 100 characters: a longer word was no typo of one, and costs length² to compare.
  if (word.length > MAX_WORD) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  const far = farthest(word);
  for (const c of new Set(candidates)) {
    if (c === word) continue;
    const d = c.toLowerCase() === lower ? 0 : leven(word, c, { maxDistance: far + 1 });
    if (d < bestDistance && d <= far) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** `did you mean "commands"?`, or undefined when no candidate is near `word`. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const c = closest(word, candidates);
  return c === undefined ? undefined : `did you mean "${c}"?`;
}
