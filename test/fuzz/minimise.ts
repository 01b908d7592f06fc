/**
 * Shrinks a hit to a line a person can read: drops tokens, then single characters, as long as the
 * engine still allows the line, running it still creates a file or leaks the secret, and it stays
 * in the same class.
 */
import { classify } from './classify.js';
import { decideFor, type FuzzPolicy, type Shell } from './engine.js';
import type { Hit } from './fuzz.js';
import type { Executor, Pool } from './sandbox.js';

export interface MinimalHit {
  line: string;
  original: string;
  shell: Shell;
  policy: string;
  seed: number;
  index: number;
  class: string;
}

export interface MinimiseDeps {
  pool: Pool;
  executor: Executor;
  policies: readonly FuzzPolicy[];
}

/** Words, blank runs and newlines, and every other character alone. */
function tokens(line: string): string[] {
  return line.match(/[A-Za-z0-9_]+|[ \t]+|\n|./gsu) ?? [];
}

/** The smallest line, by removing pieces, for which `still` holds; `still(line)` must hold. */
export async function minimise(line: string, still: (candidate: string) => Promise<boolean>, maxChecks = 600): Promise<string> {
  const cache = new Map<string, boolean>();
  let checks = 0;
  const ok = async (candidate: string): Promise<boolean> => {
    if (candidate.trim() === '') return false;
    let v = cache.get(candidate);
    if (v === undefined) {
      if (checks++ >= maxChecks) return false;
      v = await still(candidate);
      cache.set(candidate, v);
    }
    return v;
  };
  let best = line;
  for (const split of [tokens, (s: string) => [...s]]) {
    let parts = split(best);
    for (let size = Math.max(1, 2 ** Math.floor(Math.log2(parts.length / 2 || 1))); size >= 1; size = Math.floor(size / 2)) {
      let i = 0;
      while (i < parts.length) {
        const candidate = [...parts.slice(0, i), ...parts.slice(i + size)];
        if (await ok(candidate.join(''))) parts = candidate;
        else i += size;
      }
    }
    best = parts.join('');
  }
  // Empty quotes (a character at a time cannot drop them), then one blank where there were several.
  const emptyQuotes = /''|""/g;
  for (let found = emptyQuotes.exec(best); found; found = emptyQuotes.exec(best)) {
    const candidate = best.slice(0, found.index) + best.slice(found.index + 2);
    if (await ok(candidate)) best = candidate;
    emptyQuotes.lastIndex = found.index + (best === candidate ? 0 : 1);
  }
  const squeezed = best.replace(/[ \t]+/g, ' ');
  if (squeezed !== best && (await ok(squeezed))) best = squeezed;
  return best;
}

/** Minimises up to `perClass` hits of each class (shortest first) to distinct minimal lines. */
export async function minimiseHits(hits: readonly Hit[], perClass: number, deps: MinimiseDeps): Promise<MinimalHit[]> {
  const byClass = new Map<string, Hit[]>();
  for (const h of hits) byClass.set(h.class, [...(byClass.get(h.class) ?? []), h]);
  const results = await Promise.all(
    [...byClass.entries()].map(async ([cls, list]) => {
      const found = new Map<string, MinimalHit>();
      const tried = new Set<string>();
      for (const h of [...list].sort((a, b) => a.line.length - b.line.length)) {
        if (found.size >= perClass || tried.size >= perClass * 3) break;
        if (tried.has(`${h.shell}\0${h.line}`)) continue;
        tried.add(`${h.shell}\0${h.line}`);
        const policy = deps.policies.find((p) => p.name === h.policies[0]);
        if (!policy) continue;
        const line = await minimise(h.line, (c) => stillHits(c, h.shell, policy, cls, deps));
        found.set(`${h.shell}\0${line}`, {
          line,
          original: h.line,
          shell: h.shell,
          policy: policy.name,
          seed: h.seed,
          index: h.index,
          class: cls,
        });
      }
      return [...found.values()];
    }),
  );
  return results.flat();
}

export async function stillHits(line: string, shell: Shell, policy: FuzzPolicy, cls: string, deps: MinimiseDeps): Promise<boolean> {
  const allowed = (l: string) => decideFor(policy, shell, l).allowed;
  if (!allowed(line) || classify(line, shell, allowed) !== cls) return false;
  const result = await deps.pool.run(deps.executor.argv(shell, line));
  return result.created.length > 0 || result.leaked;
}
