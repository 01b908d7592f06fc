/**
 * Every line that ever got past the policy engine and ran a payload (test/unit/policy/
 * regressions.jsonl, written by the differential fuzzer and by hand). A MUST_DENY line the engine
 * allows fails the suite. KNOWN_OPEN lines are holes not fixed yet: they are decided and reported
 * by class, never failed; once a fix makes the engine deny them, `npm run fuzz -- --promote` moves
 * them to must-deny, where they stay.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicyPaths, loadFuzzPolicy, type FuzzPolicy } from '../../fuzz/engine.js';
import { allowedUnder, readTable, type Regression } from '../../fuzz/regressions.js';

const TABLE = readTable();
const MUST_DENY = TABLE.filter((e) => e.status === 'must-deny');
const KNOWN_OPEN = TABLE.filter((e) => e.status === 'known-open');

function byClass(entries: Regression[]): Map<string, Regression[]> {
  const out = new Map<string, Regression[]>();
  for (const e of entries) out.set(e.class, [...(out.get(e.class) ?? []), e]);
  return out;
}

const show = (e: Regression, shells: string[]) =>
  `  ${shells.join('+').padEnd(7)} ${e.policy.padEnd(5)} ${JSON.stringify(e.line)}  (${e.found})`;

let policies: FuzzPolicy[];
beforeAll(async () => {
  policies = await Promise.all(defaultPolicyPaths().map(loadFuzzPolicy));
});

describe('lines that once ran a payload are denied for bash and sh hosts', () => {
  it('has a table to read', () => {
    expect(TABLE.length).toBeGreaterThan(0);
  });

  for (const [cls, entries] of byClass(MUST_DENY)) {
    it(`denies every ${cls} line (${entries.length})`, () => {
      const allowed = entries.map((e) => ({ e, shells: allowedUnder(e, policies) })).filter((x) => x.shells.length > 0);
      expect(allowed.length, `allowed again:\n${allowed.map((x) => show(x.e, x.shells)).join('\n')}\n`).toBe(0);
    });
  }
});

describe('known-open lines (reported, not failed)', () => {
  it(`decides all ${KNOWN_OPEN.length} and reports which the engine still allows`, () => {
    const rows: string[] = [];
    let fixed = 0;
    for (const [cls, entries] of byClass(KNOWN_OPEN)) {
      const open = entries.filter((e) => allowedUnder(e, policies).length > 0);
      fixed += entries.length - open.length;
      rows.push(
        `  ${cls.padEnd(26)} ${String(open.length).padStart(5)} still allowed, ${String(entries.length - open.length).padStart(5)} now denied`,
      );
    }
    const hint = fixed > 0 ? `\n${fixed} known-open lines are denied now: npm run fuzz -- --promote moves them to must-deny.` : '';
    console.log(`known-open regressions by class:\n${rows.join('\n')}${hint}`);
    expect(KNOWN_OPEN.every((e) => e.status === 'known-open')).toBe(true);
  });
});
