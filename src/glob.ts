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
