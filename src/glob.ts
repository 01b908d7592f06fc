/**
 * The wildcard language of policy files (and of OpenSSH host patterns, which agree with it), kept to what mcp-ssh-orchestrator's fnmatch patterns
 * use in practice: `*` is any run of characters (empty included, `/` and spaces included), `?` is
 * exactly one character, and every other character stands for itself. No brace, bracket or
 * extglob syntax, so a pattern such as `awk '{print $1}'` means exactly what it shows.
 *
 * Path-glob libraries (picomatch, minimatch) were not used: their `*` stops at `/` and they give
 * `{a,b}` and `[…]` meanings that would silently change what a reviewed rule allows. The matcher
 * below is the linear-backtracking wildcard algorithm: O(pattern × text) in the worst case, so a
 * hostile command cannot make a reviewed pattern take exponential time, as a RegExp could.
 */
export function globMatch(pattern: string, text: string): boolean {
  const p = Array.from(pattern);
  const t = Array.from(text);
  let pi = 0;
  let ti = 0;
  let star = -1;
  let resume = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === t[ti]))) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      resume = ti;
    } else if (star !== -1) {
      pi = star + 1;
      ti = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/**
 * Whether some text matches both `pattern` (policy wildcards `*` and `?`) and `wild`, a command
 * word sequence in which WILD_ANY and WILD_ONE stand for the shell's own wildcards (which match
 * neither "/" nor, in this text, a space or a quote): a deny rule must catch `/etc/shado?` as surely as `/etc/shadow`. Dynamic
 * programming over both strings, O(pattern × text).
 */
const OUTSIDE_WILDCARDS = new Set(['/', ' ', "'"]);

/** A string's characters by code point; the string itself when indexing it gives the same. */
function codePoints(s: string): ArrayLike<string> {
  return /[\uD800-\uDFFF]/.test(s) ? Array.from(s) : s;
}

export function globsIntersect(pattern: string, wild: string, any = '\uE000', one = '\uE001', all = '\uE002'): boolean {
  const p = codePoints(pattern);
  const t = codePoints(wild);
  const n = p.length;
  const m = t.length;
  // Without a run wildcard on either side, each step reads one character of both.
  if (n !== m && !pattern.includes('*') && !wild.includes(any) && !wild.includes(all)) return false;
  const w = m + 1;
  const reach = new Uint8Array((n + 1) * w);
  reach[0] = 1;
  for (let i = 0; i <= n; i++) {
    for (let j = 0; j <= m; j++) {
      if (!reach[i * w + j]) continue;
      const pc = p[i];
      const tc = t[j];
      if (pc === '*') {
        reach[(i + 1) * w + j] = 1;
        if (j < m) reach[i * w + j + 1] = 1;
      }
      // The shell's wildcards stay within one path component (never a "/"), and a name with a
      // space or a quote in it would show quoted in the text the rules read: not those either.
      const wildCan = pc !== undefined && !OUTSIDE_WILDCARDS.has(pc);
      if (tc === any) {
        reach[i * w + j + 1] = 1;
        if (wildCan) reach[(i + 1) * w + j] = 1;
      }
      // An expansion's value: any run of characters, whatever they are.
      if (tc === all) {
        reach[i * w + j + 1] = 1;
        if (pc !== undefined) reach[(i + 1) * w + j] = 1;
      }
      if (
        pc !== undefined &&
        tc !== undefined &&
        pc !== '*' &&
        tc !== any &&
        tc !== all &&
        (pc === '?' || (tc === one && wildCan) || pc === tc)
      ) {
        reach[(i + 1) * w + j + 1] = 1;
      }
    }
  }
  return reach[n * w + m] === 1;
}

/**
 * Whether every text `inner` matches is also matched by `outer` (both policy patterns), as far as
 * reading `inner`'s wildcards as symbols shows it: `outer`'s `*` may stand for any run of
 * `inner`'s characters and wildcards, its `?` for one character or `?`, and its other characters
 * for themselves only. A true answer is always right (each text of `inner` is `inner` with its
 * wildcards filled in, and `outer` matches it the same way); false may be wrong for patterns that
 * agree only by coincidence of their wildcards (`*?` covers `?*`, but this says not). O(outer × inner).
 */
export function globCovers(outer: string, inner: string): boolean {
  const q = Array.from(outer);
  const p = Array.from(inner);
  const w = p.length + 1;
  const reach = new Uint8Array((q.length + 1) * w);
  reach[0] = 1;
  for (let i = 0; i <= q.length; i++) {
    for (let j = 0; j <= p.length; j++) {
      if (!reach[i * w + j]) continue;
      const qc = q[i];
      const pc = p[j];
      if (qc === '*') {
        reach[(i + 1) * w + j] = 1;
        if (pc !== undefined) reach[i * w + j + 1] = 1;
      } else if (qc !== undefined && pc !== undefined && pc !== '*' && (qc === '?' || (pc !== '?' && qc === pc))) {
        reach[(i + 1) * w + j + 1] = 1;
      }
    }
  }
  return reach[q.length * w + p.length] === 1;
}
