/**
 * What an import could not map, what it left out on purpose and what it decided, for the person
 * who reviews the inventory it wrote. Nothing here holds a secret: a finding names a file, a line,
 * a keyword or a variable, never a value that could be one.
 */

/**
 * `unmapped`: something the source says that the inventory does not (a host, a hop, a setting
 * that changes where or as whom ssh connects); the import exits 1 when there is one.
 * `ignored`: a setting sshgate decides its own way (keepalives, agent forwarding, algorithms).
 * `note`: a choice the import made and says so (an alias renamed, ssh's default user written).
 */
export type FindingKind = 'unmapped' | 'ignored' | 'note';

export interface Finding {
  kind: FindingKind;
  /** `~/.ssh/config:12`, or `host "web1"`; empty when the finding is about the whole import. */
  where: string;
  message: string;
}

export class Findings {
  readonly list: Finding[] = [];
  private readonly seen = new Set<string>();

  unmapped(where: string, message: string): void {
    this.add({ kind: 'unmapped', where, message });
  }

  ignored(where: string, message: string): void {
    this.add({ kind: 'ignored', where, message });
  }

  note(where: string, message: string): void {
    this.add({ kind: 'note', where, message });
  }

  /** The same finding once: a default block read for every host would say it once per host. */
  private add(f: Finding): void {
    const key = `${f.kind}\u0000${f.where}\u0000${f.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(f);
  }

  /** Takes `other`'s findings as its own (each once). */
  absorb(other: Findings): void {
    for (const f of other.list) this.add(f);
  }

  count(kind: FindingKind): number {
    return this.list.filter((f) => f.kind === kind).length;
  }
}

/** A value from the source quoted in a finding: JSON-quoted, control characters escaped, clipped. */
export function quoted(s: string): string {
  const clipped = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return JSON.stringify(clipped).replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`);
}
