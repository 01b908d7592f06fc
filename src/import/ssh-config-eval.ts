/**
 * What ssh would use for one host name (`ssh -G NAME`, for the settings the import reads): every
 * setting whose conditions hold for the name, in file order, the first value obtained winning —
 * except IdentityFile and CertificateFile, which accumulate.
 */
import { globMatch, hasWildcard } from '../glob.js';
import type { Condition, Setting, SshConfig } from './ssh-config-file.js';

/** The settings ssh would apply to one name: the first of each keyword, and every IdentityFile. */
export interface Resolved {
  /** The name as given (matched case-sensitively, as ssh does). */
  name: string;
  /** keyword → the first setting that gave it. */
  first: Map<string, Setting>;
  identityFiles: Setting[];
  /** Whether a `Host` line naming the name itself (no wildcard) applied: the name is a host of the file. */
  named: boolean;
}

/** Whether ssh's `Host` line matches `name`: some pattern matches and no negated one does. */
export function hostLineMatches(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

function holds(c: Condition, name: string): boolean {
  return c.kind === 'host' ? hostLineMatches(c.patterns, name) : c.all;
}

/** Settings that accumulate rather than keep their first value. */
const CUMULATIVE = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward', 'sendenv']);
/** ProxyJump and ProxyCommand compete: whichever comes first is the one ssh uses. */
const PROXY = new Set(['proxyjump', 'proxycommand']);

/**
 * An index over the settings, so that resolving many names does not read every block for each:
 * a block whose condition names only literal hosts is looked at for those names alone.
 */
export class SshConfigIndex {
  private readonly blocks: { conditions: readonly Condition[]; settings: Setting[]; never: boolean }[] = [];
  private readonly wild: number[] = [];
  private readonly byName = new Map<string, number[]>();
  /** literal name → the Host lines that name it. */
  private readonly lines = new Map<string, SshConfig['hostLines']>();

  constructor(readonly config: SshConfig) {
    for (const line of config.hostLines) {
      for (const p of new Set(line.condition.patterns)) {
        const list = this.lines.get(p);
        if (list) list.push(line);
        else this.lines.set(p, [line]);
      }
    }
    for (const s of config.settings) {
      const last = this.blocks.at(-1);
      if (last && last.conditions === s.conditions) last.settings.push(s);
      else this.blocks.push({ conditions: s.conditions, settings: [s], never: s.conditions.some((c) => c.kind === 'match' && !c.all) });
    }
    this.blocks.forEach((b, i) => {
      if (b.never) return;
      const literal = b.conditions.find(
        (c): c is Condition & { kind: 'host' } => c.kind === 'host' && c.patterns.every((p) => !p.startsWith('!') && !hasWildcard(p)),
      );
      if (!literal) return void this.wild.push(i);
      for (const name of new Set(literal.patterns)) {
        const list = this.byName.get(name);
        if (list) list.push(i);
        else this.byName.set(name, [i]);
      }
    });
  }

  resolve(name: string): Resolved {
    const first = new Map<string, Setting>();
    const identityFiles: Setting[] = [];
    const mine = this.byName.get(name) ?? [];
    let named = false;
    for (const i of mergeSorted(this.wild, mine)) {
      const block = this.blocks[i] as (typeof this.blocks)[number];
      if (!block.conditions.every((c) => holds(c, name))) continue;
      for (const s of block.settings) {
        if (s.keyword === 'identityfile') identityFiles.push(s);
        else if (PROXY.has(s.keyword)) {
          if (!first.has('proxy')) first.set('proxy', s);
        } else if (CUMULATIVE.has(s.keyword)) {
          if (!first.has(s.keyword)) first.set(s.keyword, s);
        } else if (!first.has(s.keyword)) first.set(s.keyword, s);
      }
    }
    // A Host line naming the name, with every condition around it holding: blocks with no
    // settings count, since `Host web1` alone still declares web1.
    for (const { condition, outer } of this.linesNaming(name)) {
      if ([...outer, condition].every((c) => holds(c, name))) {
        named = true;
        break;
      }
    }
    return { name, first, identityFiles, named };
  }

  /** The Host lines that name `name` literally. */
  linesNaming(name: string): SshConfig['hostLines'] {
    return this.lines.get(name) ?? [];
  }

  /** Host lines with a wildcard or a negation that hold for none of `names`: defaults that reach no imported host. */
  unusedWildcardLines(names: readonly string[]): Condition[] {
    const unused: Condition[] = [];
    for (const { condition, outer } of this.config.hostLines) {
      if (!condition.patterns.some((p) => hasWildcard(p) || p.startsWith('!'))) continue;
      if (!names.some((name) => [...outer, condition].every((c) => holds(c, name)))) unused.push(condition);
    }
    return unused;
  }
}

function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x < y)) out.push(a[i++] as number);
    else if (x === y) {
      out.push(x);
      i++;
      j++;
    } else out.push(b[j++] as number);
  }
  return out;
}

/** The values the tokens of ssh_config(5) TOKENS stand for, where the import knows them. */
export interface TokenValues {
  /** %h: the remote host name (HostName, or the name given). */
  h: string;
  /** %n: the name given. */
  n: string;
  /** %p: the port. */
  p: string;
  /** %r: the remote user. */
  r: string;
  /** %u: the local user. */
  u: string;
  /** %d: the local home directory. */
  d: string;
  /** %i: the local user id. */
  i: string;
  /** %k: HostKeyAlias, or the host name. */
  k: string;
}

/**
 * `text` with `%x` tokens and `${VAR}` expanded, or the reason it cannot be: a token the import
 * cannot know here (%C, %l, %L, %j, %T), an unknown one, or an environment variable not set.
 */
export function expandTokens(
  text: string,
  values: Partial<TokenValues>,
  env: Readonly<Record<string, string | undefined>>,
): { value: string } | { error: string } {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '%') {
      const t = text[i + 1];
      if (t === undefined) return { error: 'a lone "%" at the end' };
      i++;
      if (t === '%') out += '%';
      else if (t in values && values[t as keyof TokenValues] !== undefined) out += values[t as keyof TokenValues] as string;
      else
        return { error: `the token %${t} ${'CjlLT'.includes(t) ? 'depends on the connection ssh makes' : 'is not one the import knows'}` };
    } else if (c === '$' && text[i + 1] === '{') {
      const close = text.indexOf('}', i);
      if (close === -1) return { error: 'an unclosed "${"' };
      const name = text.slice(i + 2, close);
      const value = env[name];
      if (value === undefined) return { error: `the environment variable ${name} is not set` };
      out += value;
      i = close;
    } else out += c;
  }
  return { value: out };
}
