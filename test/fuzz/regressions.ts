/**
 * The regression table, test/unit/policy/regressions.jsonl: every line that ever got past the
 * engine and ran the payload, one JSON object a line. `must-deny` lines fail the suite when the
 * engine allows them; `known-open` lines are holes not fixed yet, reported but not failed. A fix
 * moves its lines from the second status to the first (`npm run fuzz -- --promote`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decideFor, SHELLS, type FuzzPolicy, type Shell } from './engine.js';
import type { Hit } from './fuzz.js';

export type Status = 'must-deny' | 'known-open';

export interface Regression {
  line: string;
  /** The shells under which it ran the payload; the engine must deny it as a host of each. */
  shells: Shell[];
  /** The fuzz policy (test/fuzz/policies/NAME.yml) that allowed it. */
  policy: string;
  class: string;
  /** `seed S index I` of the fuzz run that found it, or where else it came from. */
  found: string;
  status: Status;
  note?: string;
}

/** The table, also when run from dist-fuzz/. */
export function tablePath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes(join('dist-fuzz', 'test', 'fuzz')) ? join(here, '..', '..', '..') : join(here, '..', '..');
  return join(root, 'test', 'unit', 'policy', 'regressions.jsonl');
}

export function readTable(path = tablePath()): Regression[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Regression);
}

/** Sorted by status, class and line, so a diff of the table shows what a run or a fix changed. */
export function writeTable(entries: Regression[], path = tablePath()): void {
  const order = (e: Regression) => `${e.status === 'must-deny' ? 0 : 1}\0${e.class}\0${e.line}`;
  const sorted = [...entries].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  writeFileSync(path, sorted.map((e) => `${JSON.stringify(e)}\n`).join(''));
}

/** Adds the hits not yet in the table as known-open; returns how many lines were new. */
export function record(hits: readonly Hit[], path = tablePath()): number {
  const table = readTable(path);
  const byKey = new Map(table.map((e) => [`${e.policy}\0${e.line}`, e]));
  let added = 0;
  for (const h of hits) {
    const policy = h.policies[0] as string;
    const key = `${policy}\0${h.line}`;
    const known = byKey.get(key);
    if (known) {
      if (!known.shells.includes(h.shell)) known.shells = SHELLS.filter((s) => s === h.shell || known.shells.includes(s));
      continue;
    }
    const entry: Regression = {
      line: h.line,
      shells: [h.shell],
      policy,
      class: h.class,
      found: `seed ${h.seed} index ${h.index}`,
      status: 'known-open',
    };
    byKey.set(key, entry);
    table.push(entry);
    added++;
  }
  writeTable(table, path);
  return added;
}

/** The shells under which the engine still allows the line. */
export function allowedUnder(entry: Regression, policies: readonly FuzzPolicy[]): Shell[] {
  const policy = policies.find((p) => p.name === entry.policy);
  if (!policy) throw new Error(`regression names the policy "${entry.policy}", which is not in test/fuzz/policies/`);
  return entry.shells.filter((s) => decideFor(policy, s, entry.line).allowed);
}

/** Moves every known-open line the engine now denies under all its shells to must-deny. */
export function promote(policies: readonly FuzzPolicy[], path = tablePath()): { promoted: number; open: number } {
  const table = readTable(path);
  let promoted = 0;
  let open = 0;
  for (const e of table) {
    if (e.status !== 'known-open') continue;
    if (allowedUnder(e, policies).length === 0) {
      e.status = 'must-deny';
      promoted++;
    } else open++;
  }
  writeTable(table, path);
  return { promoted, open };
}
